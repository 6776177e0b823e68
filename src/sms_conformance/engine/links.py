"""The engine's view of other records, looked up in full batches across pages (no N+1).

References are joined by canonical kind and record id (records.Ref): the connector maps a kind to
where its platform keeps such records (a ServiceNow table, Jira issues of a work type).

A record whose references are not known yet waits; once a table has a full batch of unknown
references they are fetched in one request, so a scan makes about ceil(distinct refs / batch)
look-ups in all, not one per page. Only what the rules read is kept: existence, plus the fields
that `where` conditions read on linked records, for at most `capacity` records (oldest first
out), so memory does not grow with the size of the instance. Past that many distinct references
a reference seen again may be fetched again.

Local join: a referenced table that a scan would otherwise query in many look-up batches is read
once whole in a projected pass (sys_id and the kept fields, large pages), when that takes fewer
requests; and the referrers of a record are counted from the referring table's own pages when
that table was read whole in this scan. An index is complete or the scan is incomplete (the pass
fails as a look-up would), so an id missing from it does not exist; a record created after the
pass and linked before its referrer is read is the one case a look-up would have found (the window
is the scan's own duration, as for a look-up made before the creation). A table that could not
be read stays unknown.

Withheld records (read ACLs): when the source counted more records than it returned (a pass, a
look-up batch, the referring table's pages), a record not returned is unknown, not missing, and
a referrer count below a rule's minimum is unknown, not a failure. When the count does not show
them (an instance counting after ACLs), nothing tells them apart from missing records.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from sms_conformance.connectors.base import (
    Connector,
    NotRead,
    Partial,
    TableRows,
    referrers_withheld,
    withheld_reason,
)
from sms_conformance.model.records import NamedRef, Process, Record, Ref, is_absent
from sms_conformance.model.schema import target
from sms_conformance.rules import model as m
from sms_conformance.rules.checks import PartialCount, UnknownValue
from sms_conformance.rules.fields import condition_fields, linked_conditions, referrer_needs

Count = tuple[str, str]  # (process, canonical field) of a referrer count
INDEX_CAP = 1_000_000  # records of one table held in a local index; a larger one is looked up
DICT_RECORDS = 10_000  # of an index, kept in a plain dict (fast); the rest compact
# Clock skew allowed between this machine and the instance when telling a record changed after
# an index pass began (such a record's links are looked up, not taken from the index).
RECENT_MARGIN = timedelta(minutes=10)
_NOTHING: Mapping[str, Any] = MappingProxyType({})
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_LOW = (1 << 64) - 1


class KnownRecords:
    """Looked-up records in a bounded FIFO, kept small: per (kind, record id), the values of
    the few fields rules read on linked records (None: the record does not exist). Keyed by
    kind too: one id may be a missing problem and a missing change at once. No Record objects
    are held, so memory stays flat however many records a scan follows."""

    def __init__(self, capacity: int, kept: set[str], platform: str, instance: str) -> None:
        self.capacity = capacity
        self.kept = tuple(sorted(kept - {"name"}))
        self.platform, self.instance = platform, instance
        # None: the record does not exist; a str: why whether it exists is unknown.
        self.items: OrderedDict[tuple[str, str], tuple[Any, ...] | str | None] = OrderedDict()
        self.shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, Ref) and (ref.kind, ref.id) in self.items

    def put(self, ref: Ref, record: Record | None | str) -> None:
        """A record, None (it does not exist) or why its existence is unknown."""
        self.items[(ref.kind, ref.id)] = (record if record is None or isinstance(record, str)
                                          else self.pack(record))
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)

    def get(self, ref: Ref) -> Record | None:
        item = self.items.get((ref.kind, ref.id))
        if item is None:
            return None
        if isinstance(item, str):
            raise UnknownValue(ref.kind, item)
        return self.unpack(ref, item)

    def pack(self, record: Record) -> tuple[Any, ...]:
        """The kept values of an existing record: the shared empty tuple when there are none,
        else one tuple per distinct values (a few states across many records)."""
        values = (*(record.fields.get(k) for k in self.kept), record.raw.get("name"))
        return self.shared.setdefault(values, values) if any(v is not None for v in values) else ()

    def unpack(self, ref: Ref, values: tuple[Any, ...]) -> Record:
        values = values or (None,) * (len(self.kept) + 1)
        fields = {k: v for k, v in zip(self.kept, values[:-1], strict=True) if v is not None}
        raw = {"name": values[-1]} if values[-1] is not None else _NOTHING
        return Record(platform=self.platform, instance=self.instance, process="", table=ref.kind,
                      id=ref.id, number="", url="", fields=fields, raw=raw)


class TableIndex:
    """Every record of one kind, read whole in this scan: id -> its kept values, packed as
    KnownRecords packs them, without eviction (INDEX_CAP bounds it). An id not in it does not
    exist. The first DICT_RECORDS records go to a dict (small tables, such as assignment groups,
    are found at dict speed); past them, ids of 32 lowercase hexadecimal digits (ServiceNow's)
    coming in ascending order, as a keyset pass reads them, are kept as two sorted 64-bit halves
    beside the number of their values and found by bisection: about 20 bytes a record against
    some 130 in the dict. Any other id, or one out of order, goes to the dict, which wins.
    When the pass showed `withheld` records (counted, not returned), whether an id not in it
    exists is unknown."""

    def __init__(self, kind: str, layout: KnownRecords, started: datetime) -> None:
        self.kind, self.layout = kind, layout
        self.high, self.low, self.slot = array("Q"), array("Q"), array("I")
        self.values: list[tuple[Any, ...]] = []  # distinct packed values, by slot
        self.slots: dict[tuple[Any, ...], int] = {}
        self.others: dict[str, tuple[Any, ...]] = {}
        self.last = -1  # the largest hexadecimal id put so far
        self.withheld = 0
        # A record changed since then may link one the pass did not see (created meanwhile):
        # such a link is looked up before it is called missing.
        self.started = started - RECENT_MARGIN

    def __contains__(self, record_id: str) -> bool:
        return self._values(record_id) is not None

    def put(self, record: Record) -> None:
        values = self.layout.pack(record)
        key = _hex_key(record.id)
        if key is None or key <= self.last or len(self.others) < DICT_RECORDS:
            self.others[record.id] = values
            if key is not None:
                self.last = max(self.last, key)
            return
        slot = self.slots.get(values)
        if slot is None:
            slot = self.slots[values] = len(self.values)
            self.values.append(values)
        self.high.append(key >> 64)
        self.low.append(key & _LOW)
        self.slot.append(slot)
        self.last = key

    def get(self, ref: Ref) -> Record | None:
        values = self._values(ref.id)
        if values is not None:
            return self.layout.unpack(ref, values)
        if self.withheld:
            raise UnknownValue(ref.kind, withheld_reason(ref.kind, ref.id, self.withheld))
        return None

    def _values(self, record_id: str) -> tuple[Any, ...] | None:
        if self.others and (values := self.others.get(record_id)) is not None:
            return values
        key = _hex_key(record_id)
        if key is None:
            return None
        high, low = key >> 64, key & _LOW
        at, end = bisect_left(self.high, high), len(self.high)
        while at < end and self.high[at] == high:  # equal high halves: next to each other
            if self.low[at] == low:
                return self.values[self.slot[at]]
            at += 1
        return None


def _hex_key(record_id: str) -> int | None:
    """The id as a 128-bit number if it is 32 lowercase hexadecimal digits, else None."""
    return int(record_id, 16) if _HEX_ID.fullmatch(record_id) else None


def _tally_key(record_id: str) -> int | str:
    """A referenced id as a tally keeps it: a 128-bit number takes 48 bytes, its text 88."""
    key = _hex_key(record_id)
    return record_id if key is None else key


class LinkResolver:
    def __init__(self, connector: Connector, rules: Sequence[m.Rule], *, batch: int = 100,
                 extra_refs: Sequence[str] = (), capacity: int = 100_000,
                 local: bool = True) -> None:
        self.connector = connector
        self.local = local
        self.batch = batch
        checks = tuple(c for rule in rules for c in rule.check)
        self.where = tuple(w for c in linked_conditions(checks) for w in c.where)
        self.kept_fields = set().union(*(condition_fields(w) for w in self.where)) | {"name"}
        # Per process of the record: reference fields to resolve, referrer counts to fetch.
        self.ref_fields: dict[str, list[str]] = {}
        self.count_needs: dict[str, list[Count]] = {}
        for process in {rule.process.value for rule in rules}:
            own = tuple(c for rule in rules if rule.process.value == process for c in rule.check)
            fields = {c.field for c in linked_conditions(own)} | set(extra_refs)
            self.ref_fields[process] = sorted(fields)
            needs = {(n.process.value, n.field) for n in referrer_needs(own)}
            self.count_needs[process] = sorted(needs)
        self.known = KnownRecords(capacity, self.kept_fields, connector.platform, connector.instance)
        self.counts: dict[tuple[str, str, str], int] = {}
        # What the source could not read: links into these are unknown, never "missing".
        self.unread: dict[str, str] = {}  # kind -> reason
        self.unread_counts: dict[Count, str] = {}
        # Referrer counts that may be short (the source withheld referring records): why.
        self.short_counts: dict[tuple[str, str, str], str] = {}
        self.short_tallies: dict[Count, str] = {}
        self.pending_refs: dict[str, dict[Ref, None]] = {}
        self.pending_ids: dict[Count, dict[str, None]] = {}
        self.lookups = 0  # distinct references resolved plus ids whose referrers were counted
        # Local join: kinds read whole (id -> kept values), and referrer counts kept from the
        # pages of referring tables read whole in this scan.
        self.indexes: dict[str, TableIndex] = {}
        self.index_tried: set[str] = set()
        self.expected = 0  # records of the table being read: what look-ups would be needed for
        self.tallied: set[Count] = set()
        self.untallied: set[Count] = set()
        # Per need, referrers per referenced id (as _tally_key keys it), of the table being
        # read and, once it was read whole, kept until the referenced records are evaluated.
        self.tallies: dict[Count, dict[int | str, int]] = {}
        self.tally_needs: dict[str, list[Count]] = {}
        for process_needs in self.count_needs.values():
            for need in process_needs:
                if need not in self.tally_needs.setdefault(need[0], []):
                    self.tally_needs[need[0]].append(need)

    # LinkView ----------------------------------------------------------------------------
    def get(self, ref: Ref) -> Record | None:
        if ref.__class__ is NamedRef:
            raise UnknownValue(ref.kind, f"{ref.id!r} is the display value of a {ref.kind} "
                               "record, not its id: that record cannot be looked up")
        index = self.indexes.get(ref.kind)
        if index is not None:  # a record missing from it may have been looked up since
            # `ref in self.known` first: it is a dict look-up, the index one a bisection.
            if ref in self.known and ref.id not in index:
                return self.known.get(ref)
            return index.get(ref)
        if ref not in self.known and ref.kind not in self.unread:
            self._resolve([ref])
        if ref.kind in self.unread:
            raise UnknownValue(ref.kind, self.unread[ref.kind])
        return self.known.get(ref)

    def name_of(self, kind: str, record_id: str) -> str | None:
        """The name of a record this scan already read (a CI the rules followed), or None:
        display names are then not read a second time."""
        ref = Ref(kind, record_id)
        index = self.indexes.get(kind)
        try:
            if index is not None and record_id in index:
                record = index.get(ref)
            else:
                record = self.known.get(ref) if ref in self.known else None
        except UnknownValue:
            return None
        name = record.raw.get("name") if record is not None else None
        return name.strip() or None if isinstance(name, str) else None

    def read_without(self, kind: str, record_id: str) -> bool:
        """Whether this scan read `kind`'s table whole, every counted record, and `record_id`
        was not in it: the record does not exist, so there is no name to look up."""
        index = self.indexes.get(kind)
        return index is not None and not index.withheld and record_id not in index and Ref(
            kind, record_id) not in self.known

    def referrers(self, process: Process, field: str, record_id: str) -> int:
        key = (Process(process).value, field, record_id)
        if (key not in self.counts and key[:2] not in self.unread_counts
                and key[:2] not in self.tallied):
            self._count((key[0], field), [record_id])
        if key[:2] in self.unread_counts:
            raise UnknownValue(f"{key[0]}.{field}", self.unread_counts[key[:2]])
        count = self.counts.get(key, 0)
        if key[:2] in self.tallied:
            tallied = self.tallies[key[:2]].get(_tally_key(record_id))
            count = count if tallied is None else tallied
        short = self.short_tallies.get(key[:2]) or self.short_counts.get(key)
        if short:
            raise PartialCount(f"{key[0]}.{field}", short, count)
        return count

    def _waits_for(self, ref: object, updated: object = None) -> bool:
        if not (isinstance(ref, Ref) and ref.__class__ is not NamedRef and not is_absent(ref)
                and ref.kind not in self.unread and ref not in self.known):
            return False
        index = self.indexes.get(ref.kind)
        if index is None and self.local and ref.kind not in self.index_tried:
            index = self._index(ref.kind)
        if index is None:
            return ref.kind not in self.unread  # NotRead on the pass
        # Missing from the index, linked by a record changed since the pass began (or whose
        # change time is not known): the target may be newer than the pass, so look it up.
        return ref.id not in index and not (
            isinstance(updated, datetime) and updated < index.started)

    # local join --------------------------------------------------------------------------
    def expect(self, process: str, records: int | None) -> None:
        """`records` of `process` are being read (its X-Total-Count), which bounds the look-ups
        their references could need: the kinds they reference (per the canonical schema) are
        indexed at once, side by side, where a pass costs fewer requests."""
        self.expected = records or 0
        if not self.local:
            return
        kinds = {k for f in self.ref_fields.get(process, ()) if (k := target(process, f))}
        todo = sorted(kinds - self.index_tried - set(self.indexes) - set(self.unread))
        if len(todo) > 1:
            with ThreadPoolExecutor(len(todo), thread_name_prefix="index") as pool:
                for _ in pool.map(self._index, todo):  # re-raises a failed pass
                    pass

    def _index(self, kind: str) -> TableIndex | None:
        self.index_tried.add(kind)
        lookups = math.ceil(self.expected / self.batch)
        if lookups < 2:
            return None
        started = datetime.now(timezone.utc)
        try:
            records = self.connector.read_table(kind, self.kept_fields,
                                                min(lookups, INDEX_CAP // 10_000))
        except NotRead as exc:
            self.unread[kind] = exc.reason
            return None
        if records is None:  # larger than the look-ups it would save
            return None
        index = TableIndex(kind, self.known, started)
        for record in records:
            index.put(record)
        index.withheld = records.withheld if isinstance(records, TableRows) else 0
        self.indexes[kind] = index
        return index

    def tally(self, record: Record) -> None:
        """Counts the references of a record of a table read whole (unscoped, not incremental)."""
        for need in self.tally_needs.get(record.process, ()):
            ref = record.get(need[1])
            if ref.__class__ is Ref and not is_absent(ref):
                tallies = self.tallies.setdefault(need, {})
                key = _tally_key(ref.id)
                tallies[key] = tallies.get(key, 0) + 1
            elif not is_absent(ref):  # a name or an unknown value: the source must count
                self.untallied.add(need)

    def tallied_all(self, process: str) -> None:
        """The referring table `process` was read whole: its counts are complete, or at least
        as high as counted when the source withheld some of its records. A table the source
        did not read at all (not exported: an optional `not_read` of connectors) counted
        nothing: its counts are unknown, not zero."""
        reason = self.connector.not_read(Process(process))
        if reason:
            self.unread_counts.update(dict.fromkeys(self.tally_needs.get(process, ()), reason))
            return
        complete = {n for n in self.tally_needs.get(process, ()) if n not in self.untallied}
        self.tallied |= complete
        self.tallies = {n: self.tallies.get(n, {}) for n in self.tallied}
        withheld = self.connector.withheld(process)
        if withheld:
            self.short_tallies.update(dict.fromkeys(complete, referrers_withheld(process, withheld)))

    # batching ----------------------------------------------------------------------------
    def register(self, record: Record) -> bool:
        """Queue what `record` needs; True if it must wait for a look-up."""
        waiting = False
        updated = record.fields.get("updated_at")
        for name in self.ref_fields.get(record.process, ()):
            ref = record.get(name)
            if isinstance(ref, Ref) and self._waits_for(ref, updated):
                self.pending_refs.setdefault(ref.kind, {})[ref] = None
                waiting = True
        for need in self.count_needs.get(record.process, ()):
            if (need not in self.unread_counts and need not in self.tallied
                    and (*need, record.id) not in self.counts):
                self.pending_ids.setdefault(need, {})[record.id] = None
                waiting = True
        return waiting

    def has_full_batch(self) -> bool:
        sizes = [len(p) for p in self.pending_refs.values()]
        sizes += [len(p) for p in self.pending_ids.values()]
        return any(size >= self.batch for size in sizes)

    def flush(self, everything: bool = False) -> None:
        """Look up every full batch (or everything left, at the end of a table)."""
        for kind in list(self.pending_refs):
            refs = list(self.pending_refs[kind])
            cut = len(refs) if everything else len(refs) - len(refs) % self.batch
            if cut:
                self._resolve(refs[:cut])
                self.pending_refs[kind] = dict.fromkeys(refs[cut:])
        for need in list(self.pending_ids):
            ids = list(self.pending_ids[need])
            cut = len(ids) if everything else len(ids) - len(ids) % self.batch
            if cut:
                self._count(need, ids[:cut])
                self.pending_ids[need] = dict.fromkeys(ids[cut:])

    def ready(self, record: Record) -> bool:
        updated = record.fields.get("updated_at")
        for name in self.ref_fields.get(record.process, ()):
            if self._waits_for(record.get(name), updated):
                return False
        needs = self.count_needs.get(record.process, ())
        return all(need in self.unread_counts or need in self.tallied
                   or (*need, record.id) in self.counts for need in needs)

    def done(self, record: Record) -> None:
        """Referrer counts are read once per record: drop them after evaluation."""
        for need in self.count_needs.get(record.process, ()):
            self.counts.pop((*need, record.id), None)
            if need in self.tallied:
                self.tallies[need].pop(_tally_key(record.id), None)
            self.short_counts.pop((*need, record.id), None)

    def _resolve(self, refs: Iterable[Ref]) -> None:
        by_kind: dict[str, list[Ref]] = {}
        for ref in refs:
            if self._waits_for(ref):
                by_kind.setdefault(ref.kind, []).append(ref)
        targets: list[Record] = []
        for kind, kind_refs in by_kind.items():
            try:
                found = self.connector.resolve(kind_refs, self.kept_fields)
            except NotRead as exc:
                self.unread[kind] = exc.reason
                continue
            self.lookups += len(kind_refs)
            unknown = found.withheld if isinstance(found, Partial) else {}
            for ref in kind_refs:
                self.known.put(ref, unknown.get(ref) or found.get(ref))
            targets += [r for ref in kind_refs if (r := found.get(ref)) is not None]
        nested = [c for w in self.where for c in linked_conditions((w,))]
        if nested:
            self._resolve(x for t in targets for c in nested if isinstance(x := t.get(c.field), Ref))

    def _count(self, need: Count, ids: Sequence[str]) -> None:
        process, field = need
        try:
            counts = self.connector.count_referrers(Process(process), field, ids)
        except NotRead as exc:
            self.unread_counts[need] = exc.reason
            return
        self.lookups += len(ids)
        short = counts.withheld if isinstance(counts, Partial) else {}
        for record_id in ids:
            self.counts[(process, field, record_id)] = counts.get(record_id, 0)
            if record_id in short:
                self.short_counts[(process, field, record_id)] = short[record_id]
