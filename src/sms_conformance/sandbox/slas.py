"""The SLA records of the generated incidents (clause 8.3.3): contract_sla definitions and
task_sla rows, worked out from the incidents once they are planted, with their own random
stream (the rows of every other table stay as the generator made them).

Every incident with a priority has a response and a resolution SLA of that priority, started
when it was opened: completed when it was resolved (breached when resolved after the target,
which only planted late resolutions are), paused while it is on hold, in progress otherwise
(breached once the anchor is past the target), cancelled for a canceled incident. A breached SLA
of a resolved incident is explained by its linked problem; a late resolution with no problem and
another defect planted already is within target on the instance's schedule (business hours), so
its SLA did not breach and it keeps its one or two defects.

Planted, each making exactly its rule fail and added to a record that carries one defect so far
(so records still carry one or two): `incident.sla.recorded` (no SLA record at all),
`incident.sla.breach_reason` (a breached SLA and no linked problem: a late resolution, or a
missed response), `incident.sla.pause_reason` (an SLA paused while the incident is in progress,
so no hold reason says why).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timezone

from sms_conformance.sandbox.schema import (
    CONTRACT_SLA,
    INCIDENT,
    RESTORE_TARGET_SECONDS,
    SC_REQ_ITEM,
    TASK_SLA,
    Row,
)

RESPONSE_TARGET_SECONDS: dict[str, int] = {
    "1": 15 * 60, "2": 30 * 60, "3": 3600, "4": 4 * 3600, "5": 8 * 3600,
}
TARGETS = {"response": RESPONSE_TARGET_SECONDS, "resolution": RESTORE_TARGET_SECONDS}
RECORDED, BREACH, PAUSE = ("incident.sla.recorded", "incident.sla.breach_reason",
                           "incident.sla.pause_reason")
LATE = "incident.restore.within_target"
_ZERO = "1970-01-01 00:00:00"


def definition_id(priority: str, target: str) -> str:
    return hashlib.md5(f"contract_sla:{priority}:{target}".encode(),
                       usedforsecurity=False).hexdigest()


def definition_name(priority: str, target: str) -> str:
    hours = TARGETS[target][priority] / 3600
    goal = f"{hours:g} hour{'s' if hours != 1 else ''}" if hours >= 1 else f"{hours * 60:g} minutes"
    return f"Priority {priority} {target} ({goal})"


def definitions(created: str) -> list[Row]:
    rows = []
    for target in TARGETS:
        for priority in sorted(RESTORE_TARGET_SECONDS):
            row = CONTRACT_SLA.new_row()
            for key, value in (("sys_id", definition_id(priority, target)),
                               ("name", definition_name(priority, target)),
                               ("target", target), ("collection", "incident"),
                               ("duration", _duration(TARGETS[target][priority])),
                               ("sys_created_on", created), ("sys_updated_on", created)):
                CONTRACT_SLA.set(row, key, value)
            rows.append(row)
    return sorted(rows, key=lambda r: str(r[0]))


def _duration(seconds: int) -> str:
    moment = datetime.fromtimestamp(max(0, seconds), tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


class _Planting:
    """Rules planted on rows that carry exactly one planted defect so far, each row at most
    once: `count` of the eligible rows drawn from `rng`, `planted` updated."""

    def __init__(self, rng: random.Random, rows: list[Row], number: int,
                 planted: dict[str, list[str]]) -> None:
        self.rng, self.number, self.planted = rng, number, planted
        self.single = [r for r in rows if len(planted.get(r[number], ())) == 1]
        self.taken: set[str] = set()

    def plant(self, rule: str, eligible: Callable[[Row], bool], count: int) -> set[str]:
        found = [r[self.number] for r in self.single
                 if r[self.number] not in self.taken and eligible(r)]
        chosen = set(self.rng.sample(found, min(count, len(found))))
        for number in sorted(chosen):
            self.planted[number] = sorted([*self.planted[number], rule])
        self.taken.update(chosen)
        return chosen


class SlaGenerator:
    """task_sla rows for the incidents; plants the SLA defects into `planted` (by number)."""

    def __init__(self, seed: int, anchor: int, fmt: Callable[[float], str],
                 defect_rate: float) -> None:
        self.rng = random.Random(f"task_sla:{seed}")
        self.anchor, self.fmt, self.rate = anchor, fmt, defect_rate
        c = INCIDENT.col
        self.ST, self.PRI, self.OPEN, self.RES = c("state"), c("priority"), c("opened_at"), c(
            "resolved_at")
        self.PID, self.NUM, self.SID = c("problem_id"), c("number"), c("sys_id")

    def run(self, incidents: list[Row], planted: dict[str, list[str]]) -> list[Row]:
        """The task_sla rows (sorted by sys_id); plants into `planted` as the module says."""
        no_sla, paused, missed = self._plant(incidents, planted)
        rows: list[Row] = []
        for row in incidents:
            number = row[self.NUM]
            if number in no_sla or row[self.PRI] not in RESTORE_TARGET_SECONDS:
                continue
            # A late resolution breaches its SLA where that is its planted defect or a linked
            # problem explains it; otherwise the instance's schedule kept it within target.
            late = LATE in planted.get(number, ()) and (
                bool(row[self.PID]) or BREACH in planted[number])
            rows.append(self._sla(row, "response", missed=number in missed))
            rows.append(self._sla(row, "resolution", paused=number in paused,
                                  met=not late and bool(row[self.RES])))
        return sorted(rows, key=lambda r: str(r[0]))

    def _plant(self, incidents: list[Row], planted: dict[str, list[str]]
               ) -> tuple[set[str], set[str], set[str]]:
        """Numbers without SLAs, with a paused SLA, with a missed response; planted updated."""
        budget = max(1, round(len(incidents) * self.rate / 25)) if self.rate > 0 else 0
        plant = _Planting(self.rng, incidents, self.NUM, planted).plant

        def in_scope(r: Row) -> bool:
            return r[self.PRI] in RESTORE_TARGET_SECONDS and r[self.ST] != "8"

        def late(r: Row) -> bool:
            return LATE in planted[r[self.NUM]]

        def unexplained(r: Row) -> bool:
            return r[self.ST] in ("6", "7") and in_scope(r) and not r[self.PID]

        # a late resolution with no problem and room for a second defect: unexplained
        plant(BREACH, lambda r: late(r) and unexplained(r), len(incidents))
        missed = plant(BREACH, lambda r: unexplained(r) and not late(r), budget)
        no_sla = plant(RECORDED, lambda r: in_scope(r) and not late(r), budget)
        paused = plant(PAUSE, lambda r: r[self.ST] == "2" and in_scope(r), budget)
        return no_sla, paused, missed

    def _sla(self, row: Row, target: str, *, paused: bool = False, missed: bool = False,
             met: bool = True) -> Row:
        priority, state = row[self.PRI], row[self.ST]
        goal = TARGETS[target][priority]
        start = _epoch(row[self.OPEN])
        planned = start + goal
        stop: int | None = None
        if state == "8":
            stage, breached = "cancelled", False
        elif target == "response" and state != "1":
            stage = "completed"
            stop = start + (goal + 60 + int(goal * self.rng.random()) if missed
                            else 60 + int((goal - 120) * self.rng.random()))
            breached = missed
        elif target == "resolution" and state in ("6", "7"):
            stage = "completed"
            resolved = _epoch(row[self.RES]) if row[self.RES] else None
            # no resolution time (a planted defect): the clock stopped when it was resolved
            stop = resolved if resolved is not None and resolved >= start else start + goal // 2
            breached = not met and stop > planned
        else:
            stage = "paused" if state == "3" or paused else "in_progress"
            breached = self.anchor > planned
        elapsed = (stop if stop is not None else self.anchor) - start
        if stop is not None and not breached and elapsed > goal:
            elapsed = int(goal * 0.9)  # within target on the instance's schedule
        sla = TASK_SLA.new_row()
        pause = 600 + int(7200 * self.rng.random()) if stage == "paused" else 0
        for key, value in (
                ("sys_id", f"{self.rng.getrandbits(128):032x}"), ("task", row[self.SID]),
                ("sla", definition_id(priority, target)), ("stage", stage),
                ("has_breached", "true" if breached else "false"),
                ("start_time", row[self.OPEN]),
                ("end_time", self.fmt(stop) if stop is not None else ""),
                ("planned_end_time", self.fmt(planned)),
                ("business_percentage", f"{100 * max(0, elapsed) / goal:.2f}"),
                ("pause_duration", _duration(pause) if pause else _ZERO),
                ("sys_created_on", row[self.OPEN]),
                ("sys_updated_on", self.fmt(min(stop or self.anchor - 1, self.anchor - 1)))):
            TASK_SLA.set(sla, key, value)
        return sla


# --- service requests (clause 8.3.3 for 8.6.2) -----------------------------------------------
# One fulfilment SLA per requested item of a priority, a resolution target per priority.
REQUEST_TARGET_SECONDS: dict[str, int] = {
    "1": 12 * 3600, "2": 86400, "3": 2 * 86400, "4": 3 * 86400, "5": 5 * 86400,
}
REQUEST_RECORDED, REQUEST_BREACH, REQUEST_PAUSE = (
    "request.sla.recorded", "request.sla.breach_reason", "request.sla.pause_reason")


def request_definition_id(priority: str) -> str:
    return definition_id(f"sc_req_item:{priority}", "resolution")


def request_definitions(created: str) -> list[Row]:
    rows = []
    for priority, seconds in sorted(REQUEST_TARGET_SECONDS.items()):
        row = CONTRACT_SLA.new_row()
        hours = seconds // 3600
        for key, value in (("sys_id", request_definition_id(priority)),
                           ("name", f"Priority {priority} fulfilment ({hours} hours)"),
                           ("target", "resolution"), ("collection", "sc_req_item"),
                           ("duration", _duration(seconds)),
                           ("sys_created_on", created), ("sys_updated_on", created)):
            CONTRACT_SLA.set(row, key, value)
        rows.append(row)
    return rows


class RequestSlaGenerator:
    """task_sla rows for the requested items, with their own random stream; plants the request
    SLA defects into `planted`, each on an item that carries one defect so far.

    Every item of a priority has a fulfilment SLA started when it was opened: cancelled for a
    canceled item, completed when it was closed (within target on the instance's schedule,
    unless its planted defect is request.sla.breach_reason: closed after the target, a breach
    no reason explains),
    paused while it awaits approval (its state says why), in progress otherwise. Planted too:
    request.sla.recorded (no SLA record at all) and request.sla.pause_reason (an SLA paused
    while the item is in fulfilment, which says nothing of what it waits for)."""

    def __init__(self, seed: int, anchor: int, fmt: Callable[[float], str],
                 defect_rate: float) -> None:
        self.rng = random.Random(f"task_sla:sc_req_item:{seed}")
        self.anchor, self.fmt, self.rate = anchor, fmt, defect_rate
        c = SC_REQ_ITEM.col
        self.ST, self.PRI, self.OPEN, self.CLOSE = (c("state"), c("priority"), c("opened_at"),
                                                    c("closed_at"))
        self.NUM, self.SID = c("number"), c("sys_id")

    def run(self, items: list[Row], planted: dict[str, list[str]]) -> list[Row]:
        budget = max(1, round(len(items) * self.rate / 25)) if self.rate > 0 else 0
        planting = _Planting(self.rng, items, self.NUM, planted)

        def plant(rule: str, eligible: Callable[[Row], bool]) -> set[str]:
            return planting.plant(rule, eligible, budget)

        def live(r: Row) -> bool:
            return r[self.PRI] in REQUEST_TARGET_SECONDS and r[self.ST] not in ("4", "7")

        def late(r: Row) -> bool:  # closed after its target: a breach unless the schedule says not
            return bool(r[self.CLOSE]) and (_epoch(r[self.CLOSE]) - _epoch(r[self.OPEN])
                                            > REQUEST_TARGET_SECONDS[r[self.PRI]])

        breached = plant(REQUEST_BREACH, lambda r: live(r) and r[self.ST] == "3" and late(r))
        no_sla = plant(REQUEST_RECORDED, live)
        paused = plant(REQUEST_PAUSE, lambda r: live(r) and r[self.ST] == "2")
        return [self._sla(row, breached=row[self.NUM] in breached,
                          paused=row[self.NUM] in paused)
                for row in items
                if row[self.PRI] in REQUEST_TARGET_SECONDS and row[self.NUM] not in no_sla]

    def _sla(self, row: Row, *, breached: bool, paused: bool) -> Row:
        priority, state = row[self.PRI], row[self.ST]
        goal = REQUEST_TARGET_SECONDS[priority]
        start = _epoch(row[self.OPEN])
        stop = _epoch(row[self.CLOSE]) if row[self.CLOSE] else None
        if state in ("4", "7"):
            stage = "cancelled"
        elif stop is not None:
            stage = "completed"
        else:
            stage = "paused" if state == "-5" or paused else "in_progress"
            breached = False  # running within target on the instance's schedule
        elapsed = (stop if stop is not None else self.anchor) - start
        if not breached:
            elapsed = min(elapsed, int(goal * 0.9))
        sla = TASK_SLA.new_row()
        pause = 600 + int(7200 * self.rng.random()) if stage == "paused" else 0
        for key, value in (
                ("sys_id", f"{self.rng.getrandbits(128):032x}"), ("task", row[self.SID]),
                ("sla", request_definition_id(priority)), ("stage", stage),
                ("has_breached", "true" if breached else "false"),
                ("start_time", row[self.OPEN]),
                ("end_time", self.fmt(stop) if stop is not None else ""),
                ("planned_end_time", self.fmt(start + goal)),
                ("business_percentage", f"{100 * max(0, elapsed) / goal:.2f}"),
                ("pause_duration", _duration(pause) if pause else _ZERO),
                ("sys_created_on", row[self.OPEN]),
                ("sys_updated_on", self.fmt(min(stop or self.anchor - 1, self.anchor - 1)))):
            TASK_SLA.set(sla, key, value)
        return sla
