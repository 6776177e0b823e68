"""Applies write-back: finds this tool's tasks on the platform, plans, writes, records."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sms_conformance.connectors.base import (
    Connector,
    NotRead,
    TaskNotWritten,
    TaskPort,
    TaskRef,
)
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.engine.links import LinkResolver
from sms_conformance.model.errors import CapReached, ConfigError, SourceError
from sms_conformance.model.findings import Status, fingerprint, legacy_fingerprint, record_fingerprint
from sms_conformance.model.records import Ref
from sms_conformance.model.rows import FindingRow
from sms_conformance.rules.checks import Context
from sms_conformance.rules.model import Rule
from sms_conformance.store.history import History
from sms_conformance.writeback.corrective import CorrectiveKey, corrective_key, fingerprint_of
from sms_conformance.writeback.guard import clip, neutralise
from sms_conformance.writeback.plan import (
    PROCESSES,
    Create,
    Plan,
    Rekey,
    Replace,
    close_note,
    duplicate_close,
    duplicates,
)
from sms_conformance.writeback.records import listed_rules

CHUNK = 50
T = TypeVar("T")


class TooManyNewTasks(CapReached):
    """The per-run cap on new tasks would be exceeded: nothing was written (exit 6)."""


@dataclass(frozen=True)
class WatchedTask:
    """The open tasks of one (record, rule): one, or more when two runs created it at once."""

    tasks: tuple[TaskRef, ...]
    rule_id: str


@dataclass
class Watched:
    """The open tasks of this tool before the scan, by kind, recovered from their fingerprints."""

    findings: dict[tuple[str, str], WatchedTask] = field(default_factory=dict)  # (record, rule)
    records: dict[tuple[str, str], list[TaskRef]] = field(default_factory=dict)  # (process, record)
    corrective: dict[str, tuple[CorrectiveKey, list[TaskRef]]] = field(default_factory=dict)
    # (where, id) -> fingerprint: what the search gave
    returned: dict[tuple[str, str], str] = field(default_factory=dict)
    # fingerprint -> its task, open, that a person took this tool's marker off (check_task_search)
    held: dict[str, TaskRef] = field(default_factory=dict)
    rekey: list[Rekey] = field(default_factory=list)  # tasks named by an earlier release

    def keys(self, rules: Mapping[str, Rule]) -> frozenset[tuple[str, str]]:
        """(record id, rule id) the scan watches: every finding an open task lists."""
        listed = {(record, rule) for (_, record), tasks in self.records.items()
                  for task in tasks for rule in listed_rules(task, rules)}
        return frozenset({*self.findings, *listed})



def watch_open_tasks(
    port: TaskPort, rules: Sequence[Rule], platform: str, legacy_urls: Sequence[str] = (),
) -> Watched:
    """The open tasks of this tool by what they are about. A task named as releases before
    instance identity named it (the URL of `legacy_urls` in its fingerprint) is taken under
    today's fingerprint and listed in `rekey`: applying a plan gives it that name first."""
    watched = Watched()
    for process in PROCESSES:
        candidates = [r for r in rules if r.process.value == process]
        for task in port.open_tasks(process):
            watched.returned[(task.where, task.id)] = task.fingerprint
            names = _names(task, platform, process, candidates, legacy_urls)
            if names is None:
                continue
            fp, kind, detail = names
            if fp != task.fingerprint:
                watched.rekey.append(Rekey(task, fp))
                task = replace(task, fingerprint=fp)
            if kind == "record":
                watched.records.setdefault((process, task.parent), []).append(task)
            elif isinstance(detail, CorrectiveKey):
                watched.corrective.setdefault(fp, (detail, []))[1].append(task)
            elif isinstance(detail, str):
                found = (task.parent, detail)
                before = watched.findings[found].tasks if found in watched.findings else ()
                watched.findings[found] = WatchedTask((*before, task), detail)
    return watched


def _names(task: TaskRef, platform: str, process: str, rules: Sequence[Rule],
           legacy_urls: Sequence[str]) -> tuple[str, str, CorrectiveKey | str | None] | None:
    """(today's fingerprint, kind, corrective key or rule id) of a task whose fingerprint is
    today's or a legacy one of `legacy_urls`; None for a task of none of them."""
    def known(today: str, legacy: Iterable[str]) -> bool:
        return task.fingerprint == today or task.fingerprint in set(legacy)

    parent = task.parent
    record = record_fingerprint(platform, process, parent)
    if known(record, (record_fingerprint(platform, process, parent, u) for u in legacy_urls)):
        return record, "record", None
    key = corrective_key(task, platform, process, legacy_urls)
    if key is not None:
        return fingerprint_of(key, platform), "corrective", key
    for rule in rules:
        today = fingerprint(platform, process, parent, rule.id)
        if known(today, (legacy_fingerprint(platform, u, process, parent, rule.id)
                         for u in legacy_urls)):
            return today, "finding", rule.id
    return None


