"""The ServiceNow field map: canonical fields <-> Table API fields, with types and choice values.

It translates Table API rows (stored or display values) to the canonical schema
(sms_conformance.model.schema) and is the ServiceNow `PlatformMap`: which canonical fields an
instance fills. Shipped default: defaults/servicenow_fieldmap.yaml; config/fieldmap.yaml merges
over it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, Strict, model_validator

from sms_conformance.model.dates import DateReader, parse_datetime, zone
from sms_conformance.model.errors import ConfigError, ConfigFileError
from sms_conformance.model.records import NamedRef, Process, Ref, Unknown, Value, not_returned
from sms_conformance.model.schema import (
    KIND_SCHEMA,
    KINDS,
    SCHEMA,
    CanonicalField,
    FieldType,
    field_of,
    process_of_kind,
)
from sms_conformance.model.slas import DERIVED as SLA_DERIVED
from sms_conformance.model.slas import REASON as SLA_REASON
from sms_conformance.support.strict_yaml import SourceDoc, load_shipped, load_yaml, validate

__all__ = ["FieldMap", "FieldSpec", "ProcessMap", "format_datetime", "load_field_map",
           "parse_datetime"]
IDENTITY_FIELDS = ("sys_id", "number")
# Table and field names go into API paths and queries: platform identifiers only (dot-walks too).
TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=80)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]+$", max_length=200)]
ProcessKey = Annotated[Process, Strict(False)]  # YAML gives the value, not the enum
Stored = Annotated[str, Field(max_length=200)]
SYS_ID = re.compile(r"[0-9a-f]{32}")
# The table a dot-walked field is read through where no mapped field names it
# (sc_req_item.request.requested_for: the item's sc_request).
WALKED_TABLES = {("sc_req_item", "request"): "sc_request"}

Reader = Callable[[Any], Value]  # one cell of a row (text, reference object, display pair)


class FieldSpec(BaseModel):
    """One canonical field: its platform field, type, the canonical names of its stored values
    (`choices`) and the labels exports show (`labels`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    field: FieldName
    type: FieldType = "str"
    table: TableName | None = None
    # canonical value -> stored value, or a list of them (an older state model's codes too)
    choices: dict[str, Stored | list[Stored]] = {}
    # display label -> stored value, matched case-insensitively (display-value exports)
    labels: dict[str, Stored] = {}

    @model_validator(mode="after")
    def _labels_name_stored_values(self) -> FieldSpec:
        stored = {s for values in self.choices.values() for s in _listed(values)}
        for label, value in self.labels.items():
            if stored and value not in stored:
                raise ValueError(f"label {label!r} names {value!r}, which is not a stored value "
                                 f"in choices ({', '.join(sorted(stored))})")
            if self.type == "int" and not value.lstrip("-").isdigit():
                raise ValueError(f"label {label!r} names {value!r}, which is not a number")
        return self

    @property
    def is_choice(self) -> bool:
        return bool(self.choices or self.labels)

    def shows(self, text: str) -> str | None:
        """Whether `text` is one of this field's stored values ("stored"), a label ("label"),
        or neither (None): how a file's shape is told apart."""
        stored = {s for values in self.choices.values() for s in _listed(values)}
        if text in stored or text in self.labels.values():
            return "stored"
        folded = text.strip().casefold()
        return "label" if any(folded == label.strip().casefold() for label in self.labels) else None

    def reader(self, dates: Callable[[str], Value], display: bool = False, kind: str = "") -> Reader:
        """One function per field, chosen once: this runs for every field of every record.
        `display`: the row may hold display values, so a reference given as a name (not a
        sys_id) is a NamedRef, whose target cannot be looked up, and a value that is neither a
        stored value nor a label of a choice field is unknown. `kind`: the canonical kind a
        reference points at."""
        if self.type == "ref":
            return _ref_reader(kind, display)
        convert = self._converter(dates, display)

        def read(raw: Any) -> Value:
            if type(raw) is str:  # the common case first: one type test
                return convert(raw) if raw else None
            if type(raw) is dict:  # display_value=all: the stored value; =true: the label
                raw = raw.get("value", raw.get("display_value"))
            if raw is None or raw == "":
                return None
            return convert(raw if type(raw) is str else str(raw))

        def read_text(raw: Any) -> Value:  # plain text: the value itself, no conversion
            return (raw or None) if type(raw) is str else read(raw)

        return read_text if convert is str else read

    def _converter(self, dates: Callable[[str], Value], display: bool) -> Callable[[str], Value]:
        final = {"int": _integer, "bool": _boolean, "datetime": dates}.get(self.type, str)
        return self._choice_converter(final, display) if self.is_choice else final

    def _choice_converter(
        self, final: Callable[[str], Value], display: bool
    ) -> Callable[[str], Value]:
        """Stored values exactly, then labels case-insensitively. Anything else is unknown when
        rules need its canonical name (`choices`) or when it may be an unlisted label (display
        values); otherwise it is a stored value the field map does not list, kept as is."""
        canonical = {s: name for name, values in self.choices.items() for s in _listed(values)}

        def value_of(stored: str) -> Value:
            return canonical[stored] if stored in canonical else final(stored)

        exact = {stored: value_of(stored) for stored in [*canonical, *self.labels.values()]}
        by_label = {label.strip().casefold(): value_of(s) for label, s in self.labels.items()}
        unmatched: dict[str, Value] = {}
        strict, numbers, name = bool(self.choices) or display, self.type == "int", self.field

        def other(text: str) -> Value:
            if numbers and text.lstrip("-").isdigit():
                return int(text)
            if not strict:
                return final(text)
            return Unknown(f"{name} {text!r} matches no stored value or label in the field map "
                           "(add it under labels: in config/fieldmap.yaml)")

        def convert(text: str) -> Value:
            found = exact.get(text, _MISSING)
            if found is _MISSING:
                found = by_label.get(text.strip().casefold(), _MISSING)
            if found is _MISSING:
                found = unmatched.get(text, _MISSING)
            if found is _MISSING:
                found = unmatched[text] = other(text)
            return found  # type: ignore[no-any-return]

        return convert

    def stored_values(self, canonical: Any) -> list[str]:
        """The stored platform values of a canonical one (scope pushdown)."""
        if isinstance(canonical, bool):
            return ["true" if canonical else "false"]
        if isinstance(canonical, datetime):
            return [format_datetime(canonical)]
        return _listed(self.choices.get(str(canonical), str(canonical)))


def _integer(text: str) -> Value:
    return int(text) if text.lstrip("-").isdigit() else text


_BOOLEANS: dict[str, Value] = {"true": True, "false": False}


def _boolean(text: str) -> Value:
    return _BOOLEANS.get(text.lower(), text)


def _listed(values: str | list[str]) -> list[str]:
    return [values] if isinstance(values, str) else values


def _ref_reader(kind: str, display: bool) -> Reader:
    def read(raw: Any) -> Value:
        if type(raw) is dict:
            value = raw.get("value")
            if value is None:  # display_value=true: the link ends with the record's sys_id
                link = raw.get("link")
                if link:
                    return Ref(kind, str(link).split("?", 1)[0].rsplit("/", 1)[-1])
                value = raw.get("display_value")
                return NamedRef(kind, str(value)) if value else None
            raw = value
        if raw is None or raw == "":
            return None
        text = raw if type(raw) is str else str(raw)
        if display and not SYS_ID.fullmatch(text):
            return NamedRef(kind, text)
        return Ref(kind, text)

    return read


class SlaSource(BaseModel):
    """Where a process's SLA records are: rows of `table` (task_sla) whose `task` references the
    record, read through these fields. `name` dot-walks to the SLA definition (contract_sla);
    `breach_reason`: a field of the SLA record saying why it breached (none on a stock
    instance)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableName = "task_sla"
    task: FieldName = "task"
    name: FieldName = "sla.name"
    stage: FieldName = "stage"
    breached: FieldName = "has_breached"
    planned_end: FieldName = "planned_end_time"
    business_percentage: FieldName = "business_percentage"
    pause_duration: FieldName = "pause_duration"
    breach_reason: FieldName | None = None

    def platform_fields(self) -> list[str]:
        names = [self.task, self.name, self.stage, self.breached, self.planned_end,
                 self.business_percentage, self.pause_duration]
        return sorted({"sys_id", *names, *([self.breach_reason] if self.breach_reason else [])})

    def summary_fields(self) -> list[str]:
        """What the per-record summary reads (model/slas.py derived_fields): the table read asks
        for these only."""
        names = [self.task, self.name, self.stage, self.breached]
        return sorted({"sys_id", *names, *([self.breach_reason] if self.breach_reason else [])})


class ProcessMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableName
    number_prefix: Annotated[str, Field(max_length=20)] = ""
    fields: dict[str, FieldSpec]
    # Canonical fields a stock instance does not have (an organisation adds and maps them):
    # rules reading one stay off until `fields` maps it.
    unmapped: Annotated[tuple[str, ...], Strict(False)] = ()  # YAML gives a list
    # The process's SLA records (clause 8.3.3); None: the instance keeps none for it.
    slas: SlaSource | None = None
    # How dates are read (set by the FieldMap): stored values in UTC, display values in the
    # exporting user's zone; both in the field map's date_format too.
    _dates: DateReader = PrivateAttr(default_factory=DateReader)
    _display_dates: DateReader = PrivateAttr(default_factory=DateReader)
    _process: Process = PrivateAttr(default=Process.INCIDENT)  # set by the FieldMap
    # The canonical fields of a referenced kind's map (a CI's, a service's); None: a process's.
    _kind_fields: dict[str, CanonicalField] | None = PrivateAttr(default=None)
    # Conversion plans per (wanted fields, display): built once, used for every record.
    _plans: dict[tuple[frozenset[str] | None, bool], list[tuple[str, str, Reader, Unknown]]] = (
        PrivateAttr(default_factory=dict))

    @model_validator(mode="after")
    def _one_breach_reason(self) -> ProcessMap:
        if self.slas is not None and self.slas.breach_reason and SLA_REASON in self.fields:
            raise ValueError(f"{SLA_REASON}: given by both slas.breach_reason (a field of each "
                             "SLA record) and fields (a field of the record): name one")
        return self

    def is_unmapped(self, canonical: str) -> bool:
        return canonical in self.unmapped and canonical not in self.fields

    def fills(self, canonical: str) -> bool:
        """Whether this map fills `canonical`: a field entry, or the SLA records' fields."""
        if canonical in self.fields:
            return True
        if self.slas is None:
            return False
        return canonical in SLA_DERIVED or (canonical == SLA_REASON
                                            and self.slas.breach_reason is not None)

    def walked(self) -> dict[str, tuple[str, str, str]]:
        """Dot-walked platform fields (request.requested_for) -> (the reference field, the table
        it points at, the field read there), for those whose table is known: a mapped reference
        field's, else WALKED_TABLES'."""
        tables = {spec.field: spec.table for spec in self.fields.values() if spec.table}
        found = {}
        for spec in self.fields.values():
            head, dot, tail = spec.field.partition(".")
            table = tables.get(head) or WALKED_TABLES.get((self.table, head))
            if dot and table:
                found[spec.field] = (head, table, tail)
        return found

    def kind_of(self, canonical: str) -> str:
        """The canonical kind a reference field points at ("" for other fields)."""
        found = (field_of(self._process, canonical) if self._kind_fields is None
                 else self._kind_fields.get(canonical))
        return (found.target or "") if found is not None else ""

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
        self, raw: Mapping[str, Any], wanted: AbstractSet[str] | None = None,
        display: bool = False,
    ) -> dict[str, Value]:
        """Canonical fields of one platform row (only `wanted` ones, if given). `display`: the
        row may hold display values (labels, names, dates as the exporting user sees them)."""
        return self.canonical_reader(wanted, display)(raw)

    def canonical_reader(
        self, wanted: AbstractSet[str] | None = None, display: bool = False,
    ) -> Callable[[Mapping[str, Any]], dict[str, Value]]:
        """`to_canonical` for many rows: the conversion plan is looked up once, not per row (a
        pydantic private attribute costs a slow attribute look-up on every access)."""
        if wanted is not None and not isinstance(wanted, frozenset):
            wanted = frozenset(wanted)  # pass a frozenset: its hash is computed once
        key = (wanted, display)
        plan = self._plans.get(key)
        if plan is None:
            dates = self._display_dates if display else self._dates
            names = self.fields if wanted is None else [n for n in wanted if n in self.fields]
            plan = [(n, spec.field, spec.reader(dates, display, self.kind_of(n)),
                     not_returned(spec.field)) for n in names for spec in [self.fields[n]]]
            self._plans[key] = plan
        steps = tuple(plan)

        # A field missing from the row was not returned (not exported, not on the table): it
        # is unknown, not empty.
        def read(raw: Mapping[str, Any]) -> dict[str, Value]:
            return {name: missing if (value := raw.get(field, _MISSING)) is _MISSING
                    else convert(value) for name, field, convert, missing in steps}

        return read


