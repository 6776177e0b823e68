"""Each connector imports first in a fresh interpreter: the transport both clients share
(connectors/servicenow/http.py) must not tie the packages into an import cycle."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", [
    "sms_conformance.connectors.jira",
    "sms_conformance.connectors.jira.client",
    "sms_conformance.connectors.servicenow",
    "sms_conformance.connectors.servicenow.http",
])
def test_a_connector_imports_on_its_own(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