class SearchMissedTasks(SourceError):
    """The task search left out open tasks of this tool: planning on it would duplicate them."""


def check_task_search(port: TaskPort, history: History, watched: Watched, instance: str,
                      now: datetime) -> list[str]:
    """A search that answers nothing is not "no tasks": every task the history store holds
    open must be among those the search returned (under the fingerprint the store knows it
    by), or be closed or gone when read again by id.

    Raises SearchMissedTasks at the first one still open and marked as this tool's (nothing may
    be created: it would be a duplicate); marks closed in the store those closed or deleted on
    the platform; a task open but without its marker (a person edited its labels or
    correlation fields, or moved it) goes into `watched.held`: left alone, kept open in the
    store, and no second task is created for its fingerprint. Returns notices."""
    places = set()
    for process in PROCESSES:
        try:
            places.add(port.where(process))
        except ConfigError:  # no target for this process: none of its tasks is watched
            continue
    # returned under an earlier release's fingerprint: the store may hold either
    rekeyed = {(r.task.where, r.task.id) for r in watched.rekey}
    held = [row for row in history.tasks("open") if row.get("instance") == instance
            and row["tbl"] in places
            and watched.returned.get((row["tbl"], row["task_id"])) != row["fingerprint"]
            and (row["tbl"], row["task_id"]) not in rekeyed]
    gone = 0
    notices: list[str] = []
    for row in held:
        stored = TaskRef(fingerprint=row["fingerprint"], where=row["tbl"], id=row["task_id"],
                         number=row["number"] or row["task_id"], open=True)
        found = port.read_task(stored)
        if found is not None and found.open and not found.marked:
            watched.held[found.fingerprint] = found
            notices.append(
                f"task {found.number} no longer carries this tool's marker for its finding "
                "(its labels or correlation fields were edited, or it was moved): left alone, "
                "and no second task is created for it while it is open; put the marker back "
                "for the tool to update and close it")
            continue
        if found is not None and found.open:
            stored_open = sum(1 for r in history.tasks("open") if r.get("instance") == instance)
            raise SearchMissedTasks(
                f"the search for this tool's open tasks returned {len(watched.returned)}, but "
                f"the history store holds {stored_open} open and {found.number} (one it left "
                "out) is open when read by its id: the search did not answer fully (an error "
                "page, a lagging index, a proxy?). Write-back stopped before writing anything, "
                "so that no task is created twice; the findings are stored. Rerun when the "
                "search works again.")
        history.close_task(stored, now)
        gone += 1
    if gone:
        notices.append(f"{gone} task(s) the history store held open were closed or deleted on "
                       "the platform (read by id): marked closed in the store")
    return notices


def drop_held(plan: Plan, held: Mapping[str, TaskRef]) -> None:
    """No task is created for a fingerprint whose task a person took the marker off."""
    kept = [c for c in plan.create if c.fingerprint not in held]
    if len(kept) != len(plan.create):
        plan.notices.append(f"{len(plan.create) - len(kept)} task(s) not created: their "
                            "finding's task lost its marker and is left alone (see above)")
    plan.create = kept


def existing_tasks(port: TaskPort, failures: Sequence[FindingRow]) -> dict[str, list[TaskRef]]:
    """Every task, open or closed, already carrying one of the failures' fingerprints."""
    return find_fingerprints(port, [(f.process, f.fingerprint) for f in failures])


def find_fingerprints(port: TaskPort, wanted: Iterable[tuple[str, str]]) -> dict[str, list[TaskRef]]:
    """Every task, open or closed, carrying one of the (process, fingerprint) pairs."""
    by_process: dict[str, list[str]] = defaultdict(list)
    for process, fp in wanted:
        by_process[process].append(fp)
    found: dict[str, list[TaskRef]] = defaultdict(list)
    for process, fingerprints in by_process.items():
        for task in port.find_tasks(process, fingerprints):
            found[task.fingerprint].append(task)
    return found


