"""Process metrics the ISO/IEC 20000-1 guidance names, computed while a scan reads records.

Clause 8.6.1 guidance: time to restore by priority, reopen rate, aging backlog, volume by
service; 8.3.3: the SLA breach rate per service and priority, from the records' own SLA
records (of the incidents carrying one, those with a breached SLA; read where a scan reads the
SLA fields, that is where an SLA rule runs); 8.6.3: problem age, known errors without a
workaround; 8.5.1: change success rate and the share of emergency changes. Every metric is
computed from the records read (not from the findings), and says how many records it could not
place: a value the source did not provide (records.Unknown) is `unknown`, an empty one is
`missing`; neither is counted as zero, as a success or as a miss.

Cost: O(1) per record (a few dictionary look-ups). Durations are kept whole, 8 bytes each in an
array (about 6 MiB per million resolved incidents), so quantiles are exact and the same whatever
order the records came in (parallel key ranges deliver them in no fixed order); services are
counted in at most MAX_SERVICES counters, everything else in fixed counters.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sms_conformance.model.records import Record, Ref, Unknown, Value, is_absent, not_returned
from sms_conformance.support.durations import parse_duration

MAX_SERVICES = 1000  # distinct services counted one by one; the rest add up under OTHER
OTHER = "(other services)"
NO_SERVICE = "(no service)"
DAY = 86400.0
# Age buckets of open records, in days: [0, 7), [7, 30), [30, 90), [90, ...)
AGE_BUCKETS = ((0, "under 7 days"), (7, "7 to 30 days"), (30, "30 to 90 days"),
               (90, "90 days and over"))

# Canonical fields each process's metrics read: a scan asks the source for them too.
METRIC_FIELDS: dict[str, frozenset[str]] = {
    "incident": frozenset({"state", "priority", "opened_at", "resolved_at", "reopen_count",
                           "service"}),
    "problem": frozenset({"state", "opened_at", "known_error", "workaround"}),
    "change": frozenset({"state", "type", "resolution_code"}),
}
_INCIDENT_OPEN = frozenset({"new", "in_progress", "on_hold"})
_INCIDENT_DONE = frozenset({"resolved", "closed"})
_PROBLEM_DONE = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class MetricSettings:
    """What the metrics compare against: restore targets by priority and the backlog age, from
    the same settings the rules read (restore_targets, backlog_max_age)."""

    restore_targets: Mapping[int, float]  # priority -> seconds
    backlog_max_age: float  # seconds

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MetricSettings:
        targets = {int(p): parse_duration(v).total_seconds()
                   for p, v in settings["restore_targets"].items()}
        return cls(targets, parse_duration(settings["backlog_max_age"]).total_seconds())


class Sample:
    """Every non-negative duration in seconds of one line, packed 8 bytes each: the figures are
    exact and independent of the order the records came in."""

    def __init__(self) -> None:
        self.values = array("d")

    @property
    def count(self) -> int:
        return len(self.values)

    def add(self, value: float) -> None:
        self.values.append(value)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        return {"count": self.count, "median": _quantile(ordered, 0.5),
                "p90": _quantile(ordered, 0.9), "max": ordered[-1] if ordered else None,
                "exact": True}


def _quantile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank quantile (a value that occurred, no interpolation)."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[int(rank) - 1]


def _get(fields: Mapping[str, Value], name: str) -> Value:
    """A field the record does not carry at all (not mapped for this platform) is unknown."""
    return fields[name] if name in fields else not_returned(name)


def _state(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _gap(value: Value) -> str | None:
    """'unknown' for a value the source did not provide, 'missing' for an empty one."""
    if isinstance(value, Unknown):
        return "unknown"
    return "missing" if is_absent(value) else None


class _Gaps:
    """How many records a metric could not place, and why."""

    def __init__(self) -> None:
        self.unknown = 0
        self.missing = 0

    def note(self, kind: str) -> None:
        if kind == "unknown":
            self.unknown += 1
        else:
            self.missing += 1

    def as_dict(self) -> dict[str, int]:
        return {"unknown": self.unknown, "missing": self.missing}


class _Ages:
    """Ages of open records: sample, buckets, and how many are older than a limit."""

    def __init__(self, limit: float | None = None) -> None:
        self.sample = Sample()
        self.buckets = [0] * len(AGE_BUCKETS)
        self.limit = limit
        self.over = 0
        self.gaps = _Gaps()

    def add(self, opened: Value, now: datetime) -> None:
        gap = _gap(opened)
        if gap is not None or not isinstance(opened, datetime):
            self.gaps.note(gap or "unknown")
            return
        age = max(0.0, (now - opened).total_seconds())
        self.sample.add(age)
        days = age / DAY
        self.buckets[max(i for i, (low, _) in enumerate(AGE_BUCKETS) if days >= low)] += 1
        if self.limit is not None and age > self.limit:
            self.over += 1

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "age_seconds": self.sample.summary(),
            "buckets": [{"label": label, "count": n}
                        for (_, label), n in zip(AGE_BUCKETS, self.buckets, strict=True)],
            **self.gaps.as_dict(),
        }
        if self.limit is not None:
            data["limit_seconds"] = self.limit
            data["over_limit"] = self.over
        return data


class _Restore:
    """Time to restore (opened -> resolved) of one priority."""

    def __init__(self, target: float | None) -> None:
        self.sample = Sample()
        self.target = target
        self.within = 0
        self.gaps = _Gaps()
        self.disordered = 0  # resolved before opened: not a duration, counted apart

    def as_dict(self) -> dict[str, Any]:
        known = self.sample.count
        return {
            "time_to_restore_seconds": self.sample.summary(),
            "target_seconds": self.target,
            "within_target": self.within if self.target is not None else None,
            "within_target_share": (self.within / known
                                    if self.target is not None and known else None),
            "resolved_before_opened": self.disordered,
            **self.gaps.as_dict(),
        }


class _ServiceLevels:
    """SLA breaches per (service, priority): of the records carrying an SLA record (the
    denominator), those with a breached one. Records the SLA records could not be read for
    are unknown, records without one counted apart (incident.sla.recorded finds those)."""

    def __init__(self) -> None:
        self.read = False  # some record carried the SLA fields (a rule read them)
        self.lines: dict[tuple[str, str], list[int]] = {}  # -> [with an SLA, breached]
        self.without = 0
        self.gaps = _Gaps()

    def observe(self, fields: Mapping[str, Value]) -> None:
        if "sla_count" not in fields:
            return
        self.read = True
        count, breached = fields["sla_count"], fields.get("sla_breached")
        if not isinstance(count, int) or not isinstance(breached, int):
            self.gaps.note(_gap(count if not isinstance(count, int) else breached) or "unknown")
            return
        if count == 0:
            self.without += 1
            return
        service, priority = _get(fields, "service"), _get(fields, "priority")
        key = (service.id if isinstance(service, Ref) and service.id else NO_SERVICE,
               str(priority) if isinstance(priority, int) else "(none)")
        if key not in self.lines and len(self.lines) >= MAX_SERVICES:
            key = (OTHER, key[1])
        line = self.lines.setdefault(key, [0, 0])
        line[0] += 1
        line[1] += breached > 0

    def as_dict(self) -> dict[str, Any]:
        lines = [{"service": service, "priority": priority, "with_sla": n, "breached": b,
                  "rate": b / n} for (service, priority), (n, b) in sorted(self.lines.items())]
        with_sla = sum(n for n, _ in self.lines.values())
        breached = sum(b for _, b in self.lines.values())
        return {"breach_rate": {"breached": breached, "with_sla": with_sla,
                                "rate": breached / with_sla if with_sla else None},
                "by_service_priority": lines, "without_sla": self.without,
                **self.gaps.as_dict()}


class ProcessMetrics:
    """Collects the metrics of every process of one scan; `observe` each record read once."""

    def __init__(self, settings: MetricSettings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.records: dict[str, int] = {}
        self.states: dict[str, dict[str, int]] = {}
        self.population: dict[str, str] = {}
        # incidents
        self.restore: dict[str, _Restore] = {}
        self.restore_gaps = _Gaps()  # resolved incidents whose priority is not known
        self.reopened = 0
        self.reopen_base = 0
        self.reopen_gaps = _Gaps()
        self.backlog = _Ages(settings.backlog_max_age)
        self.services: dict[str, int] = {}
        self.service_gaps = _Gaps()
        self.slas = _ServiceLevels()
        # problems
        self.problem_ages = _Ages()
        self.known_errors = 0
        self.known_open = 0
        self.without_workaround = 0
        self.known_error_gaps = _Gaps()
        self.workaround_gaps = _Gaps()
        # changes
        self.closed_codes: dict[str, int] = {}
        self.code_gaps = _Gaps()
        self.types: dict[str, int] = {}
        self.type_gaps = _Gaps()

    def start(self, process: str, population: str) -> None:
        """`population`: what the records read cover (the whole table, or which part)."""
        self.population[process] = population
        self.records.setdefault(process, 0)

    def observe(self, record: Record) -> None:
        process = record.process
        self.records[process] = self.records.get(process, 0) + 1
        fields = record.fields
        raw_state = _get(fields, "state")
        state = _state(raw_state)
        counts = self.states.setdefault(process, {})
        key = state or ("(unknown)" if isinstance(raw_state, Unknown) else "(missing)")
        counts[key] = counts.get(key, 0) + 1
        if process == "incident":
            self._incident(fields, state)
        elif process == "problem":
            self._problem(fields, state)
        elif process == "change":
            self._change(fields, state)

    # incidents -------------------------------------------------------------------------
    def _incident(self, fields: Mapping[str, Value], state: str | None) -> None:
        self._service(_get(fields, "service"))
        self.slas.observe(fields)
        reopens = _get(fields, "reopen_count")
        count = reopens if isinstance(reopens, int) and not isinstance(reopens, bool) else None
        if state is None:
            return
        if state in _INCIDENT_OPEN:
            self.backlog.add(_get(fields, "opened_at"), self.now)
        # Reopen rate: of the incidents resolved at least once (resolved or closed now, or
        # reopened since), the share reopened.
        if state in _INCIDENT_DONE or (count or 0) > 0:
            if count is None:
                self.reopen_gaps.note(_gap(reopens) or "unknown")
            else:
                self.reopen_base += 1
                self.reopened += count > 0
        if state in _INCIDENT_DONE:
            self._restored(fields)

    def _restored(self, fields: Mapping[str, Value]) -> None:
        priority = _get(fields, "priority")
        gap = _gap(priority)
        if gap is not None or not isinstance(priority, int):
            self.restore_gaps.note(gap or "unknown")
            return
        line = self.restore.get(str(priority))
        if line is None:
            line = self.restore[str(priority)] = _Restore(
                self.settings.restore_targets.get(priority))
        opened, resolved = _get(fields, "opened_at"), _get(fields, "resolved_at")
        gap = _gap(opened) or _gap(resolved)
        if gap is not None or not isinstance(opened, datetime) or not isinstance(resolved, datetime):
            line.gaps.note(gap or "unknown")
            return
        elapsed = (resolved - opened).total_seconds()
        if elapsed < 0:
            line.disordered += 1
            return
        line.sample.add(elapsed)
        if line.target is not None and elapsed <= line.target:
            line.within += 1

    def _service(self, service: Value) -> None:
        gap = _gap(service)
        if gap == "unknown":
            self.service_gaps.note(gap)
            return
        name = (NO_SERVICE if gap else
                service.id if isinstance(service, Ref) else str(service))
        if name in self.services or len(self.services) < MAX_SERVICES:
            self.services[name] = self.services.get(name, 0) + 1
        else:
            self.services[OTHER] = self.services.get(OTHER, 0) + 1

    # problems --------------------------------------------------------------------------
    def _problem(self, fields: Mapping[str, Value], state: str | None) -> None:
        if state is not None and state not in _PROBLEM_DONE:
            self.problem_ages.add(_get(fields, "opened_at"), self.now)
        known = _get(fields, "known_error")
        if not isinstance(known, bool):
            self.known_error_gaps.note(_gap(known) or "unknown")
            return
        if not known:
            return
        self.known_errors += 1
        self.known_open += state is not None and state not in _PROBLEM_DONE
        workaround = _get(fields, "workaround")
        if isinstance(workaround, Unknown):
            self.workaround_gaps.note("unknown")
        elif is_absent(workaround):
            self.without_workaround += 1

    # changes ---------------------------------------------------------------------------
    def _change(self, fields: Mapping[str, Value], state: str | None) -> None:
        kind = _get(fields, "type")
        gap = _gap(kind)
        if gap is not None:
            self.type_gaps.note(gap)
        else:
            self.types[str(kind)] = self.types.get(str(kind), 0) + 1
        if state != "closed":
            return
        code = _get(fields, "resolution_code")
        gap = _gap(code)
        if gap is not None:
            self.code_gaps.note(gap)
        else:
            self.closed_codes[str(code)] = self.closed_codes.get(str(code), 0) + 1

    # result ----------------------------------------------------------------------------
    def result(self) -> dict[str, dict[str, Any]]:
        """Per process read, a JSON-ready mapping of its metrics."""
        out: dict[str, dict[str, Any]] = {}
        for process, count in self.records.items():
            base = {"records": count, "population": self.population.get(process, ""),
                    "states": dict(sorted(self.states.get(process, {}).items()))}
            details = {"incident": self._incident_result, "problem": self._problem_result,
                       "change": self._change_result}.get(process)
            out[process] = {**base, **(details() if details else {})}
        return out

    def _incident_result(self) -> dict[str, Any]:
        services = sorted(self.services.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "time_to_restore": {p: self.restore[p].as_dict()
                                for p in sorted(self.restore, key=int)},
            "time_to_restore_priority_gaps": self.restore_gaps.as_dict(),
            "reopen": {"reopened": self.reopened, "base": self.reopen_base,
                       "rate": self.reopened / self.reopen_base if self.reopen_base else None,
                       **self.reopen_gaps.as_dict()},
            "backlog": self.backlog.as_dict(),
            "volume_by_service": {"services": [{"service": s, "count": n} for s, n in services],
                                  **self.service_gaps.as_dict()},
            **({"service_levels": self.slas.as_dict()} if self.slas.read else {}),
        }

    def _problem_result(self) -> dict[str, Any]:
        return {
            "open_age": self.problem_ages.as_dict(),
            "known_errors": {"count": self.known_errors, "open": self.known_open,
                             "without_workaround": self.without_workaround,
                             "workaround_unknown": self.workaround_gaps.unknown,
                             **self.known_error_gaps.as_dict()},
        }

    def _change_result(self) -> dict[str, Any]:
        coded = sum(self.closed_codes.values())
        succeeded = sum(n for code, n in self.closed_codes.items() if is_success(code))
        typed = sum(self.types.values())
        emergency = self.types.get("emergency", 0)
        return {
            "success": {"closed_with_code": coded, "successful": succeeded,
                        "rate": succeeded / coded if coded else None,
                        "by_code": dict(sorted(self.closed_codes.items())),
                        **self.code_gaps.as_dict()},
            "emergency": {"emergency": emergency, "typed": typed,
                          "share": emergency / typed if typed else None,
                          "by_type": dict(sorted(self.types.items())),
                          **self.type_gaps.as_dict()},
        }


def is_success(code: str) -> bool:
    """Close codes that say the change succeeded: `successful` and `successful_issues`
    (ServiceNow's "Successful" and "Successful with issues"); `unsuccessful` and any other
    code count against the rate."""
    return code.startswith("successful")


def age_text(seconds: float | None) -> str:
    """A duration for people: 45m, 7.5h, 3.2d."""
    if seconds is None:
        return "-"
    span = timedelta(seconds=seconds)
    if span < timedelta(hours=1):
        return f"{seconds / 60:.0f}m"
    if span < timedelta(days=2):
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / DAY:.1f}d"
