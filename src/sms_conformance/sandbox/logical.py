"""One logical data set: the generated records as canonical values, whatever platform serves them.

The generator (dataset.py) builds ServiceNow rows, compact lists that keep 1,000,000 incidents in
memory; those rows stay the source of truth, so the ServiceNow sandbox serves exactly what it
always did. This module reads them through the shipped ServiceNow field map
(defaults/servicenow_fieldmap.yaml) into the logical view: per record its canonical process, id,
number, canonical field values and links to other process records, plus the planted defects by
rule id. Another platform's sandbox (sandbox/jira) renders this view, so both platforms carry
the same logical records for the same --records and --seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime, timezone

from sms_conformance.connectors.servicenow.fieldmap import (
    FieldMap,
    FieldSpec,
    ProcessMap,
    load_field_map,
)
from sms_conformance.model.records import Ref, Value
from sms_conformance.sandbox.dataset import Dataset
from sms_conformance.sandbox.schema import SCHEMAS, Row

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PROCESS_TABLES = {"incident": "incident", "problem": "problem", "change": "change_request",
                  "request": "sc_req_item"}
PROCESSES = tuple(PROCESS_TABLES)
# Canonical references between process records: links on platforms that link records (Jira
# issue links), not field values.
LINK_FIELDS = frozenset({"problem", "fixed_by_change", "caused_by_change", "parent"})
# Canonical fields the ServiceNow default map leaves unmapped (a stock instance lacks them) but
# the sandbox's rows carry: kept in the view so a site that maps them reads the same values.
EXTRA_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "incident": {"vendor_reference": FieldSpec(field="u_vendor_reference")},
    "request": {"approval_required": FieldSpec(field="u_approval_required", type="bool")},
}


@dataclass(frozen=True, slots=True)
class LogicalSla:
    """One SLA record of a process record (a task_sla row): its definition's target (response,
    resolution), name and goal, stage, whether it breached, when it started and stopped (None:
    running), and the time it counted (business elapsed: within goal unless breached)."""

    target: str
    name: str
    goal_seconds: int
    stage: str
    breached: bool
    start: datetime
    stop: datetime | None
    elapsed_seconds: int


@dataclass(frozen=True, slots=True)
class LogicalRecord:
    """One process record in canonical terms. `values` hold canonical values (references to
    users, groups, services and CIs as the target's id); `links` the ids of linked process
    records by canonical field (a planted defect may name a record that does not exist)."""

    process: str
    id: str
    number: str
    values: Mapping[str, Value]
    links: Mapping[str, str]
    slas: tuple[LogicalSla, ...] = ()

    @property
    def opened_at(self) -> datetime:
        value = self.values.get("opened_at")
        assert isinstance(value, datetime), f"{self.number} has no opening time"
        return value


@dataclass(frozen=True)
class Person:
    id: str
    login: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class ConfigurationItem:
    """A CI in canonical terms (clause 8.2.6): its status and operational status as canonical
    names, its support group's id ("" when it has none)."""

    id: str
    name: str
    status: Value
    operational_status: Value
    support_group: str


@dataclass(frozen=True)
class LogicalView:
    """The logical data set: process records (in the dataset's row order), reference data by
    id, and the planted defects by rule id -> [(process, record id)]."""

    records: dict[str, list[LogicalRecord]]
    users: dict[str, Person]
    groups: dict[str, str]
    services: dict[str, str]
    configuration_items: dict[str, str]
    planted: dict[str, list[tuple[str, str]]]
    catalog_items: dict[str, str]  # catalogue item id -> name
    cmdb: dict[str, ConfigurationItem] = default(default_factory=dict)  # by id, in row order

    def all_records(self) -> list[LogicalRecord]:
        return [r for process in PROCESSES for r in self.records[process]]


def logical_view(dataset: Dataset) -> LogicalView:
    """The logical view of a generated dataset (read through the shipped ServiceNow map)."""
    field_map = load_field_map()
    records: dict[str, list[LogicalRecord]] = {}
    by_number: dict[str, tuple[str, str]] = {}
    slas = _slas(dataset)
    for process, table in PROCESS_TABLES.items():
        pmap = field_map.for_process(process)
        rows = _records(process, table, pmap, dataset, slas)
        records[process] = rows
        by_number.update((r.number, (process, r.id)) for r in rows)
    planted: dict[str, list[tuple[str, str]]] = {}
    for number, rules in dataset.planted.items():
        for rule in rules:
            planted.setdefault(rule, []).append(by_number[number])
    for keys in planted.values():
        keys.sort()
    return LogicalView(records=records, users=_users(dataset),
                       groups=_names(dataset, "sys_user_group"),
                       services=_names(dataset, "cmdb_ci_service"),
                       configuration_items=_names(dataset, "cmdb_ci"), planted=planted,
                       catalog_items=_names(dataset, "sc_cat_item"),
                       cmdb=_cmdb(dataset, field_map))


def _records(process: str, table: str, pmap: ProcessMap, dataset: Dataset,
             slas: Mapping[str, tuple[LogicalSla, ...]]) -> list[LogicalRecord]:
    extra = EXTRA_FIELDS.get(process, {})
    specs = {**pmap.fields, **extra}
    wanted = frozenset(pmap.fields)
    platform = sorted({spec.field for spec in specs.values()} | {"sys_id", "number"})
    getters = [(name, _getter(dataset, table, name)) for name in platform]
    extra_readers = [(name, spec.field, spec.reader(lambda text: text))
                     for name, spec in extra.items()]
    out: list[LogicalRecord] = []
    for row in dataset.tables[table]:
        raw = {name: get(row) if get is not None else "" for name, get in getters}
        canonical = pmap.to_canonical(raw, wanted)
        for name, field, read in extra_readers:
            canonical[name] = read(raw[field])
        values: dict[str, Value] = {}
        links: dict[str, str] = {}
        for name, value in canonical.items():
            if isinstance(value, Ref):
                if name in LINK_FIELDS:
                    links[name] = value.id
                else:
                    values[name] = value.id
            elif name not in LINK_FIELDS:
                values[name] = value
        values.pop("number", None)
        out.append(LogicalRecord(process, raw["sys_id"], raw["number"], values, links,
                                 slas.get(raw["sys_id"], ())))
    return out


def _slas(dataset: Dataset) -> dict[str, tuple[LogicalSla, ...]]:
    """task id -> its SLA records, response first, from the task_sla and contract_sla rows."""
    rows = dataset.tables.get("task_sla", [])
    definitions = {d[0]: d for d in dataset.tables.get("contract_sla", [])}
    sla, sdef = SCHEMAS["task_sla"], SCHEMAS["contract_sla"]
    get = {name: sla.getter(name) for name in (
        "task", "sla", "stage", "has_breached", "start_time", "end_time",
        "business_percentage")}
    target, name, goal = (sdef.getter(n) for n in ("target", "name", "duration"))
    out: dict[str, list[LogicalSla]] = {}
    for row in rows:
        values = {n: g(row) for n, g in get.items() if g is not None}
        definition = definitions[values["sla"]]
        seconds = _seconds(goal(definition)) if goal else 0
        start = parse_stored(values["start_time"])
        stop = parse_stored(values["end_time"]) if values["end_time"] else None
        breached = values["has_breached"] == "true"
        elapsed = int(((stop or dataset.anchor) - start).total_seconds())
        if not breached and elapsed > seconds:  # within goal on the instance's schedule
            elapsed = round(seconds * float(values["business_percentage"]) / 100)
        out.setdefault(values["task"], []).append(LogicalSla(
            target=target(definition) if target else "", name=name(definition) if name else "",
            goal_seconds=seconds, stage=values["stage"], breached=breached, start=start,
            stop=stop, elapsed_seconds=elapsed))
    return {task: tuple(sorted(found, key=lambda s: s.target != "response"))
            for task, found in out.items()}


def _seconds(duration: str) -> int:
    """A stored duration ("1970-01-01 04:00:00": time since the epoch) in seconds."""
    return int((parse_stored(duration) - EPOCH).total_seconds())


def _getter(dataset: Dataset, table: str, name: str) -> Callable[[Row], str] | None:
    """A field of a row, dot-walked through one reference (request.requested_for)."""
    schema = SCHEMAS[table]
    head, _, tail = name.partition(".")
    if not tail:
        return schema.getter(name)
    ref, target = schema.getter(head), SCHEMAS[schema.refs[head]]
    inner = target.getter(tail)
    if ref is None or inner is None:
        return None
    sid = target.col("sys_id")
    rows = {row[sid]: row for row in dataset.tables.get(target.name, [])}
    read_ref, read_inner = ref, inner

    def walk(row: Row) -> str:
        found = rows.get(read_ref(row))
        return read_inner(found) if found is not None else ""

    return walk


def _users(dataset: Dataset) -> dict[str, Person]:
    schema = SCHEMAS["sys_user"]
    cols = [schema.col(c) for c in ("sys_id", "user_name", "name", "email")]
    return {row[cols[0]]: Person(*(row[c] for c in cols)) for row in dataset.tables["sys_user"]}


def _cmdb(dataset: Dataset, field_map: FieldMap) -> dict[str, ConfigurationItem]:
    """The CIs read through the shipped map's `referenced` entry, as their records are."""
    kmap = field_map.for_kind("configuration_item")
    assert kmap is not None, "the shipped ServiceNow map reads configuration items"
    schema = SCHEMAS[kmap.table]
    getters = [(name, schema.getter(name)) for name in
               sorted({spec.field for spec in kmap.fields.values()} | {"sys_id"})]
    read = kmap.canonical_reader()
    found: dict[str, ConfigurationItem] = {}
    for row in dataset.tables[kmap.table]:
        raw = {name: get(row) if get is not None else "" for name, get in getters}
        values = read(raw)
        group = values.get("support_group")
        found[raw["sys_id"]] = ConfigurationItem(
            raw["sys_id"], str(values.get("name") or ""), values.get("status"),
            values.get("operational_status"), group.id if isinstance(group, Ref) else "")
    return found


def _names(dataset: Dataset, table: str) -> dict[str, str]:
    schema = SCHEMAS[table]
    sid, name = schema.col("sys_id"), schema.col("name")
    return {row[sid]: row[name] for row in dataset.tables.get(table, [])}


def parse_stored(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


__all__ = ["LINK_FIELDS", "PROCESSES", "PROCESS_TABLES", "ConfigurationItem", "LogicalRecord",
           "LogicalSla", "LogicalView", "Person", "logical_view"]
