"""The Jira field map (defaults/jira_fieldmap.yaml): canonical fields <-> Jira issue fields.

Per process: the issue types it is (names, case-insensitive), status name -> canonical
lifecycle state, and per canonical field where Jira keeps it: a system field (`field:`), a
custom field found by name through GET /rest/api/3/field (`name:`) or pinned by id (`id:`), or
an issue link of a type and direction (`link:`, `direction:`); optionally `jql:`, a restriction
ANDed onto every search for the process (jql.restriction). Custom field ids differ per site,
so a map is bound to a site's field list (`bind`) before records are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from sms_conformance.connectors.jira import jql
from sms_conformance.connectors.jira.values import Reader, reader, sla_record
from sms_conformance.model.errors import ConfigError, ConfigFileError
from sms_conformance.model.records import (
    LIFECYCLE_STATES,
    Process,
    Ref,
    Unknown,
    Value,
    not_returned,
)
from sms_conformance.model.schema import KIND_SCHEMA, field_of
from sms_conformance.model.slas import DERIVED as SLA_DERIVED
from sms_conformance.model.slas import SlaRecord, derived_fields
from sms_conformance.support.strict_yaml import load_shipped, load_yaml, validate

# sla: a JSM SLA field (Time to resolution) read as its own verdict, a bool (values.sla_verdict)
FieldType = Literal["str", "int", "bool", "datetime", "ref", "sla"]
Direction = Literal["inward", "outward"]
ProcessKey = Annotated[Process, Strict(False)]  # YAML gives the value, not the enum
Text = Annotated[str, Field(min_length=1, max_length=200)]
ProjectKey = Annotated[str, Field(pattern=jql.PROJECT_KEY.pattern, max_length=20)]
SystemField = Annotated[str, Field(pattern=r"^[a-z][A-Za-z]*$", max_length=60)]
CustomFieldId = Annotated[str, Field(pattern=r"^customfield_[0-9]+$", max_length=40)]
# Operator-written JQL that narrows a process's searches (checked: it cannot widen them).
Restriction = Annotated[str, Field(min_length=1, max_length=jql.MAX_RESTRICTION),
                        AfterValidator(jql.check_restriction)]
Canonical = Value | str

# The kind of record each canonical reference field points at (interfaces A; the core's
# canonical schema holds the same table).
REF_KINDS: dict[str, str] = {
    "reporter": "user", "assignee": "user", "assignment_group": "group", "service": "service",
    "configuration_item": "configuration_item", "problem": "problem",
    "fixed_by_change": "change", "caused_by_change": "change", "parent": "incident",
    "requester": "user", "catalog_item": "catalog_item",
}
# Always read: what tells an issue's process and its last update (incremental scans).
BASE_FIELDS = ("issuetype", "updated")
# Top-level members of an issue, not in its `fields` (number: {field: key}).
TOP_LEVEL = frozenset({"key", "id"})


class JiraFieldSpec(BaseModel):
    """Where one canonical field lives: exactly one of field, name, id, link. `name` may list
    candidates (`[Assignment group, Team]`: the first the site has is read, `also` holds the
    rest); `field: null` declares the field absent on the site (its rules are unknown)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    field: SystemField | None = None
    name: Text | None = None
    also: Annotated[tuple[Text, ...], Strict(False), Field(max_length=10)] = ()
    id: CustomFieldId | None = None
    link: Text | None = None
    direction: Direction | None = None
    type: FieldType = "str"
    # platform text -> canonical value; a text not listed reads as unknown
    values: dict[Text, str | int | bool] = {}

    @model_validator(mode="before")
    @classmethod
    def _links_are_refs(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "link" in data and "type" not in data:
            data = {**data, "type": "ref"}
        if isinstance(data, Mapping) and isinstance(data.get("name"), list) and data["name"]:
            data = {**data, "name": data["name"][0], "also": tuple(data["name"][1:])}
        return data

    @property
    def absent(self) -> bool:
        """Declared absent on the site (`field: null`)."""
        return "field" in self.model_fields_set and all(
            getattr(self, k) is None for k in ("field", "name", "id", "link"))

    @property
    def names(self) -> tuple[str, ...]:
        """The custom field names to look for, in order (none for other sources)."""
        return () if self.name is None else (self.name, *self.also)

    @model_validator(mode="after")
    def _one_source(self) -> JiraFieldSpec:
        given = [k for k in ("field", "name", "id", "link") if getattr(self, k) is not None]
        if self.also and self.name is None:
            raise ValueError("also (more candidate names) only goes with name")
        if not given and self.absent:
            return self
        if len(given) != 1:
            raise ValueError("give exactly one of field, name, id, link "
                             f"(got {', '.join(given) or 'none'})")
        if self.link is not None and (self.direction is None or self.type != "ref"):
            raise ValueError("a link needs direction (inward|outward) and type ref")
        if self.link is None and self.direction is not None:
            raise ValueError("direction only goes with link")
        return self


class JiraProcessMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    issue_types: Annotated[tuple[Text, ...], Strict(False), Field(min_length=1)]
    states: dict[Text, str]
    fields: dict[str, JiraFieldSpec] = {}
    unmapped: Annotated[tuple[str, ...], Strict(False)] = ()
    jql: Restriction | None = None
    # The JSM SLA fields (by name) whose cycles are the record's SLA records (clause 8.3.3):
    # summed up into the sla_* fields (model/slas.py). Empty: the site keeps no SLAs for it.
    slas: Annotated[tuple[Text, ...], Strict(False), Field(max_length=20)] = ()

    def is_type(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._types

    @property
    def _types(self) -> frozenset[str]:
        return _folded(self.issue_types)


@lru_cache(maxsize=64)
def _folded(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n.casefold() for n in names)


class AssetsFieldSpec(BaseModel):
    """Which attribute of an Assets object holds one canonical field of a CI (by name,
    case-insensitive); `values`: the attribute's text -> canonical value (a text not listed
    reads as unknown)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    attribute: Text
    type: Literal["str", "ref"] = "str"
    values: dict[Text, str] = {}


class AssetsKindMap(BaseModel):
    """The Assets objects of one referenced kind (configuration items): canonical field ->
    attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    fields: dict[str, AssetsFieldSpec] = {}


class JiraFieldMap(BaseModel):
    """The whole map; also what the core asks of a platform's map (canonical.PlatformMap)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    platform: ClassVar[str] = "jira"

    projects: Annotated[tuple[ProjectKey, ...], Strict(False), Field(min_length=1)]
    processes: dict[ProcessKey, JiraProcessMap]
    # Referenced records read as Assets objects where the site exposes Assets (clause 8.2.6).
    assets: dict[str, AssetsKindMap] = {}
    # How a CSV export shows dates (the file source): the site's date-time format, in Java
    # pattern letters (default dd/MMM/yy h:mm a), and the exporting user's time zone (IANA).
    date_format: Annotated[str, Field(max_length=60)] | None = None
    time_zone: Annotated[str, Field(max_length=60)] | None = None

    @model_validator(mode="after")
    def _canonical(self) -> JiraFieldMap:
        for process, pmap in self.processes.items():
            allowed = LIFECYCLE_STATES[process]
            for status, state in pmap.states.items():
                if state not in allowed:
                    raise ValueError(f"{process.value}: status {status!r} maps to {state!r}, not "
                                     f"a lifecycle state ({', '.join(allowed)})")
            for name, spec in pmap.fields.items():
                if spec.type == "ref" and name not in REF_KINDS:
                    raise ValueError(f"{process.value}.{name}: not a reference field")
                canonical = field_of(process, name)
                if spec.type == "sla" and (canonical is None or canonical.type != "bool"):
                    raise ValueError(f"{process.value}.{name}: type sla (an SLA's verdict) "
                                     "only maps a canonical yes/no field (made_sla)")
        for kind, kmap in self.assets.items():
            schema = KIND_SCHEMA.get(kind)
            if schema is None:
                raise ValueError(f"assets.{kind}: not a kind of referenced record "
                                 f"({', '.join(KIND_SCHEMA)})")
            for name, aspec in kmap.fields.items():
                if name not in schema or schema[name].type != aspec.type:
                    raise ValueError(f"assets.{kind}.fields.{name}: not a canonical "
                                     f"{aspec.type} field of a {kind} ({', '.join(schema)})")
        return self

    def maps(self, process: Process | str, field: str) -> bool:
        """Whether this map fills the canonical `field` of `process` (state always)."""
        pmap = self.processes.get(Process(process))
        return pmap is not None and (field in ("state", "number") or field in pmap.fields
                                     or (bool(pmap.slas) and field in SLA_DERIVED))

    def off_reason(self, process: Process | str, fields: Sequence[str]) -> str:
        """Why a rule reading these unmapped fields is off, and how to turn it on."""
        return (f"{', '.join(fields)} not mapped for {Process(process).value} in the Jira field "
                "map: map it (e.g. {name: <custom field name>}) in config to turn the rule on")

    def where(self, process: Process | str) -> str:
        """Where records of `process` live (incremental scans keep their watermark per this)."""
        return f"{'+'.join(self.projects)}:{Process(process).value}"

    def processes_for_number(self, number: str) -> list[Process]:
        """Every process: issue keys of all processes share their project's prefix."""
        return list(self.processes)

    def for_process(self, process: Process | str) -> JiraProcessMap:
        try:
            return self.processes[Process(process)]
        except KeyError:
            raise ConfigError(f"the Jira field map has no {Process(process).value}") from None

    def custom_names(self) -> list[tuple[Process, str, str]]:
        """(process, canonical field, custom field name) of every field found by name (its
        first candidate name)."""
        return [(process, canonical, spec.name) for process, pmap in self.processes.items()
                for canonical, spec in pmap.fields.items() if spec.name is not None]

    def bind(self, catalog: FieldCatalog) -> dict[Process, ProcessBinding]:
        """The map with every custom field name turned into the site's field id (the first
        candidate the site has). A field the site lacks (or has twice), or one declared absent,
        is not read: its binding's `unbound` says why, and results that need it are unknown."""
        return {process: ProcessBinding(process, pmap, self, catalog)
                for process, pmap in self.processes.items()}


@dataclass(frozen=True)
class FieldCatalog:
    """A site's fields (GET /rest/api/3/field): name (case-insensitive) -> ids."""

    site: str
    ids_by_name: Mapping[str, tuple[str, ...]]
    all_ids: frozenset[str]

    @classmethod
    def from_fields(cls, site: str, fields: Iterable[Any]) -> FieldCatalog:
        by_name: dict[str, list[str]] = {}
        ids: set[str] = set()
        for item in fields:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            ids.add(item["id"])
            if isinstance(item.get("name"), str):
                by_name.setdefault(item["name"].strip().casefold(), []).append(item["id"])
        return cls(site, {k: tuple(sorted(v)) for k, v in by_name.items()}, frozenset(ids))

    def problem(self, name: str) -> str:
        """'' when exactly one field has this name, else what is wrong."""
        ids = self.ids_by_name.get(name.strip().casefold(), ())
        if not ids:
            return f"no field named {name!r}"
        if len(ids) > 1:
            return f"several fields named {name!r} ({', '.join(ids)})"
        return ""

    def id_of(self, name: str) -> str:
        return self.ids_by_name[name.strip().casefold()][0]

    def find(self, spec: JiraFieldSpec) -> tuple[str | None, str]:
        """The field id of a spec found by name or pinned by id, or None and why not."""
        if spec.id is not None:
            return (spec.id, "") if spec.id in self.all_ids else (None, f"no field {spec.id}")
        problems = []
        for name in spec.names:
            problem = self.problem(name)
            if not problem:
                return self.id_of(name), ""
            problems.append(problem)
        if all(p.startswith("no field named ") for p in problems):  # one sentence for all
            return None, "no field named " + " or ".join(p[len("no field named "):]
                                                        for p in problems)
        return None, "; ".join(problems)


@dataclass(frozen=True)
class LinkSpec:
    type_name: str  # case-folded
    side: str  # "inwardIssue" | "outwardIssue": where the linked issue is on this issue's link
    kind: str


class ProcessBinding:
    """One process's map bound to a site: field ids, readers, JQL for scopes."""

    def __init__(self, process: Process, pmap: JiraProcessMap, fieldmap: JiraFieldMap,
                 catalog: FieldCatalog) -> None:
        self.process = process
        self.pmap = pmap
        self.fieldmap = fieldmap
        self.field_ids: dict[str, str] = {}
        self.links: dict[str, LinkSpec] = {}
        self.readers: dict[str, Reader] = {}
        # Fields mapped but not read (declared absent, a name the site lacks): why.
        self.unbound: dict[str, str] = {}
        self.states = {name.casefold(): state for name, state in pmap.states.items()}
        self._plans: dict[frozenset[str] | None, list[Step]] = {}
        for canonical, spec in pmap.fields.items():
            kind = REF_KINDS.get(canonical, "")
            if spec.link is not None:
                self.links[canonical] = LinkSpec(spec.link.casefold(), f"{spec.direction}Issue", kind)
                continue
            if spec.absent:
                self.unbound[canonical] = (f"{process.value}.{canonical} is declared absent on "
                                           "this site (field: null in the Jira field map)")
                continue
            field_id, problem = (spec.field, "") if spec.field else catalog.find(spec)
            if field_id is None:
                self.unbound[canonical] = (
                    f"{process.value}.{canonical}: {problem} at {catalog.site}: map the "
                    "site's field (name: or id: customfield_NNNNN), or declare it absent "
                    "(field: null)")
                continue
            self.field_ids[canonical] = field_id
            self.readers[canonical] = reader(spec.type, field_id, spec.values, _refs_to(kind))
        # The SLA fields the site has (name, id); none of those named: why the sla_* fields
        # are unknown.
        self.sla_fields: list[tuple[str, str]] = []
        missing: list[str] = []
        for name in pmap.slas:
            field_id, problem = catalog.find(JiraFieldSpec(name=name))
            if field_id is None:
                missing.append(problem)
            else:
                self.sla_fields.append((name, field_id))
        self.slas_unbound = "" if self.sla_fields or not missing else (
            f"{process.value}: {'; '.join(missing)} at {catalog.site} (the SLA fields of "
            "slas: in the Jira field map): the SLA rules are unknown")
        derived = SLA_DERIVED if pmap.slas else ()
        self._mapped = frozenset({"state", *self.field_ids, *self.links, *self.unbound,
                                  *derived})

    def mapped(self) -> frozenset[str]:
        return self._mapped

    def platform_fields(self, wanted: AbstractSet[str] | None) -> list[str]:
        """Issue fields to ask for: those of the wanted canonical fields and the base ones."""
        names = set(self.mapped() if wanted is None else wanted)
        ids = {self.field_ids[n] for n in names if n in self.field_ids} - TOP_LEVEL
        if "state" in names:
            ids.add("status")
        if any(n in self.links for n in names):
            ids.add("issuelinks")
        if any(n in SLA_DERIVED for n in names):
            ids.update(field_id for _, field_id in self.sla_fields)
        return sorted({*ids, *BASE_FIELDS})

    def to_canonical(self, fields: Mapping[str, Any], wanted: AbstractSet[str] | None,
                     issue: Mapping[str, Any] | None = None) -> dict[str, Value]:
        """Canonical values of one issue's `fields` (`key` and `id` from the `issue`); a field
        not returned is unknown, and so is one the map does not fill (never empty)."""
        out: dict[str, Value] = {}
        slas: dict[str, Value] | None = None
        for name, how, field_id, read, missing in self._plan(wanted):
            if how == "sla":
                slas = self._slas(fields) if slas is None else slas
                out[name] = slas[name]
            elif how == "field":
                value = fields.get(field_id, _MISSING)
                out[name] = missing if value is _MISSING else read(value)
            elif how == "state":
                out[name] = self.state_of(fields)
            elif how == "link":
                out[name] = self._linked(fields, self.links[name])
            elif how == "top":
                value = (issue or {}).get(field_id)
                out[name] = None if value is None else str(value)
            else:
                out[name] = missing
        return out

    def _plan(self, wanted: AbstractSet[str] | None) -> list[Step]:
        """How to read each wanted field, worked out once per set of wanted fields (this runs
        for every issue)."""
        key = None if wanted is None else frozenset(wanted)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        plan = []
        for name in sorted(self.mapped() if key is None else key):
            field_id = self.field_ids.get(name, "")
            if name not in self.mapped():
                if name == "number" or "." in name:  # Record.number; raw.X reads the raw issue
                    continue
                plan.append((name, "unmapped", "", _no_reader, Unknown(
                    f"{self.process.value}.{name} is not mapped in the Jira field map")))
            elif name in self.unbound:
                plan.append((name, "unmapped", "", _no_reader, Unknown(self.unbound[name])))
            elif name in SLA_DERIVED and name not in self.field_ids:
                plan.append((name, "sla", "", _no_reader, None))
            elif field_id in TOP_LEVEL:
                plan.append((name, "top", field_id, _no_reader, None))
            elif name == "state" or name in self.links:
                how = "state" if name == "state" else "link"
                plan.append((name, how, "", _no_reader, None))
            else:
                plan.append((name, "field", field_id, self.readers[name],
                             not_returned(field_id)))
        self._plans[key] = plan
        return plan

    def _slas(self, fields: Mapping[str, Any]) -> dict[str, Value]:
        """The sla_* fields of one issue from its SLA fields: unknown when the site has none of
        those named, when one was not returned (withheld) or cannot be read."""
        if self.slas_unbound:
            return dict.fromkeys(SLA_DERIVED, Unknown(self.slas_unbound))
        records: list[SlaRecord] = []
        for name, field_id in self.sla_fields:
            if field_id not in fields:
                return dict.fromkeys(SLA_DERIVED, not_returned(field_id))
            found = sla_record(fields[field_id], field_id, name)
            if isinstance(found, Unknown):
                return dict.fromkeys(SLA_DERIVED, found)
            if found is not None:
                records.append(found)
        return derived_fields(records, per_record_reason=False)

    def state_of(self, fields: Mapping[str, Any]) -> Value:
        if "status" not in fields:
            return not_returned("status")
        status = fields["status"]
        name = status.get("name") if isinstance(status, Mapping) else None
        if not isinstance(name, str):
            return None
        state = self.states.get(name.casefold())
        if state is None:
            return Unknown(f"status {name!r} is not mapped under states: in the Jira field map "
                           f"({self.process.value})")
        return state

    def _linked(self, fields: Mapping[str, Any], link: LinkSpec) -> Value:
        if "issuelinks" not in fields:
            return not_returned("issuelinks")
        for other in linked_issues(fields["issuelinks"], link.type_name, link.side):
            if self._is_kind(other, link.kind):
                return Ref(link.kind, str(other["id"]))
        return None

    def _is_kind(self, issue: Mapping[str, Any], kind: str) -> bool:
        """Whether a linked issue is of the target process (a stub without its type counts)."""
        try:
            target = self.fieldmap.processes.get(Process(kind))
        except ValueError:
            return True
        issuetype = (issue.get("fields") or {}).get("issuetype")
        if target is None or not isinstance(issuetype, Mapping):
            return True
        return target.is_type(issuetype.get("name"))

    def scope_clause(self, canonical: str, allowed: Sequence[Any],
                     statuses: AbstractSet[str] | None = None) -> str | None:
        """JQL selecting the allowed canonical values of one field, when it can be said exactly
        (states, and fields whose platform texts are listed under values:); None otherwise: the
        scan then reads more and the engine tests the scope on each record. "" when no status
        of the site (`statuses`, casefolded, when known) holds an allowed state."""
        wanted = set(allowed)
        if canonical == "state":
            names = [n for n, s in self.pmap.states.items() if s in wanted
                     and (statuses is None or n.casefold() in statuses)]
            return jql.one_of("status", names) if names else ""
        spec = self.pmap.fields.get(canonical)
        if spec is None or canonical not in self.field_ids or not spec.values:
            return None
        texts: list[str | None] = [t for t, v in spec.values.items() if v in wanted]
        if None in wanted:
            texts.append(None)
        covered = {v for v in spec.values.values() if v in wanted} | ({None} & wanted)
        if covered != wanted:  # a value no listed text maps to: cannot be said in JQL
            return None
        return jql.one_of(self.field_ids[canonical], texts)


_MISSING: Any = object()
# One wanted field: (canonical name, how it is read, field id, reader, value when missing)
Step = tuple[str, str, str, Reader, Value]


def _no_reader(raw: Any) -> Value:
    return None


def _refs_to(kind: str) -> Callable[[str, str], Value]:
    def make(found: str, name: str) -> Value:
        return Ref(kind, found, name)
    return make


def linked_issues(links: Any, type_name: str, side: str) -> list[Mapping[str, Any]]:
    """The issues on `side` ("inwardIssue" | "outwardIssue") of this issue's links of a type.

    An entry with `outwardIssue: X` reads "this issue <type.outward> X"; with `inwardIssue: X`,
    "this issue <type.inward> X"."""
    found: list[Mapping[str, Any]] = []
    for entry in links if isinstance(links, list) else ():
        if not isinstance(entry, Mapping):
            continue
        kind = entry.get("type")
        name = kind.get("name") if isinstance(kind, Mapping) else None
        other = entry.get(side)
        if (isinstance(name, str) and name.casefold() == type_name and isinstance(other, Mapping)
                and isinstance(other.get("id"), (str, int))):
            found.append(other)
    return found


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """An override file, same shape: `projects` replaces; per process, keys replace except
    `fields`, whose entries update the default entry (an entry giving id, name, field or link
    replaces the default's source, so `{id: customfield_10042}` pins a field found by name)."""
    merged = {**base, **{k: v for k, v in override.items() if k != "processes"}}
    processes = dict(base.get("processes") or {})
    extra = override.get("processes") or {}
    if not isinstance(extra, Mapping):
        merged["processes"] = extra  # refused by validation, with its line
        return merged
    merged["processes"] = processes
    for key, body in extra.items():
        if not isinstance(body, Mapping):
            processes[key] = body
            continue
        current = dict(processes.get(key) or {})
        fields = dict(current.get("fields") or {})
        for name, entry in (body.get("fields") or {}).items():
            old = fields.get(name)
            if isinstance(entry, Mapping) and isinstance(old, Mapping):
                sources = {"field", "name", "id", "link", "direction"}
                keep = {k: v for k, v in old.items()
                        if not (sources & set(entry) and k in sources)}
                entry = {**keep, **entry}
            fields[name] = entry
        current.update({k: v for k, v in body.items() if k not in ("fields", "unmapped")})
        # `unmapped:` declares fields the site does not have: the default's entries go
        dropped = [n for n in body.get("unmapped") or () if n not in (body.get("fields") or {})]
        current["fields"] = {n: e for n, e in fields.items() if n not in dropped}
        current["unmapped"] = [*dict.fromkeys([*current.get("unmapped", ()), *dropped])]
        processes[key] = current
    return merged


def load_jira_field_map(path: Path | None = None, override: Path | None = None) -> JiraFieldMap:
    """The shipped defaults/jira_fieldmap.yaml (or `path`), with `override` merged in."""
    doc = load_yaml(path) if path is not None else load_shipped("defaults/jira_fieldmap.yaml")
    data: dict[str, Any] = dict(doc.data or {})
    if override is not None and override.exists():
        extra = load_yaml(override)
        if extra.data is not None and not isinstance(extra.data, Mapping):
            raise ConfigFileError("expected a mapping (projects, processes)",
                                  path=override, line=extra.line(()))
        data = _merge(data, dict(extra.data or {}))
        doc = extra
    return validate(JiraFieldMap, data, doc)


def load_field_map(override: Path | None = None) -> JiraFieldMap:
    """The registry's loader: the shipped map with config/jira_fieldmap.yaml merged in."""
    return load_jira_field_map(override=override)
