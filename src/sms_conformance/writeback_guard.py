"""What write-back may write: which tables, which fields, and what values copied from records.

Targets come from an allow-list (the platform's child task tables, or a table the organisation
declares in `write_back.custom_task_tables`, which `doctor` checks extends `task`). The fields
this tool relies on cannot be remapped onto each other. A value copied from a record into a
reference field must be a sys_id; text copied into a description is capped and HTML-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sms_conformance.connectors.servicenow.tasks import DEFAULT_PARENTS, SOURCE_TABLES
from sms_conformance.errors import ConfigError
from sms_conformance.records import LIFECYCLE_STATES, Process

# Child task table -> the field naming its record; each such field references the table of its
# own name (incident_task.incident -> incident).
BUILTIN_TARGETS = DEFAULT_PARENTS
# `parent` (a reference to task) may name the record too: incident, problem and change extend task.
GENERIC_PARENT = "parent"
# Fields the tool writes or keys on: a parent field mapped onto one would overwrite it.
TOOL_FIELDS = frozenset({
    "sys_id", "number", "sys_class_name", "sys_created_on", "sys_updated_on",
    "correlation_id", "correlation_display", "state", "active", "short_description",
    "description", "priority", "due_date", "assignment_group", "work_notes", "close_notes",
    "comments",
})

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SYS_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PARTIAL_ENTITY = re.compile(r"&[a-z]*$")

OBSERVED_CAP = 500  # characters of each observed value
MESSAGE_CAP = 1000
DESCRIPTION_CAP = 4000  # task.description's length on the platform
SHORT_CAP = 160  # task.short_description's length on the platform


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
        if parent_field == BUILTIN_TARGETS.get(table) and wanted and parent_field != wanted:
            raise ConfigError(
                f"settings write_back.targets.{process}: {table}.{parent_field} references "
                f"{parent_field}, but {process} records are read from {wanted}")


def check_owner_groups(groups: Mapping[str, str]) -> None:
    for process, group in groups.items():
        if group and not is_reference(group):
            raise ConfigError(
                f"settings write_back.owner_groups.{process}: {group!r} is not a sys_id "
                "(32 hexadecimal characters)")


def check_policy(policy: Mapping[str, Any]) -> None:
    """closed_states, where given, must name states of the process's lifecycle."""
    for process, one in policy.items():
        known = LIFECYCLE_STATES[Process(process)]
        if "closed_states" not in one.model_fields_set:  # the default names both, as it can
            continue
        for state in one.closed_states:
            if state not in known:
                raise ConfigError(
                    f"settings write_back.policy.{process}.closed_states: {state!r} is not a "
                    f"{process} state (one of {', '.join(known)})")


def is_reference(value: str) -> bool:
    """A value a reference field may receive: a sys_id, 32 lowercase hexadecimal characters."""
    return bool(_SYS_ID.fullmatch(value))


def clip(value: str, cap: int) -> str:
    """Plain text of at most `cap` characters (plus a note of what was cut), controls removed."""
    value = _CONTROL.sub("", value)
    if len(value) <= cap:
        return value
    return f"{value[:cap]}... [{len(value) - cap} more characters cut]"


def neutralise(text: str, cap: int, cut: str = "...") -> str:
    """HTML-escaped (&, <, >), then cut to `cap` characters without splitting an entity.

    Escaped rather than stripped: no tag parser to fool, and the reader still sees what the
    record held. The platform shows these fields as text, some views and e-mails as HTML.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(escaped) <= cap:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[:cap - len(cut)]) + cut
