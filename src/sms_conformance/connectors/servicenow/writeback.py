"""Write-back on ServiceNow: where each process's tasks go, and TaskDrafts rendered as rows.

The core plans in platform-free drafts; here they become rows of the process's task table
(`write_back.targets`): the fingerprint in correlation_id, the record in the target's parent
field, the owner in assignment_group, closed by the table's closed state with work and close
notes. An owner disputes a task by writing `sms-disputed` in its close notes (a text field;
work notes, a journal, read back empty): TaskRef.disputed. Only an allow-list of task tables
can be written (the child task tables, or a table the organisation declares in
`write_back.custom_task_tables`, which must extend task); the fields the tool keys on cannot
be remapped onto each other; a value written to a reference field must be a sys_id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timezone
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, Strict

from sms_conformance.connectors.base import TaskDraft, TaskRef, says_disputed
from sms_conformance.connectors.servicenow.tasks import (
    DEFAULT_PARENTS,
    PARENT_TABLES,
    SOURCE_TABLES,
    SnTask,
    TaskTables,
)
from sms_conformance.model.errors import ConfigError, SourceError
from sms_conformance.support.validation import write_back_part

# Child task table -> the field naming its record (incident_task.incident -> incident,
# sc_task.request_item -> sc_req_item: PARENT_TABLES).
BUILTIN_TARGETS = DEFAULT_PARENTS
# `parent` (a reference to task) may name the record too: every process's table extends task.
GENERIC_PARENT = "parent"
# Fields the tool writes or keys on: a parent field mapped onto one would overwrite it.
TOOL_FIELDS = frozenset({
    "sys_id", "number", "sys_class_name", "sys_created_on", "sys_updated_on",
    "correlation_id", "correlation_display", "state", "active", "short_description",
    "description", "priority", "due_date", "assignment_group", "work_notes", "close_notes",
    "comments",
})
DESCRIPTION_LENGTH = 4000  # task.description
# Written with a task whose list is still to be attached; the next run sees the description
# differ from its draft, attaches the list if it is missing, and writes the description whole.
PENDING = "\n[the full list is being attached; if it is missing, the next run attaches it]"
MAX_WORKERS = 8

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SYS_ID = re.compile(r"[0-9a-f]{32}")

ProcessName = Annotated[str, Field(pattern=r"^(incident|problem|change|request)$")]
# Table and field names go into API paths and queries: platform identifiers only.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=80)]


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    table: Identifier
    parent_field: Identifier


class TaskStates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    closed: str = Field(min_length=1, max_length=40)


class ServiceNowTaskSettings(BaseModel):
    """The ServiceNow part of `write_back` in settings.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    targets: dict[ProcessName, Target]
    # Tables besides incident_task, problem_task, change_task and sc_task that targets may name; each
    # must extend task (`sms-conformance doctor` checks).
    custom_task_tables: Annotated[tuple[Identifier, ...], Strict(False)] = ()  # YAML gives a list
    states: dict[Identifier, TaskStates]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ServiceNowTaskSettings:
        """This part of the block, checked: targets allowed, owner groups sys_ids."""
        block = settings.get("write_back", {})
        config = write_back_part(cls, block)
        check_targets(config.target_fields(), config.custom_task_tables)
        check_owner_groups(block.get("owner_groups", {}))
        return config

    def target_fields(self) -> dict[str, tuple[str, str]]:
        """process -> (task table, field naming the record)."""
        return {p: (t.table, t.parent_field) for p, t in self.targets.items()}

    def closed_state(self, table: str) -> str:
        return self.states[table].closed if table in self.states else "3"


def is_sys_id(value: str) -> bool:
    return bool(_SYS_ID.fullmatch(value))


def check_owner_groups(groups: Mapping[str, str]) -> None:
    for process, group in groups.items():
        if group and not is_sys_id(group):
            raise ConfigError(
                f"settings write_back.owner_groups.{process}: {group!r} is not a sys_id "
                "(32 hexadecimal characters)")


