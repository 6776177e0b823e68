"""What write-back learns from a scan, told record by record: the scan's observer.

For the findings open tasks list: which were read (`seen`) and now conform (pass, or out of
the rule's scope); for each record with a result that is not a pass, where it stands (live,
closed within the lookback, old: `placed`); per (rule, owner group, period) of records closed
within the lookback, how many were evaluated and passed (`cohorts`, for corrective actions);
the numbers of records that links point to, and the people a task may go to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sms_conformance.engine.evaluate import Verdict
from sms_conformance.engine.results import RuleResult
from sms_conformance.model.records import Record
from sms_conformance.rules.model import Rule
from sms_conformance.writeback.people import People
from sms_conformance.writeback.policy import Phases


@dataclass
class ScanWatch:
    """The write-back's observer of one scan (scan.scanner.RecordObserver)."""

    watched: frozenset[tuple[str, str]]  # (record id, rule id) of findings open tasks list
    phases: Phases
    linked: frozenset[str]  # processes whose numbers tasks show instead of record ids
    numbers: dict[str, str]  # record id -> number, shared with the write-back
    people: People | None = None
    seen: set[tuple[str, str]] = field(default_factory=set)
    conforming: set[tuple[str, str]] = field(default_factory=set)
    placed: dict[str, str] = field(default_factory=dict)  # record id -> its phase
    cohorts: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)

    def evaluated(self, record: Record,
                  verdicts: Sequence[tuple[Rule, RuleResult | Verdict]]) -> None:
        if record.process in self.linked:
            self.numbers[record.id] = record.number
        if self.people is not None:
            self.people.note(record)
        phase = self.phases.of(record)
        cohort = self.phases.cohort(record, phase)
        watched, stored = self.watched, False
        for rule, result in verdicts:
            key = (record.id, rule.id)
            if key in watched:
                self.seen.add(key)
                if isinstance(result, Verdict):  # passes, or left the rule's scope
                    self.conforming.add(key)
            if result is Verdict.OUT_OF_SCOPE:
                continue
            stored = stored or isinstance(result, RuleResult)
            if cohort is not None:  # a closed record in the lookback counts toward its cohort
                tally = self.cohorts.setdefault((rule.id, *cohort), [0, 0])
                tally[0] += 1
                tally[1] += result is Verdict.PASSED
        if stored:
            self.placed.setdefault(record.id, phase)
