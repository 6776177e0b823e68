"""Field maps: canonical field names <-> platform fields, with types and choice values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, Strict

from sms_conformance.errors import ConfigError, ConfigFileError
from sms_conformance.records import Process, Ref, Unknown, Value, not_returned
from sms_conformance.yamlsource import load_shipped, load_yaml, validate

FieldType = Literal["str", "int", "bool", "datetime", "ref"]
IDENTITY_FIELDS = ("sys_id", "number")
# Table and field names go into API paths and queries: platform identifiers only (dot-walks too).
TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=80)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]+$", max_length=200)]
ProcessKey = Annotated[Process, Strict(False)]  # YAML gives the value, not the enum


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    field: FieldName
    type: FieldType = "str"
    table: TableName | None = None
    choices: dict[str, Annotated[str, Field(max_length=200)]] = {}

    def to_canonical(self, raw: Any) -> Value:
        """Convert one stored platform value; unparsable values stay strings (checks error)."""
        return _convert(self.converter(), raw)

    def converter(self) -> Callable[[str], Value]:
        """One function per field, chosen once: this runs for every field of every record."""
        if self.type == "ref":
            table = self.table or ""
            return lambda text: Ref(table, text)
        if self.choices:
            labels = {stored: label for label, stored in self.choices.items()}
            return lambda text: labels.get(text, text)
        if self.type == "int":
            return lambda text: int(text) if text.lstrip("-").isdigit() else text
        if self.type == "bool":
            booleans: dict[str, Value] = {"true": True, "false": False}
            return lambda text: booleans.get(text.lower(), text)
        if self.type == "datetime":
            return parse_datetime
        return str

    def to_stored(self, canonical: Any) -> str:
        """The stored platform value for a canonical one (scope pushdown)."""
        if isinstance(canonical, bool):
            return "true" if canonical else "false"
        if isinstance(canonical, datetime):
            return format_datetime(canonical)
        return self.choices.get(str(canonical), str(canonical))


class ProcessMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableName
    number_prefix: Annotated[str, Field(max_length=20)] = ""
    fields: dict[str, FieldSpec]
    # Canonical fields a stock instance does not have (an organisation adds and maps them):
    # rules reading one stay off until `fields` maps it.
    unmapped: Annotated[tuple[str, ...], Strict(False)] = ()  # YAML gives a list

    def is_unmapped(self, canonical: str) -> bool:
        return canonical in self.unmapped and canonical not in self.fields

    def spec(self, canonical: str) -> FieldSpec:
        try:
            return self.fields[canonical]
        except KeyError:
            raise ConfigError(f"{self.table}: no field map entry for {canonical!r}") from None

    def platform_fields(self, canonical: AbstractSet[str]) -> list[str]:
        """Platform fields to request for the canonical fields the rules read."""
        names = {self.fields[c].field for c in canonical if c in self.fields}
        names.update(IDENTITY_FIELDS)
        return sorted(names)

    def to_canonical(
        self, raw: Mapping[str, Any], wanted: AbstractSet[str] | None = None
    ) -> dict[str, Value]:
        """Canonical fields of one platform row (only `wanted` ones, if given)."""
        if wanted is not None and not isinstance(wanted, frozenset):
            wanted = frozenset(wanted)  # pass a frozenset: its hash is computed once
        key = (id(self), wanted)
        plan = _PLANS.get(key)
        if plan is None:
            names = self.fields if wanted is None else [n for n in wanted if n in self.fields]
            plan = [(n, spec.field, spec.converter(), not_returned(spec.field))
                    for n in names for spec in [self.fields[n]]]
            _PLANS[key] = plan
        # A field missing from the row was not returned (not exported, not on the table): it
        # is unknown, not empty.
        return {name: missing if (value := raw.get(field, _MISSING)) is _MISSING
                else _convert(convert, value) for name, field, convert, missing in plan}


# Conversion plans per (process map, wanted fields): built once, used for every record.
_PLANS: dict[tuple[int, frozenset[str] | None],
             list[tuple[str, str, Callable[[str], Value], Unknown]]] = {}
_MISSING = object()


def _convert(convert: Callable[[str], Value], raw: Any) -> Value:
    if type(raw) is dict:
        raw = raw.get("value", "")
    if raw is None or raw == "":
        return None
    return convert(raw if type(raw) is str else str(raw))


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    processes: dict[ProcessKey, ProcessMap]

    def for_process(self, process: Process | str) -> ProcessMap:
        return self.processes[Process(process)]

    def process_of_table(self, table: str) -> Process | None:
        for process, pmap in self.processes.items():
            if pmap.table == table:
                return process
        return None


def parse_datetime(text: str) -> datetime | Unknown:
    """`YYYY-MM-DD HH:MM:SS` (UTC, as the Table API stores it) or ISO 8601 -> aware datetime;
    anything else is unknown, never compared as text."""
    try:
        return datetime.fromisoformat(text + "+00:00")  # one C call: the common, fast case
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return Unknown(f"{text!r} is not a date in a known format")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class _ProcessOverride(BaseModel):
    """One process in config/fieldmap.yaml: any part of a ProcessMap; fields merge by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableName | None = None
    number_prefix: Annotated[str, Field(max_length=20)] | None = None
    fields: dict[str, FieldSpec] = {}


_Override = RootModel[dict[ProcessKey, _ProcessOverride]]
_Processes = RootModel[dict[ProcessKey, ProcessMap]]


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for process, body in override.items():
        current = dict(merged.get(process, {}))
        fields = {**current.get("fields", {}), **body.get("fields", {})}
        current.update({k: v for k, v in body.items() if k != "fields"})
        current["fields"] = fields
        merged[process] = current
    return merged


def load_field_map(override: Path | None = None, platform: str = "servicenow") -> FieldMap:
    """The shipped default for `platform`, with `override` (config/fieldmap.yaml) merged in."""
    doc = load_shipped(f"defaults/{platform}_fieldmap.yaml")
    data: dict[str, Any] = doc.data
    if override is not None and override.exists():
        doc = load_yaml(override)
        extra = {} if doc.data is None else doc.data
        if not isinstance(extra, Mapping):
            raise ConfigFileError("expected a mapping of process names to field maps",
                                  path=override, line=doc.line(()))
        validate(_Override, extra, doc)
        data = _merge(data, extra)
    return FieldMap(processes=validate(_Processes, data, doc).root)
