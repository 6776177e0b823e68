"""The ServiceNow sources of the registry: a live instance, a local sandbox, export files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sms_conformance.connectors.capabilities import Reads
from sms_conformance.connectors.registry import SourceOptions
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.connectors.servicenow.file import FileConnector
from sms_conformance.connectors.servicenow.settings import connector_from_env
from sms_conformance.model.schema import PlatformMap


def servicenow_map(platform_map: PlatformMap) -> FieldMap:
    if not isinstance(platform_map, FieldMap):  # the registry pairs each source with its map
        raise TypeError(f"a ServiceNow source needs the ServiceNow field map, not {platform_map!r}")
    return platform_map


def sandbox_connector(url: str, password: str, fieldmap: FieldMap) -> ServiceNowConnector:
    """The ServiceNow connector, logged in to a sandbox as its admin user."""
    return connector_from_env(
        url, fieldmap, env={"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": password}
    )


@contextmanager
def open_instance(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    """`--source servicenow`: SERVICENOW_* variables, or a profile."""
    yield connector_from_env(options.instance, servicenow_map(platform_map),
                             profile=options.profile, limits=options.limits)


@contextmanager
def open_exports(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    """`--source file:DIR`: Table API exports on disk."""
    yield FileConnector(Path(options.argument), servicenow_map(platform_map))
