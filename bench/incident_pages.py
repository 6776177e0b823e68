"""The first incident pages of a running sandbox, read through the ServiceNow connector as the
scan reads them, with the rule set and context that evaluate them (bench/engine_columns.py,
bench/worker_handoff.py)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.evaluate import RuleSet
from sms_conformance.engine.links import LinkResolver
from sms_conformance.model.records import Process, Record
from sms_conformance.rules.checks import Context
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.model import Rule

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def best(run: Callable[[], Any], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append(time.perf_counter() - started)
    return min(spent)


@dataclass
class IncidentPages:
    pages: list[list[Record]]  # of 1,000 records
    rules: list[Rule]  # the incident rules
    fields: list[str]  # the fields they read
    rule_set: RuleSet
    ctx: Context

    @property
    def per_record(self) -> float:
        """Seconds summed over the pages, as microseconds a record."""
        return 1e6 / sum(map(len, self.pages))

    @property
    def records(self) -> list[Record]:
        return [r for page in self.pages for r in page]

    def evaluated(self) -> float:
        """Seconds the engine takes over every page (RuleSet.evaluate, best of 5 each)."""
        return sum(best(lambda p=p: self.rule_set.evaluate(p, self.ctx)) for p in self.pages)


def incident_pages(url: str, password: str, pages: int) -> IncidentPages:
    config = ConfigDir(None)
    fieldmap, rules = config.fieldmap(), config.rules()
    connector = sandbox_connector(url, password, fieldmap)
    incident = [r for r in rules if r.process == Process.INCIDENT]
    fields = sorted(set().union(*(rule_fields(r) for r in incident)))
    request = FetchRequest(Process.INCIDENT, (), frozenset(fields) | {"assignment_group"}, None)
    records: list[Record] = []
    for record in connector.fetch(request):
        records.append(record)
        if len(records) >= pages * 1000:
            break
    links = LinkResolver(connector, rules, extra_refs=("assignment_group",))
    links.expect("incident", connector.expected_total(Process.INCIDENT))
    return IncidentPages([records[i:i + 1000] for i in range(0, len(records), 1000)], incident,
                         fields, RuleSet(rules), Context(NOW, links))


def from_command_line() -> IncidentPages:
    """`URL PASSWORD [--pages N]` (a running sandbox), read."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("password")
    parser.add_argument("--pages", type=int, default=5)
    args = parser.parse_args()
    return incident_pages(args.url, args.password, args.pages)