def check_targets(targets: Mapping[str, tuple[str, str]], custom_tables: Iterable[str]) -> None:
    """process -> (table, parent field): raises ConfigError unless every target is allowed."""
    custom = set(custom_tables)
    for table in sorted(custom):
        if not _NAME.fullmatch(table) or table in SOURCE_TABLES:
            raise ConfigError(
                f"settings write_back.custom_task_tables: {table!r} cannot be a task table")
    allowed = sorted(BUILTIN_TARGETS) + sorted(custom - set(BUILTIN_TARGETS))
    for process, (table, parent_field) in targets.items():
        where = f"settings write_back.targets.{process}"
        if table not in BUILTIN_TARGETS and table not in custom:
            raise ConfigError(
                f"{where}.table: {table!r} is not a task table write-back may write to (allowed: "
                f"{', '.join(allowed)}; declare a table that extends task in "
                "write_back.custom_task_tables, and check it with `sms-conformance doctor`)")
        if not _NAME.fullmatch(parent_field) or parent_field in TOOL_FIELDS:
            raise ConfigError(
                f"{where}.parent_field: {parent_field!r} cannot name the record: it must be a "
                "reference field of its own, not one the tool writes (such as correlation_id)")
        builtin = BUILTIN_TARGETS.get(table)
        if builtin is not None and parent_field not in (builtin, GENERIC_PARENT):
            raise ConfigError(
                f"{where}.parent_field: {table} names its record in {builtin!r} "
                f"(or {GENERIC_PARENT!r}), not {parent_field!r}")


def check_scanned_tables(targets: Mapping[str, tuple[str, str]], scanned: Mapping[str, str]) -> None:
    """A built-in target's parent field must reference the table its process scans."""
    for process, (table, parent_field) in targets.items():
        wanted = scanned.get(process)
        referenced = PARENT_TABLES.get(parent_field, parent_field)
        if parent_field == BUILTIN_TARGETS.get(table) and wanted and referenced != wanted:
            raise ConfigError(
                f"settings write_back.targets.{process}: {table}.{parent_field} references "
                f"{referenced}, but {process} records are read from {wanted}")