_MISSING: Any = object()


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    processes: dict[ProcessKey, ProcessMap]
    # The tables of records process records reference and rules read (CIs, services: clause
    # 8.2.6), with the canonical fields of their kind (model.schema.KIND_SCHEMA).
    referenced: dict[str, ProcessMap] = {}
    # Display-value exports show dates in the exporting user's format and time zone.
    date_format: Annotated[str, Field(max_length=60)] | None = None  # e.g. dd/MM/yyyy HH:mm:ss
    time_zone: Annotated[str, Field(max_length=60)] | None = None  # IANA name; UTC when not given
    # Export cells meaning "no value" (the UCI event log's "?"): read as empty.
    missing_values: Annotated[tuple[Annotated[str, Field(max_length=40)], ...],
                              Strict(False), Field(max_length=20)] = ()
    # The text encoding of CSV / JSON exports; None: detected (UTF-8, UTF-16, Windows-1252).
    encoding: Annotated[str, Field(max_length=40)] | None = None

    platform: ClassVar[str] = "servicenow"
    _tables: dict[str, str] = PrivateAttr(default_factory=dict)  # canonical kind -> table

    @model_validator(mode="after")
    def _canonical(self) -> FieldMap:
        """Every entry names a canonical field of its process, with the canonical type, and
        each kind of record is one table (references are joined by kind)."""
        for process, pmap in self.processes.items():
            for name, spec in pmap.fields.items():
                canonical = SCHEMA[process].get(name)
                if canonical is None:
                    raise ValueError(
                        f"{process.value}.fields.{name}: not a canonical field of "
                        f"{process.value} (read a platform field in rules as raw.FIELD)")
                if spec.type != canonical.type:
                    raise ValueError(f"{process.value}.fields.{name}: type {spec.type}, but the "
                                     f"canonical field is {canonical.type}")
                if spec.type == "ref" and not spec.table:
                    raise ValueError(f"{process.value}.fields.{name}: a reference needs `table`")
                kind = canonical.target or ""
                if (spec.table and process_of_kind(kind) is None
                        and self._tables.setdefault(kind, spec.table) != spec.table):
                    raise ValueError(
                        f"{process.value}.fields.{name}: {kind} references point at both "
                        f"{self._tables[kind]} and {spec.table}; name one table per kind")
        for kind, kmap in self.referenced.items():
            self._check_kind(kind, kmap)
        return self

    def _check_kind(self, kind: str, kmap: ProcessMap) -> None:
        """A referenced kind's map names canonical fields of that kind, in the table that the
        processes' references to it point at."""
        schema = KIND_SCHEMA.get(kind)
        if schema is None:
            raise ValueError(f"referenced.{kind}: not a kind of referenced record "
                             f"({', '.join(KIND_SCHEMA)})")
        for name, spec in kmap.fields.items():
            canonical = schema.get(name)
            if canonical is None:
                raise ValueError(f"referenced.{kind}.fields.{name}: not a canonical field of a "
                                 f"{kind} ({', '.join(schema)})")
            if spec.type != canonical.type:
                raise ValueError(f"referenced.{kind}.fields.{name}: type {spec.type}, but the "
                                 f"canonical field is {canonical.type}")
        if self._tables.setdefault(kind, kmap.table) != kmap.table:
            raise ValueError(f"referenced.{kind}: table {kmap.table}, but references to it "
                             f"point at {self._tables[kind]}")

    @model_validator(mode="after")
    def _known_encoding(self) -> FieldMap:
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"encoding {self.encoding!r}: not a text encoding Python "
                                 "knows (e.g. utf-8, cp1252, utf-16)") from None
        return self

    def model_post_init(self, context: Any) -> None:
        stored = DateReader(self.date_format)
        shown = DateReader(self.date_format, zone(self.time_zone))
        for process, pmap in self.processes.items():
            pmap._dates, pmap._display_dates, pmap._process = stored, shown, process
            self._tables[process.value] = pmap.table
        for kind, kmap in self.referenced.items():
            kmap._dates, kmap._display_dates = stored, shown
            kmap._kind_fields = KIND_SCHEMA.get(kind)

    def for_process(self, process: Process | str) -> ProcessMap:
        return self.processes[Process(process)]

    def for_kind(self, kind: str) -> ProcessMap | None:
        """The map of a process's records or of a referenced kind's (None: neither)."""
        process = process_of_kind(kind)
        return self.processes.get(process) if process is not None else self.referenced.get(kind)

    def process_of_table(self, table: str) -> Process | None:
        for process, pmap in self.processes.items():
            if pmap.table == table:
                return process
        return None

    def table_of(self, kind: str) -> str | None:
        """The table holding records of a canonical kind (None: no field map entry names it)."""
        return self._tables.get(kind) if kind in KINDS else None

    # PlatformMap -------------------------------------------------------------------------
    def maps(self, process: Process, field: str) -> bool:
        pmap = self.processes.get(Process(process))
        return pmap is not None and pmap.fills(field)

    def where(self, process: Process) -> str:
        return self.for_process(process).table

    def processes_for_number(self, number: str) -> list[Process]:
        """Those whose number prefix starts `number`; every process when none does."""
        text = number.strip().upper()
        by_prefix = [p for p, m in self.processes.items()
                     if m.number_prefix and text.startswith(m.number_prefix.upper())]
        return by_prefix or list(self.processes)

    def off_reason(self, process: Process, fields: Sequence[str]) -> str:
        pmap = self.for_process(process)
        stock = all(pmap.is_unmapped(f) for f in fields)
        return (f"off until {', '.join(fields)} is mapped to a field of {pmap.table} in "
                "config/fieldmap.yaml" + (" (a stock instance has no such field)" if stock
                                          else " (the field map has no entry for it)"))


