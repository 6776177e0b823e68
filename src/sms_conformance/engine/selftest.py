"""Runs every rule's examples: the `rules test` command and the test suite share this."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.model.findings import Status
from sms_conformance.rules.checks import Context
from sms_conformance.rules.examples import ExampleError, build_example, example_settings
from sms_conformance.rules.model import Rule

# Examples are evaluated as of this fixed moment, so age-based examples never go stale.
EXAMPLE_NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExampleOutcome:
    rule: Rule
    want: Status
    index: int
    got: Status | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.got is self.want

    @property
    def name(self) -> str:
        return f"{self.rule.id}:{self.want.value}[{self.index}]"


# The rule loaded again with these settings over the run's (an example's `_settings`).
Reload = Callable[[Rule, Mapping[str, Any]], Rule]


def run_examples(rules: Sequence[Rule], reload: Reload,
                 now: datetime = EXAMPLE_NOW) -> Iterator[ExampleOutcome]:
    for rule in rules:
        for want, examples in ((Status.PASS, rule.examples.pass_), (Status.FAIL, rule.examples.fail)):
            for index, example in enumerate(examples):
                given = example_settings(example)
                judged = reload(rule, given) if given else rule
                try:
                    record, links = build_example(judged, example)
                except ExampleError as exc:
                    yield ExampleOutcome(rule, want, index, None, str(exc))
                    continue
                result = evaluate_one(judged, record, Context(now, links))
                detail = result.detail or (f"observed {result.observed}" if result.observed else "")
                yield ExampleOutcome(rule, want, index, result.status, detail)


def missing_examples(rules: Sequence[Rule]) -> list[str]:
    """Rules lacking a passing or a failing example."""
    return [
        f"{rule.id}: needs at least one {kind} example"
        for rule in rules
        for kind, items in (("pass", rule.examples.pass_), ("fail", rule.examples.fail))
        if not items
    ]
