"""Organisation settings: rule parameters (targets, matrices, phrases) and switched-off rules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from sms_conformance.connectors.registry import write_back_keys
from sms_conformance.model.errors import ConfigFileError
from sms_conformance.rules.checks import compile_pattern
from sms_conformance.support.durations import parse_duration
from sms_conformance.support.limits import Limits
from sms_conformance.support.strict_yaml import load_shipped, load_yaml, validate
from sms_conformance.writeback.plan import WriteBackSettings


def _duration(value: str | float) -> str | float:
    parse_duration(value)  # raises a ValueError saying what is wrong
    return value


def _pattern(value: str) -> str:
    compile_pattern(value)
    return value


Duration = Annotated[str | int | float, AfterValidator(_duration)]
Priority = Annotated[int, Field(ge=0, le=1000)]


def _write_back_block() -> type[WriteBackSettings]:
    """`write_back` as settings.yaml holds it: the platform-free policy, and beside it each
    platform's keys (the registry's `write_back_keys`, flat for ServiceNow as earlier versions
    read them, `jira:` for Jira). A platform's keys are checked by its own package when a run
    writes there, so loading settings imports no platform; any other key is refused here."""
    owned: dict[str, Any] = dict.fromkeys(sorted(write_back_keys()), (Any, None))
    return create_model("WriteBackBlock", __base__=WriteBackSettings, **owned)


if TYPE_CHECKING:
    WriteBackBlock = WriteBackSettings
else:
    WriteBackBlock = _write_back_block()


class Settings(BaseModel):
    """The shape of settings.yaml (after merging over the shipped defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    priority_matrix: dict[Priority, dict[Priority, Priority]]
    restore_targets: dict[Priority, Duration]
    closure_boilerplate_pattern: Annotated[str, AfterValidator(_pattern)]
    fulfilment_targets: dict[Priority, Duration]
    request_wording_pattern: Annotated[str, AfterValidator(_pattern)]
    incident_wording_pattern: Annotated[str, AfterValidator(_pattern)]
    backlog_max_age: Duration
    major_incident_by: Literal["either", "priority", "flag"] = "either"
    # Priorities an agreed SLA covers: records of them carry an SLA record (incident.sla.recorded)
    sla_priorities: Annotated[list[Priority], Field(min_length=1)] = [1, 2, 3, 4, 5]
    disabled_rules: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    instance_id: Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9._:-]*$")] = ""
    aliases: list[Annotated[str, Field(min_length=1, max_length=500)]] = []
    write_back: WriteBackBlock
    source: Limits = Limits()


def load_settings(override: Path | None = None) -> dict[str, Any]:
    """Shipped defaults with config/settings.yaml merged over them, key by key; validated."""
    doc = load_shipped("defaults/settings.yaml")
    settings: dict[str, Any] = doc.data
    if override is not None and override.exists():
        doc = load_yaml(override)
        extra = {} if doc.data is None else doc.data
        if not isinstance(extra, Mapping):
            raise ConfigFileError("expected a mapping of setting names to values", path=override,
                                  line=doc.line(()))
        settings = _merge(settings, extra)
    validate(Settings, settings, doc)
    return settings


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings merge key by key (`write_back: {max_new_tasks: 500}` keeps the rest)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