def recheck_unseen(
    connector: Connector, keys: Iterable[tuple[str, str]], rules: Mapping[str, Rule],
    now: datetime,
) -> tuple[set[tuple[str, str]], list[str]]:
    """Watched findings whose record the scan did not read, because it left every rule's
    server-side filter (a canceled change, say): read those records by id, evaluate again.

    Returns the (record id, rule id) keys that now conform, and notices for records that could
    not be read (their tasks stay open: deleted and ACL-hidden look the same from here).
    """
    refs = {
        key: Ref(rules[key[1]].process.value, key[0])
        for key in keys if key[1] in rules
    }
    if not refs:
        return set(), []
    try:
        found = connector.resolve(set(refs.values()))
    except NotRead as exc:  # no read access to a table (403): nothing learnt, nothing closed
        kinds = ", ".join(sorted({r.kind for r in refs.values()}))
        return set(), [f"{len(refs)} {kinds} record(s) left every rule's filter and could not be "
                       f"read again ({exc}): their tasks stay open"]
    ctx = Context(now, LinkResolver(connector, list(rules.values())))
    conforming: set[tuple[str, str]] = set()
    notices: list[str] = []
    for key, ref in refs.items():
        record = found.get(ref)
        if record is None:
            notices.append(f"{ref.kind} {ref.id} could not be read: its task stays open")
        elif evaluate_one(rules[key[1]], record, ctx).status in (Status.PASS, Status.NOT_APPLICABLE):
            conforming.add(key)
    return conforming, notices


def check_cap(plan: Plan, cap: int) -> None:
    if len(plan.create) > cap:
        raise TooManyNewTasks(
            f"stopped at the cap: {len(plan.create)} to create, cap {cap}; nothing written. "
            "Check the plan with --dry-run, then rerun with "
            f"--max-new-tasks {len(plan.create)} (or raise write_back.max_new_tasks in "
            "config/settings.yaml) if it is right, or with --rollout to create the "
            f"{cap} most severe now and the rest on later runs."
        )


class WriteBackIncomplete(SourceError):
    """Some tasks could not be written; the rest of the plan was."""


