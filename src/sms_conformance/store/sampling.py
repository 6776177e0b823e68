"""A reproducible stratified sample of the records of a stored scan, as auditors draw one.

Method: records are grouped into strata by the chosen fields (priority, service, process); a
sample of N is allocated to the strata in proportion to their sizes (each stratum's share
N * size / population, rounded by the largest-remainder method); when N is at least the number
of strata, a stratum whose share rounds to 0 still gets one record, taken from the stratum most
above its share, so a rare priority is never left out. When N is below the number of strata,
strata get one each: first one stratum of each value of the first `--by` field (its largest;
by priority, P1 first when not even those fit), then the largest others; the strata left out
are reported with the sample, never silently dropped. No stratum gets more than it holds. Within a
stratum, records are ordered by (process, number) and drawn with `random.Random` seeded by
"<seed>:<stratum>", so the same seed and the same scan give the same records on any machine,
whatever order the store returns them in, and a stratum's draw does not depend on the others.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sms_conformance.model.errors import ConfigError

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


def allocate(sizes: dict[tuple[str, ...], int], n: int,
             by: Sequence[str] = ()) -> dict[tuple[str, ...], int]:
    """Records to draw per stratum: shares n * size / total rounded by largest remainder (ties:
    larger stratum, then key); a stratum left at 0 gets 1, taken from the stratum most above its
    share; below one per stratum, one each for n strata (`first_covered`). Never more than a
    stratum holds."""
    strata = sorted(k for k, size in sizes.items() if size > 0)
    total = sum(sizes[k] for k in strata)
    n = min(n, total)
    if n <= 0:
        return {}
    if n < len(strata):  # not one for each: every value of the first field, then the largest
        return dict.fromkeys(first_covered(strata, sizes, n, by), 1)
    quota = {k: n * sizes[k] / total for k in strata}
    given = {k: int(quota[k]) for k in strata}
    spare = n - sum(given.values())
    for k in sorted(strata, key=lambda k: (given[k] - quota[k], -sizes[k], k))[:spare]:
        given[k] += 1
    for k in strata:
        if given[k] == 0:
            donor = max((d for d in strata if given[d] > 1),
                        key=lambda d: (given[d] - quota[d], sizes[d], d))
            given[donor] -= 1
            given[k] = 1
    return {k: v for k, v in given.items() if v}


def first_covered(strata: Sequence[tuple[str, ...]], sizes: dict[tuple[str, ...], int], n: int,
                  by: Sequence[str]) -> list[tuple[str, ...]]:
    """`n` strata: the largest stratum of each value of the first field (priorities in order, P1
    first; other fields' values by size), then the largest of the rest."""
    largest = sorted(strata, key=lambda k: (-sizes[k], k))
    heads: dict[str, tuple[str, ...]] = {}
    for key in largest:
        heads.setdefault(key[0], key)
    chosen = list(heads.values())
    if by and by[0] == "priority":
        chosen.sort(key=lambda k: (not k[0].isdigit(), int(k[0]) if k[0].isdigit() else 0, k))
    chosen = chosen[:n]
    return chosen + [k for k in largest if k not in chosen][:n - len(chosen)]


def draw(records: Iterable[Scanned], by: Sequence[str], size: int,
         seed: int) -> tuple[list[Scanned], dict[tuple[str, ...], tuple[int, int]]]:
    """The sample, ordered by stratum then number, and per stratum (population, drawn)."""
    strata: dict[tuple[str, ...], list[Scanned]] = {}
    for record in records:
        strata.setdefault(record.stratum(by), []).append(record)
    counts = allocate({k: len(v) for k, v in strata.items()}, size, by)
    sample: list[Scanned] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda r: (r.process, r.number, r.record_id))
        want = counts.get(key, 0)
        if want:
            rng = random.Random(f"{seed}:{chr(31).join(key)}")
            picked = rng.sample(members, want)
            sample.extend(sorted(picked, key=lambda r: (r.process, r.number, r.record_id)))
    return sample, {k: (len(v), counts.get(k, 0)) for k, v in sorted(strata.items())}