def format_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# Top-level keys of a field map file, not processes: how the source's files are read.
SOURCE_KEYS = ("date_format", "time_zone", "missing_values", "encoding")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override entries per process, merged into the default entry: a field entry with `field`
    reads another platform field, keeping the default's type, table, choices and labels unless
    it gives its own; labels add to the default's (`state: {labels: {...}}`), unless the entry
    gives its own choices."""
    merged = dict(base)
    for process, body in override.items():
        if process in SOURCE_KEYS or not isinstance(body, dict):
            merged[process] = body
            continue
        current = dict(merged.get(process, {}))
        fields = dict(current.get("fields", {}))
        for name, entry in (body.get("fields") or {}).items():
            old = fields.get(name)
            if isinstance(entry, dict) and isinstance(old, dict):
                # Labels add to the default's, unless the entry gives choices of its own (the
                # default's labels name the default's stored values).
                kept = {} if "choices" in entry else old.get("labels", {})
                entry = {**old, **entry, "labels": {**kept, **(entry.get("labels") or {})}}
            fields[name] = entry
        current.update({k: v for k, v in body.items() if k not in ("fields", "unmapped")})
        # `unmapped:` declares fields the instance lacks (a plugin not active): the default's
        # entries for them go, the shipped list stays
        dropped = [n for n in body.get("unmapped") or () if n not in (body.get("fields") or {})]
        current["fields"] = {n: e for n, e in fields.items() if n not in dropped}
        current["unmapped"] = [*dict.fromkeys([*current.get("unmapped", ()), *dropped])]
        merged[process] = current
    return merged


class _FieldOverride(BaseModel):
    """A field entry in config/fieldmap.yaml: with `field` it reads another platform field
    (what it does not give is the default entry's), without it it adds to it (more labels)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    field: FieldName | None = None
    type: FieldType | None = None
    table: TableName | None = None
    choices: dict[str, Stored | list[Stored]] = {}
    labels: dict[str, Stored] = {}


class _ProcessOverride(BaseModel):
    """One process in config/fieldmap.yaml: any part of a ProcessMap; fields merge by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableName | None = None
    number_prefix: Annotated[str, Field(max_length=20)] | None = None
    fields: dict[str, _FieldOverride] = {}
    unmapped: Annotated[tuple[str, ...], Strict(False)] | None = None
    slas: SlaSource | None = None  # replaces the default's; null: no SLA records are read


class _Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    incident: _ProcessOverride | None = None
    problem: _ProcessOverride | None = None
    change: _ProcessOverride | None = None
    request: _ProcessOverride | None = None
    referenced: dict[str, _ProcessOverride] | None = None
    date_format: Annotated[str, Field(max_length=60)] | None = None
    time_zone: Annotated[str, Field(max_length=60)] | None = None
    missing_values: Annotated[tuple[Annotated[str, Field(max_length=40)], ...],
                              Strict(False), Field(max_length=20)] | None = None
    encoding: Annotated[str, Field(max_length=40)] | None = None


def _check_canonical(override: Mapping[str, Any], doc: SourceDoc,
                     base: Mapping[str, Any]) -> None:
    """Each field entry of config/fieldmap.yaml names a canonical field, and an entry that
    maps a field the default does not (`field:` given) has its type: refused at the entry's
    line."""
    for process, body in override.items():
        if process in SOURCE_KEYS or not isinstance(body, Mapping):
            continue
        for name, entry in (body.get("fields") or {}).items():
            canonical = field_of(process, name)
            where = (process, "fields", name)
            if canonical is None:
                raise ConfigFileError(
                    f"not a canonical field of {process} (rules read platform fields as "
                    "raw.FIELD)", path=doc.path, line=doc.line(where),
                    key=f"{process}.fields.{name}")
            default = ((base.get(process) or {}).get("fields") or {}).get(name)
            given = entry.get("type", "str" if "field" in entry and default is None
                              else canonical.type)
            if given != canonical.type:
                raise ConfigFileError(
                    f"type {given}, but the canonical field is {canonical.type}",
                    path=doc.path, line=doc.line(where), key=f"{process}.fields.{name}")


def load_field_map(override: Path | None = None) -> FieldMap:
    """The shipped default, with `override` (config/fieldmap.yaml) merged in."""
    doc = load_shipped("defaults/servicenow_fieldmap.yaml")
    data: dict[str, Any] = dict(doc.data)
    if override is not None and override.exists():
        doc = load_yaml(override)
        extra = {} if doc.data is None else doc.data
        if not isinstance(extra, Mapping):
            raise ConfigFileError("expected a mapping of process names to field maps",
                                  path=override, line=doc.line(()))
        validate(_Override, extra, doc)
        extra = dict(extra)
        referenced = _merge(dict(data.pop("referenced", None) or {}),
                            dict(extra.pop("referenced", None) or {}))
        _check_canonical(extra, doc, data)
        data = {**_merge(data, extra), "referenced": referenced}
    source = {key: data.pop(key) for key in (*SOURCE_KEYS, "referenced") if key in data}
    return validate(FieldMap, {"processes": data, **source}, doc)