@dataclass
class Skipped:
    """Tasks one write could not go through for (TaskNotWritten): each reported, none stops
    the others. `failed` writes make the run fail (exit 3); tasks `left` alone because a person
    changed them (retyped, moved, relabelled) are only reported."""

    failed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    progress: Callable[[str], None] = lambda _: None

    def attempt(self, write: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """(True, what `write(*args)` returned), or (False, None) when the task was skipped."""
        try:
            return True, write(*args)
        except TaskNotWritten as exc:
            (self.left if exc.left_alone else self.failed).append(str(exc))
            self.progress(f"not written: {exc}")
            return False, None

    def check(self) -> None:
        if self.failed:
            more = f" (and {len(self.failed) - 3} more)" if len(self.failed) > 3 else ""
            raise WriteBackIncomplete(
                f"write-back: {len(self.failed)} task write(s) did not go through, the rest of "
                f"the plan was written; tried again on the next run: "
                f"{'; '.join(self.failed[:3])}{more}")


def roll_out(plan: Plan, cap: int) -> int:
    """--rollout (a first night): keep the `cap` most severe creates of the plan (highest task
    priority, then earliest due), leave the rest to later runs; returns how many were left."""
    if len(plan.create) <= cap:
        return 0
    ranked = sorted(plan.create, key=lambda c: (c.draft.priority, c.draft.due, c.fingerprint))
    kept = {id(c) for c in ranked[:cap]}
    left = len(plan.create) - cap
    plan.create = [c for c in plan.create if id(c) in kept]
    plan.notices.append(
        f"rollout: created the {cap} most severe of {cap + left} new tasks (the cap); {left} "
        "left for the next runs (an incremental run keeps its watermark, so the next one reads "
        "their records again)")
    return left


def apply_plan(
    plan: Plan, port: TaskPort, history: History, instance: str, now: datetime,
    progress: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Writes in small chunks, recording each task as it is made, so a crash loses nothing;
    then reads back what it created and closes what another run created at the same time.
    A task that cannot be written is reported and skipped (Skipped); returns the notes about
    tasks left alone, raises WriteBackIncomplete at the end if a write failed.

    A write that fails for the site rather than for its task (retries out of budget, a site
    throttling longer than the run waits) stops the write-back there: the rest of the plan is
    left for the next run (WriteBackIncomplete, saying how much), no other write is tried."""
    skipped = Skipped(progress=progress)
    left = Counter({"create": len(plan.create), "update": len(plan.update),
                    "close": len(plan.close) + len(plan.heal) + len(plan.replace)})
    try:
        rekeyed = sum(skipped.attempt(port.rekey_task, r.task, r.fingerprint)[0]
                      for r in plan.rekey)
        if rekeyed:
            progress(f"re-keyed {rekeyed} tasks named by an earlier release (instance URL in "
                     "their fingerprint)")
        for task, subject in plan.known:  # made by an earlier run that did not record them
            history.record_task(task, subject, instance, now)
        for heal in plan.heal:
            if skipped.attempt(port.close_task, heal.task, heal.note)[0]:
                history.close_task(heal.task, now)
            left["close"] -= 1
        _create(plan.create, port, history, instance, now, progress, left)
        healed = heal_created(plan.create, port, history, instance, now, skipped)
        if healed:
            progress(f"closed {healed} duplicates: another run created tasks for the same "
                     "findings at the same time")
        for update in plan.update:
            _, updated = skipped.attempt(port.update_task, update.task, update.draft,
                                         update.note)
            if updated is not None:
                history.record_task(updated, update.subject, instance, now)
            left["update"] -= 1
        for close in plan.close:
            if skipped.attempt(port.close_task, close.task, close.note)[0]:
                history.close_task(close.task, now)
            left["close"] -= 1
        replace_legacy(plan.replace, port, history, now, skipped)
    except TaskNotWritten:
        raise
    except SourceError as exc:
        raise WriteBackIncomplete(stopped(exc, left, skipped)) from None
    skipped.check()
    return skipped.left


def _create(creates: Sequence[Create], port: TaskPort, history: History, instance: str,
            now: datetime, progress: Callable[[str], None], left: Counter[str]) -> None:
    by_process: dict[str, list[Create]] = defaultdict(list)
    for item in creates:
        by_process[item.draft.process].append(item)
    for process, items in by_process.items():
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            made = port.create_tasks([c.draft for c in chunk])
            for item, task in zip(chunk, made, strict=False):
                history.record_task(task, item.subject, instance, now)
            left["create"] -= len(chunk)
            progress(f"created {start + len(chunk)}/{len(items)} {process} tasks")


def stopped(exc: SourceError, left: Counter[str], skipped: Skipped) -> str:
    """Why write-back stopped, and what of the plan the next run has left to do."""
    rest = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in left.items() if n)
    failed = f"; {len(skipped.failed)} task write(s) failed before it" if skipped.failed else ""
    return (f"write-back stopped: {exc}. Left for the next run: {rest or 'nothing'} (tasks "
            "this run created before the stop are found on the platform by fingerprint, never "
            f"created twice){failed}")


def replace_legacy(replace: Sequence[Replace], port: TaskPort, history: History,
                   now: datetime, skipped: Skipped | None = None) -> None:
    """Closes each per-(record, rule) task of an earlier version once, naming the task that
    replaces it (read back from the platform: it may have been created by this run)."""
    holders = duplicates(t for ts in find_fingerprints(
        port, [(r.process, r.fingerprint) for r in replace]).values() for t in ts)[0]
    for item in replace:
        holder = holders.get(item.fingerprint)
        why = (f"replaced by task {clip(holder.number, 40)}, {item.what}." if holder is not None
               else f"replaced by a task {item.what}.")
        note = close_note(now, neutralise(why, 300))
        if (skipped or Skipped()).attempt(port.close_task, item.task, note)[0]:
            history.close_task(item.task, now)


def heal_created(
    created: Sequence[Create], port: TaskPort, history: History, instance: str, now: datetime,
    skipped: Skipped | None = None,
) -> int:
    """Across hosts the platform is the source of truth: re-read the fingerprints just written
    and, where a concurrent run created one too, keep the oldest task and close the others.

    Whichever run reads last sees every task (each run reads after its own writes) and every run
    keeps the same one, so the pair ends with one open task per finding. Returns how many closed.
    """
    subjects = {c.fingerprint: c.subject for c in created}
    extra = duplicates(t for ts in find_fingerprints(
        port, [(c.draft.process, c.fingerprint) for c in created]).values() for t in ts)[1]
    for task, kept in extra:
        heal = duplicate_close(task, kept, now, "finding")
        if not (skipped or Skipped()).attempt(port.close_task, heal.task, heal.note)[0]:
            continue
        history.close_task(task, now)
        history.record_task(kept, subjects[task.fingerprint], instance, now)
    return len(extra)


KINDS = {"record": ("record task", "record tasks"),
         "corrective": ("corrective action", "corrective actions"),
         "finding": ("finding task", "finding tasks")}


def kinds_text(counts: Mapping[str, int]) -> str:
    """"9 record tasks, 1 corrective action": the kinds present, in a fixed order."""
    return ", ".join(f"{counts[k]} {names[counts[k] != 1]}" for k, names in KINDS.items()
                     if counts.get(k))
