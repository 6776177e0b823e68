"""A reproducible stratified sample of the records of a stored scan, as auditors draw one.

Method: records are grouped into strata by the chosen fields (priority, service, process); a
sample of N is allocated to the strata in proportion to their sizes by the largest-remainder
method, after giving every non-empty stratum one record first when N is at least the number
of strata (so a rare priority is never left out); no stratum gets more than it holds. Within a
stratum, records are ordered by (process, number) and drawn with `random.Random` seeded by
"<seed>:<stratum>", so the same seed and the same scan give the same records on any machine,
whatever order the store returns them in, and a stratum's draw does not depend on the others.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sms_conformance.errors import ConfigError

STRATA = ("priority", "service", "process")


@dataclass(frozen=True)
class Scanned:
    """One record a scan evaluated, as the history store keeps it."""

    process: str
    record_id: str
    number: str
    priority: int | None
    service: str | None
    updated: int | None  # epoch seconds

    @property
    def updated_at(self) -> str:
        if self.updated is None:
            return ""
        return datetime.fromtimestamp(self.updated, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def stratum(self, by: Sequence[str]) -> tuple[str, ...]:
        values = {"priority": self.priority, "service": self.service, "process": self.process}
        return tuple("" if values[name] is None else str(values[name]) for name in by)


def parse_by(text: str) -> tuple[str, ...]:
    """`priority,service` -> ("priority", "service"); an unknown field is a usage error."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in STRATA]
    if not names or bad:
        raise ConfigError(f"--by {text!r}: expected a comma-separated list of {', '.join(STRATA)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--by {text!r}: a field is named twice")
    return names


def allocate(sizes: dict[tuple[str, ...], int], n: int) -> dict[tuple[str, ...], int]:
    """Records to draw per stratum: one each first where n allows, the rest in proportion to
    size by largest remainder (ties: larger stratum, then key), capped at each stratum's size."""
    strata = sorted(k for k, size in sizes.items() if size > 0)
    total = sum(sizes[k] for k in strata)
    n = min(n, total)
    base = dict.fromkeys(strata, 1 if n >= len(strata) else 0)
    left = n - sum(base.values())
    while left > 0:
        room = {k: sizes[k] - base[k] for k in strata if sizes[k] > base[k]}
        weight = sum(room.values())
        quotas = {k: left * r / weight for k, r in room.items()}
        given = {k: min(int(q), room[k]) for k, q in quotas.items()}
        spare = left - sum(given.values())
        order = sorted(room, key=lambda k: (-(quotas[k] - int(quotas[k])), -sizes[k], k))
        for k in order:
            if spare <= 0:
                break
            if given[k] < room[k]:
                given[k] += 1
                spare -= 1
        for k, extra in given.items():
            base[k] += extra
        left = n - sum(base.values())
    return {k: v for k, v in base.items() if v}


def draw(records: Iterable[Scanned], by: Sequence[str], size: int,
         seed: int) -> tuple[list[Scanned], dict[tuple[str, ...], tuple[int, int]]]:
    """The sample, ordered by stratum then number, and per stratum (population, drawn)."""
    strata: dict[tuple[str, ...], list[Scanned]] = {}
    for record in records:
        strata.setdefault(record.stratum(by), []).append(record)
    counts = allocate({k: len(v) for k, v in strata.items()}, size)
    sample: list[Scanned] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda r: (r.process, r.number, r.record_id))
        want = counts.get(key, 0)
        if want:
            rng = random.Random(f"{seed}:{chr(31).join(key)}")
            picked = rng.sample(members, want)
            sample.extend(sorted(picked, key=lambda r: (r.process, r.number, r.record_id)))
    return sample, {k: (len(v), counts.get(k, 0)) for k, v in sorted(strata.items())}
