"""Each connector imports first in a fresh interpreter: the transport both clients share
(connectors/http/) must not tie the packages into an import cycle, nor import a platform."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", [
    "sms_conformance.connectors.jira",
    "sms_conformance.connectors.jira.client",
    "sms_conformance.connectors.servicenow",
    "sms_conformance.connectors.http.transport",
])
def test_a_connector_imports_on_its_own(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_the_transport_imports_no_platform() -> None:
    code = ("import sys, sms_conformance.connectors.http.transport, "
            "sms_conformance.connectors.http.errors; "
            "print(sorted(m for m in sys.modules if m.startswith('sms_conformance.connectors.') "
            "and not m.startswith('sms_conformance.connectors.http')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"
