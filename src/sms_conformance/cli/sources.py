"""Builds the connector a command reads from: a ServiceNow instance, the sandbox, or files."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sms_conformance.connectors.base import Connector
from sms_conformance.connectors.file import FileConnector
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.errors import ConfigError
from sms_conformance.fieldmap import FieldMap
from sms_conformance.limits import Limits


def sandbox_connector(url: str, password: str, fieldmap: FieldMap) -> ServiceNowConnector:
    """The ServiceNow connector, logged in to a sandbox as its admin user."""
    from sms_conformance.connectors.servicenow.settings import connector_from_env

    return connector_from_env(
        url, fieldmap, env={"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": password}
    )


@contextmanager
def open_source(
    source: str, *, instance: str | None, fieldmap: FieldMap, records: int, seed: int,
    quiet: bool = False, profile: Mapping[str, Any] | None = None, limits: Limits | None = None,
) -> Iterator[Connector]:
    """Yields a connector; a sandbox source runs a sandbox on a free loopback port meanwhile."""
    if profile is not None:
        source = "servicenow"
    if source.startswith("file:"):
        yield FileConnector(Path(source[5:]), fieldmap)
    elif source == "servicenow":
        from sms_conformance.connectors.servicenow.settings import connector_from_env

        yield connector_from_env(instance, fieldmap, profile=profile, limits=limits)
    elif source == "sandbox":
        from sms_conformance.sandbox import Sandbox

        with Sandbox(records=records, seed=seed) as sandbox:
            if not quiet:
                click.echo(f"sandbox: {records} incidents (seed {seed}) at {sandbox.url}", err=True)
            yield sandbox_connector(sandbox.url, sandbox.password, fieldmap)
    elif source == "jira":
        raise ConfigError("--source jira: the Jira Service Management connector is not built yet")
    else:
        raise ConfigError(f"--source {source!r}: use servicenow, sandbox or file:DIR")