class ServiceNowTaskPort:
    """The TaskPort over task tables: drafts rendered as rows, rows read back as TaskRefs."""

    def __init__(self, tables: TaskTables, config: ServiceNowTaskSettings, instance: str,
                 record_tables: Mapping[str, str], max_workers: int = MAX_WORKERS) -> None:
        self.tables = tables
        self.config = config
        self.instance = instance.rstrip("/")
        self.record_tables = dict(record_tables)  # process -> the table its records are read from
        self.max_workers = max_workers

    def where(self, process: str) -> str:
        target = self.config.targets.get(process)
        if target is None:
            raise ConfigError(f"settings write_back.targets.{process}: missing; name the task "
                              f"table for {process} tasks")
        return target.table

    def task_ref(self, task: SnTask) -> TaskRef:
        priority = str(task.fields.get("priority", ""))
        return TaskRef(
            fingerprint=task.fingerprint, where=task.table, id=task.id, number=task.number,
            open=task.open, parent=task.parent,
            title=str(task.fields.get("short_description", "")),
            body=str(task.fields.get("description", "")),
            priority=int(priority) if priority.isdigit() else 0,
            created=task.created, owner=str(task.fields.get("assignment_group", "")),
            due=str(task.fields.get("due_date", "")),
            disputed=says_disputed(str(task.fields.get("close_notes", ""))),
        )

    def render(self, draft: TaskDraft) -> dict[str, str]:
        """The row a draft becomes; a reference field gets a sys_id or nothing."""
        self.where(draft.process)
        target = self.config.targets[draft.process]
        body = draft.body
        if draft.attachment is not None:
            body = body[:DESCRIPTION_LENGTH - len(PENDING)] + PENDING
        row = {
            "short_description": draft.title,
            "description": body,
            "priority": str(draft.priority),
            "due_date": draft.due.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "correlation_id": draft.fingerprint,
            "correlation_display": self.tables.marker,
        }
        if is_sys_id(draft.parent_id):
            row[target.parent_field] = draft.parent_id
        if draft.owner_kind == "group" and is_sys_id(draft.owner_id):
            row["assignment_group"] = draft.owner_id
        return row

    # -- TaskPort -----------------------------------------------------------------------------

    def find_tasks(self, process: str, fingerprints: Iterable[str]) -> list[TaskRef]:
        return [self.task_ref(t) for t in self.tables.find(self.where(process), fingerprints)]

    def open_tasks(self, process: str) -> list[TaskRef]:
        if process not in self.config.targets:
            return []
        return [self.task_ref(t) for t in self.tables.open(self.where(process))]

    def read_task(self, task: TaskRef) -> TaskRef | None:
        found = self.tables.read(task.where, task.id)
        if found is None:
            return None
        if self.tables.marked(found) and found.fingerprint == task.fingerprint:
            return self.task_ref(found)
        return replace(task, number=found.number or task.number, open=found.open, marked=False)

    def create_tasks(self, drafts: Sequence[TaskDraft]) -> list[TaskRef]:
        """Creates concurrently per table, then attaches each list and completes its
        description; raises SourceError after trying all if any step failed (a rerun finds
        the tasks by fingerprint and completes them)."""
        made: list[SnTask | SourceError] = [SourceError("not created")] * len(drafts)
        by_table: dict[str, list[int]] = {}
        for index, draft in enumerate(drafts):
            by_table.setdefault(self.where(draft.process), []).append(index)
        for table, indexes in by_table.items():
            results = self.tables.create_many(
                table, [self.render(drafts[i]) for i in indexes], self.max_workers)
            for index, result in zip(indexes, results, strict=True):
                made[index] = result
        for index, draft in enumerate(drafts):
            task = made[index]
            if draft.attachment is not None and isinstance(task, SnTask):
                try:
                    made[index] = self._complete(task, draft)
                except SourceError as exc:
                    made[index] = exc
        failed = [r for r in made if isinstance(r, SourceError)]
        if failed:
            raise SourceError(
                f"{len(failed)} of {len(drafts)} tasks could not be created or completed (the "
                f"others were; a rerun finds them by fingerprint): {failed[0]}")
        return [self.task_ref(t) for t in made if isinstance(t, SnTask)]

    def _complete(self, task: SnTask, draft: TaskDraft) -> SnTask:
        """Attaches the draft's list (unless there already) and writes its whole description."""
        if draft.attachment is not None:
            name, content = draft.attachment
            self.tables.attach(task.table, task.id, name, content)
        return self.tables.update(task.table, task.id, {"description": draft.body})

    def update_task(self, task: TaskRef, draft: TaskDraft, note: str) -> TaskRef:
        if draft.attachment is not None:
            name, content = draft.attachment
            self.tables.attach(task.where, task.id, name, content)
        fields = {"short_description": draft.title, "description": draft.body,
                  "priority": str(draft.priority), **({"work_notes": note} if note else {})}
        return self.task_ref(self.tables.update(task.where, task.id, fields))

    def rekey_task(self, task: TaskRef, fingerprint: str) -> TaskRef:
        return self.task_ref(self.tables.update(task.where, task.id,
                                                {"correlation_id": fingerprint}))

    def close_task(self, task: TaskRef, note: str) -> None:
        self.tables.update(task.where, task.id, {
            "state": self.config.closed_state(task.where), "work_notes": note,
            "close_notes": note})

    def list_url(self, process: str, ids: Sequence[str]) -> str:
        """The instance's list view of exactly these records ("" unless all are sys_ids)."""
        table = self.record_tables.get(process)
        if table is None or not ids or not all(is_sys_id(i) for i in ids):
            return ""
        query = quote("sys_idIN" + ",".join(ids), safe="=,")
        return f"{self.instance}/{table}_list.do?sysparm_query={query}"


def refuse_non_task_tables(tables: Iterable[str], check: Any) -> list[str]:
    """A declared custom target must extend task where the instance lets us check (doctor says
    the same); the built-in ones do by definition. `check`: doctor's task_tables, bound.
    Returns what could not be checked, as notices."""
    notices = []
    for finding in check(sorted(set(tables))):
        if finding.level == "fail":
            raise ConfigError(f"{finding.message}: {finding.fix}")
        if finding.level == "warn":
            notices.append(finding.message)
    return notices
