"""Batched, bounded look-ups of linked records and referrer counts for one page of records."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from sms_conformance.connectors.base import Connector
from sms_conformance.records import Process, Record, Ref, is_absent
from sms_conformance.rules import model as m
from sms_conformance.rules.fields import linked_conditions, referrer_needs

MISSING = object()


class LinkCache:
    """The engine's LinkView over a connector: refs resolved a page at a time (no N+1).

    Resolved records are kept in a bounded LRU so memory does not grow with the scan.
    """

    def __init__(self, connector: Connector, capacity: int = 20_000) -> None:
        self.connector = connector
        self.capacity = capacity
        self._records: OrderedDict[Ref, Record | object] = OrderedDict()
        self._counts: dict[tuple[str, str, str], int] = {}

    def get(self, ref: Ref) -> Record | None:
        found = self._records.get(ref, MISSING)
        if found is MISSING:
            # Not prefetched (should not happen): fetch alone rather than guess.
            self._load([ref])
            found = self._records.get(ref)
        return found if isinstance(found, Record) else None

    def referrers(self, process: Process, field: str, record_id: str) -> int:
        key = (Process(process).value, field, record_id)
        if key not in self._counts:
            self._counts.update(
                ((key[0], field, i), n)
                for i, n in self.connector.count_referrers(process, field, [record_id]).items()
            )
        return self._counts.get(key, 0)

    def _load(self, refs: Sequence[Ref]) -> list[Record]:
        wanted = [r for r in dict.fromkeys(refs) if r not in self._records and not is_absent(r)]
        found = self.connector.resolve(wanted) if wanted else {}
        for ref in wanted:
            self._records[ref] = found.get(ref, MISSING)
        for ref in refs:
            if ref in self._records:
                self._records.move_to_end(ref)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)
        return list(found.values())

    def prefetch(self, records: Sequence[Record], rules: Sequence[m.Rule], extra: Sequence[str] = ()) -> None:
        """Resolve every reference the rules follow (level by level) and count referrers."""
        self._counts.clear()
        conditions = tuple(c for rule in rules for c in rule.check)
        frontier: list[tuple[Sequence[Record], tuple[m.Condition, ...]]] = [(records, conditions)]
        while frontier:
            batch, conds = frontier.pop()
            links = linked_conditions(conds)
            refs = [r.get(c.field) for r in batch for c in links]
            refs += [r.get(name) for r in batch for name in extra]
            resolved = self._load([x for x in refs if isinstance(x, Ref)])
            nested = tuple(w for c in links for w in c.where)
            if nested and resolved:
                frontier.append((resolved, nested))
        for need in referrer_needs(conditions):
            ids = [r.id for r in records]
            counts = self.connector.count_referrers(need.process, need.field, ids)
            self._counts.update(((need.process.value, need.field, i), n) for i, n in counts.items())
