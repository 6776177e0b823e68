"""JiraFileConnector: the file source on Jira exports (`--source file:DIR --platform jira`).

The issues of the export (exports, csv_export) read through the same bound field map as on a
live site, so the same issues give the same findings. What an export does not carry is unknown,
never a failure: a field with no column or left out of the search, a reference given by name
(NamedRef), a date that does not fit the format. A link to an issue of a process the export
holds, but not that issue, is a link to an issue that is not there (as on ServiceNow's file
source); links into a process the export holds nothing of are unknown (NotRead). A `jql:`
restriction of the field map cannot be applied to an export: the export is taken as chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from sms_conformance.connectors.base import ConnectorDefaults, FetchRequest, NotRead, matches_scope
from sms_conformance.connectors.capabilities import Doctor, Finding, Reads
from sms_conformance.connectors.jira.export_doctor import check
from sms_conformance.connectors.jira.export_model import JiraExport
from sms_conformance.connectors.jira.exports import read_directory
from sms_conformance.connectors.jira.fieldmap import (
    REF_KINDS,
    JiraFieldMap,
    ProcessBinding,
    linked_issues,
)
from sms_conformance.connectors.jira.values import element, parse_timestamp
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import NamedRef, Process, Record, Ref, Value
from sms_conformance.rules.model import Rule

Json = dict[str, Any]


class JiraFileConnector(ConnectorDefaults):
    """Air-gapped audits and tests: the issues a Jira export holds, from disk."""

    platform = "jira"
    capabilities: ClassVar[frozenset[type]] = frozenset({Reads, Doctor})

    def __init__(self, directory: Path, fieldmap: JiraFieldMap) -> None:
        self.directory = directory
        self.instance = f"file:{directory.resolve()}"
        self.fieldmap = fieldmap
        custom = {spec.name.strip(): spec.type
                  for pmap in fieldmap.processes.values() for spec in pmap.fields.values()
                  if spec.name is not None}
        self.export: JiraExport = read_directory(directory, custom, fieldmap.time_zone,
                                                 fieldmap.date_format)
        self.notices: list[str] = list(self.export.notices)
        self.bindings = self._bind()
        self._by_process: dict[Process, list[Json]] = {p: [] for p in self.bindings}
        projects = set(fieldmap.projects)
        outside = untyped = 0
        for issue in self.export.issues:
            process = self._process_of(issue)
            if process is None:
                untyped += "issuetype" not in issue["fields"]
                continue
            if str(issue["key"]).rsplit("-", 1)[0] not in projects:
                outside += 1
                continue
            self._by_process[process].append(issue)
        if untyped:
            self.notices.append(f"{directory}: {untyped} issues carry no issuetype, so no "
                                "process: save the searches with fields=*all")
        if outside:
            self.notices.append(f"{directory}: {outside} issues of projects other than "
                                f"{', '.join(fieldmap.projects)} (the field map's projects) "
                                "left out")
        for process, pmap in fieldmap.processes.items():
            if pmap.jql is not None:
                self.notices.append(f"{process.value}.jql ({pmap.jql}) cannot be applied to an "
                                    "export: its issues are read as the export chose them")

    def __repr__(self) -> str:
        return f"JiraFileConnector({self.instance!r})"

    def doctor(self, rules: Sequence[Rule], settings: Mapping[str, Any]) -> list[Finding]:
        """What the export lets a scan check and what it cannot (export_doctor)."""
        return check(self, rules)

    def check_task_targets(self, targets: Iterable[str]) -> list[Finding]:
        return [Finding("warn", f"project {key}: an export cannot show whether it may receive "
                                "tasks (check on the site)") for key in targets]

    def _bind(self) -> dict[Process, ProcessBinding]:
        try:
            return self.fieldmap.bind(self.export.catalog)
        except ConfigError as exc:
            if self.export.shape == "csv" and not (self.directory / "field.json").is_file():
                raise ConfigError(f"{exc}; a CSV export names fields, it carries no ids: save "
                                  "the site's GET /rest/api/3/field as field.json beside it"
                                  ) from None
            raise

    def _process_of(self, issue: Mapping[str, Any]) -> Process | None:
        issuetype = issue["fields"].get("issuetype")
        name = issuetype.get("name") if isinstance(issuetype, Mapping) else None
        for process, binding in self.bindings.items():
            if binding.pmap.is_type(name):
                return process
        return None

    # -- reading ------------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        binding = self._binding(request.process)
        issues = self._by_process[binding.process]
        if not issues:
            self.notices.append(f"no {binding.process.value} issues in {self.directory}: "
                                f"{binding.process.value} skipped")
            return
        wanted = frozenset(request.fields | set().union(*request.scopes) | {"updated_at"})
        for issue in sorted(issues, key=_key_order):
            record = self._record(binding, issue, wanted)
            if request.since is not None:
                updated = record.fields.get("updated_at")
                if isinstance(updated, datetime) and updated < request.since:
                    continue
            if not request.scopes or any(matches_scope(record.fields, s) for s in request.scopes):
                yield record

    def _binding(self, process: Process | str) -> ProcessBinding:
        found = self.bindings.get(Process(process))
        if found is None:
            raise ConfigError(f"the Jira field map has no {Process(process).value}")
        return found

    def _record(self, binding: ProcessBinding, issue: Json,
                wanted: Set[str] | None) -> Record:
        key, fields = str(issue["key"]), issue["fields"]
        values = binding.to_canonical(fields, wanted, issue)
        for name, value in values.items():
            if isinstance(value, Ref) or value is None:
                shown = _shown_name(fields.get(binding.field_ids.get(name, "")))
                if shown is not None and name in REF_KINDS:
                    values[name] = NamedRef(REF_KINDS[name], shown)
        return Record(
            platform=self.platform, instance=self.instance, process=binding.process.value,
            table=binding.process.value, id=str(issue["id"]), number=key,
            url=f"{self.instance}#{key}", fields=values, raw=fields,
        )

    def export_moment(self) -> tuple[datetime, str] | None:
        """When the export was taken, and how that is known: the newest `updated` of its issues,
        else the newest file's own time. Ages are measured from it unless --as-of says."""
        moments = [m for m in (_updated(i) for i in self.export.issues) if m is not None]
        if moments:
            return max(moments), f"the newest updated in {self.directory}"
        if not self.export.files:
            return None
        path = max(self.export.files, key=lambda p: p.stat().st_mtime)
        return (datetime.fromtimestamp(path.stat().st_mtime, timezone.utc),
                f"the time of {path.name} (its issues carry no update time)")

    def not_read(self, process: Process) -> str | None:
        """Why the issues of `process` were not read (none in the export), else None: counts of
        its issues (referrers) are then unknown, not zero."""
        if process not in self.bindings:
            return "the Jira field map has no such process"
        if not self._by_process[process]:
            return f"no {process.value} issues in {self.directory}"
        return None

    # -- links --------------------------------------------------------------------------------

    @cached_property
    def _index(self) -> dict[str, tuple[Process, Json]]:
        """Issues of every process by id and by key (CSV links name keys)."""
        index: dict[str, tuple[Process, Json]] = {}
        for process, issues in self._by_process.items():
            for issue in issues:
                index[str(issue["id"])] = index[str(issue["key"])] = (process, issue)
        return index

    def _require(self, kind: str) -> ProcessBinding:
        try:
            process = Process(kind)
        except ValueError:
            if kind == "configuration_item":
                raise NotRead(kind, "a Jira export holds issues, not the Assets objects "
                              "(configuration items) they name: scan the site to check them"
                              ) from None
            raise NotRead(kind, "an export holds issues, not such records") from None
        if process not in self.bindings:
            raise NotRead(kind, "the Jira field map has no such process")
        if not self._by_process[process]:
            raise NotRead(kind, f"no {kind} issues in {self.directory}")
        return self.bindings[process]

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        found: dict[Ref, Record] = {}
        for ref in refs:
            binding = self._require(ref.kind)
            hit = self._index.get(ref.id)
            if hit is not None and hit[0] == binding.process:
                wanted = None if fields is None else frozenset(fields) & binding.mapped()
                found[ref] = self._record(binding, hit[1], wanted)
        return found

    def count_referrers(self, process: Process | str, field: str, ids: Iterable[str]
                        ) -> dict[str, int]:
        """How many `process` issues link each id through the canonical link `field`."""
        binding = self._require(Process(process).value)
        link = binding.links.get(field)
        if link is None:
            raise NotRead(binding.process.value, f"{field} is not an issue link in the Jira "
                          "field map: its referrers cannot be counted")
        referrers: dict[str, set[str]] = {}
        for issue in self._by_process[binding.process]:
            for other in linked_issues(issue["fields"].get("issuelinks"), link.type_name,
                                       link.side):
                target = self._index.get(str(other["id"]))
                target_id = str(target[1]["id"]) if target else str(other["id"])
                referrers.setdefault(target_id, set()).add(str(issue["id"]))
        return {i: len(referrers.get(i, ())) for i in ids}


def _key_order(issue: Mapping[str, Any]) -> tuple[str, int]:
    project, _, number = str(issue["key"]).rpartition("-")
    return project, int(number) if number.isdigit() else 0


def _updated(issue: Mapping[str, Any]) -> datetime | None:
    value = issue["fields"].get("updated")
    moment = parse_timestamp(value) if isinstance(value, str) else None
    return moment if isinstance(moment, datetime) else None


def _shown_name(raw: Any) -> str | None:
    """The name of a reference given by name only (`{"displayName"}` without an id)."""
    value: Value | Any = element(raw)
    if not isinstance(value, dict) or any(value.get(k) for k in
                                          ("accountId", "groupId", "id", "key", "name")):
        return None
    name = value.get("displayName")
    return name if isinstance(name, str) and name else None
