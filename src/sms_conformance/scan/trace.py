"""The auditor's trace test: one record, read live, and the records it is linked to.

From the record named by number, references into process tables are followed (incident ->
problem -> change, an incident's fix and cause changes, its parent), the configuration item of
each record is looked up, and a problem lists the incidents that reference it. Every record
of a process is evaluated against the rules, as a scan would evaluate it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.connectors.capabilities import Reads, tracer_of
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.engine.links import LinkResolver
from sms_conformance.engine.results import RuleResult
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.findings import Status
from sms_conformance.model.records import NamedRef, Process, Record, Ref, Unknown
from sms_conformance.model.schema import SCHEMA, PlatformMap, process_of_kind
from sms_conformance.rules.checks import Context
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.loader import render_message
from sms_conformance.rules.model import Rule

# References followed from a record, in this order, and what they are called.
FOLLOWED = {"problem": "problem", "fixed_by_change": "fixed by change",
            "caused_by_change": "caused by change", "parent": "parent incident"}
CI_FIELD = "configuration_item"
SHOWN_ORDER = (Status.FAIL, Status.ERROR, Status.WAIVED, Status.UNKNOWN, Status.PASS)
MAX_REFERRERS = 25  # incidents of a problem listed (and evaluated); the rest are counted


@dataclass
class Node:
    """One record of a trace (or a configuration item, or a link that could not be followed)."""

    kind: str  # incident | problem | change | configuration_item
    relation: str  # "traced", "problem of INC0010001", ...
    number: str = ""
    id: str = ""
    url: str = ""
    state: str = ""
    note: str = ""  # a link that does not exist or could not be read
    name: str = ""  # a configuration item's display name
    results: list[RuleResult] = field(default_factory=list)
    not_applicable: int = 0
    children: list[Node] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def result_message(result: RuleResult) -> str:
    record, rule = result.record, result.rule
    if result.status in (Status.FAIL, Status.WAIVED):
        return render_message(rule, {**record.fields, "number": record.number})
    return rule.title


class Tracer:
    def __init__(self, connector: Reads, fieldmap: PlatformMap, rules: Sequence[Rule],
                 now: datetime, waivers: Waivers | None = None) -> None:
        self.connector, self.fieldmap, self.rules, self.waivers = connector, fieldmap, rules, waivers
        self.direct = tracer_of(connector)
        # Links are looked up one by one: a trace reads a handful of records, never a table.
        self.ctx = Context(now, LinkResolver(connector, rules, local=False))

    def fields(self, process: Process) -> frozenset[str]:
        """What is read of each record: every canonical field the platform maps (a trace shows
        the whole record) and whatever the rules read."""
        mapped = {n for n in SCHEMA[process] if self.fieldmap.maps(process, n)}
        return frozenset(mapped.union(*(rule_fields(r) for r in self.rules
                                        if r.process == process)))

    def find(self, number: str) -> Record:
        """The record with this number, read live; ConfigError when there is none."""
        number = number.strip()
        found: Record | None = None
        if self.direct is not None:
            found = self.direct.record_by_number(number, self.fields)
        else:
            for process in self.fieldmap.processes_for_number(number):
                with closing(self._fetch(process, {"number": (number,)})) as records:
                    found = next(records, None)
                if found is not None:
                    break
        if found is None:
            raise ConfigError(f"{number}: no incident, problem, change or request with this number at "
                              f"{self.connector.instance}")
        return found

    def _fetch(self, process: Process, scope: dict[str, tuple[str, ...]]) -> Generator[Record]:
        fields = self.fields(process) | set(scope)
        yield from self.connector.fetch(FetchRequest(process, (scope,), fields))

    def trace(self, number: str) -> Node:
        record = self.find(number)
        root = self._node(record, "traced")
        seen = {(record.process, record.id)}
        todo: deque[tuple[Node, Record, bool]] = deque([(root, record, True)])
        while todo:
            node, current, expand = todo.popleft()
            if not expand:
                self._add_ci(node, current)
                continue
            for name, label in FOLLOWED.items():
                value = current.fields.get(name)
                child = self._follow(current, value, f"{label} of {current.number}")
                if child is None:
                    continue
                found, linked = child
                node.children.append(found)
                if linked is not None and (linked.process, linked.id) not in seen:
                    seen.add((linked.process, linked.id))
                    todo.append((found, linked, True))
            self._add_ci(node, current)
            if current.process == Process.PROBLEM.value:
                for found, linked in self._incidents_of(current, seen):
                    node.children.append(found)
                    if linked is not None:
                        todo.append((found, linked, False))
        return root

    def _node(self, record: Record, relation: str) -> Node:
        node = Node(record.process, relation, record.number, record.id, record.url,
                    _show(record.fields.get("state")))
        for rule in self.rules:
            if rule.process.value != record.process:
                continue
            result = evaluate_one(rule, record, self.ctx, self.waivers)
            if result.status is Status.NOT_APPLICABLE:
                node.not_applicable += 1
            else:
                node.results.append(result)
        node.results.sort(key=lambda r: (SHOWN_ORDER.index(r.status), r.rule.clause, r.rule.id))
        return node

    def _follow(self, record: Record, value: object,
                relation: str) -> tuple[Node, Record | None] | None:
        """A reference into a process table: its record, or why it cannot be shown."""
        if not isinstance(value, Ref) or not value.id:
            if isinstance(value, Unknown):
                return Node("", relation, note=f"unknown: {value.reason}"), None
            return None
        process = process_of_kind(value.kind)
        if process is None:
            return None
        if isinstance(value, NamedRef):
            return Node(process.value, relation, number=value.id,
                        note="given by name, not by id: cannot be looked up"), None
        try:
            linked = self.connector.resolve([value]).get(value)
        except NotRead as exc:
            return Node(process.value, relation, id=value.id,
                        note=f"could not be read: {exc.reason}"), None
        if linked is None:
            return Node(process.value, relation, id=value.id, note="does not exist"), None
        return self._node(linked, relation), linked

    def _add_ci(self, node: Node, record: Record) -> None:
        ci = self._ci(record) if CI_FIELD in record.fields else None
        if ci is not None:
            node.children.append(ci)

    def _ci(self, record: Record) -> Node | None:
        value = record.fields.get(CI_FIELD)
        relation = f"configuration item of {record.number}"
        if isinstance(value, Unknown):
            return Node(CI_FIELD, relation, note=f"unknown: {value.reason}")
        if not isinstance(value, Ref) or not value.id:
            return None
        if isinstance(value, NamedRef):
            return Node(CI_FIELD, relation, number=value.id)
        try:
            found = self.connector.resolve([value]).get(value)
        except NotRead as exc:
            if value.name:  # named by the source beside its id (a Jira Assets object)
                return Node(CI_FIELD, relation, id=value.id, name=value.name)
            return Node(CI_FIELD, relation, id=value.id, note=f"could not be read: {exc.reason}")
        if found is None:
            return Node(CI_FIELD, relation, id=value.id, note="does not exist")
        name = found.raw.get("name")
        return Node(CI_FIELD, relation, number=found.number, id=found.id, url=found.url,
                    name=name if isinstance(name, str) else value.name)

    def _incidents_of(self, problem: Record,
                      seen: set[tuple[str, str]]) -> Iterator[tuple[Node, Record | None]]:
        relation = f"incident of {problem.number}"
        try:
            listed = self._referrers(problem)
        except NotRead as exc:
            yield Node(Process.INCIDENT.value, relation, note=f"could not be read: {exc.reason}"), None
            return
        for incident in listed[:MAX_REFERRERS]:
            if (incident.process, incident.id) in seen:
                continue
            seen.add((incident.process, incident.id))
            yield self._node(incident, relation), incident
        if len(listed) > MAX_REFERRERS:
            yield Node(Process.INCIDENT.value, relation,
                       note=f"more than {MAX_REFERRERS} incidents reference {problem.number}: "
                            "the first are shown"), None

    def _referrers(self, problem: Record) -> list[Record]:
        """Up to MAX_REFERRERS + 1 incidents whose `problem` is this one."""
        if self.direct is None:
            with closing(self._fetch(Process.INCIDENT, {"problem": (problem.id,)})) as incidents:
                return list(islice(incidents, MAX_REFERRERS + 1))
        refs = self.direct.referrers(Process.INCIDENT, "problem", problem.id)[:MAX_REFERRERS + 1]
        found = self.connector.resolve(refs, self.fields(Process.INCIDENT)) if refs else {}
        return [found[ref] for ref in refs if ref in found]


def _show(value: object) -> str:
    if value is None or isinstance(value, Unknown):
        return ""
    return str(value.id if isinstance(value, Ref) else value)
