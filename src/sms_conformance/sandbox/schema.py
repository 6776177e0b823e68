"""Table definitions of the sandbox: stored columns, constant and computed fields, references.

A row is a Python list: one slot per stored column, plus a last slot holding ``None`` or a dict
of values written to non-column fields ("overflow"). Constant fields (always the same value on
generated data, e.g. ``upon_reject: "cancel"``) cost nothing per row; computed fields (e.g.
``incident_state``, ``active``) are derived from the columns on read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

Row = list[Any]
Getter = Callable[[Row], str]

PRIORITY_MATRIX: dict[tuple[str, str], str] = {
    ("1", "1"): "1", ("1", "2"): "2", ("1", "3"): "3",
    ("2", "1"): "2", ("2", "2"): "3", ("2", "3"): "4",
    ("3", "1"): "3", ("3", "2"): "4", ("3", "3"): "5",
}
"""ServiceNow's out-of-the-box priority lookup, (impact, urgency) -> priority."""

RESTORE_TARGET_SECONDS: dict[str, int] = {
    "1": 4 * 3600, "2": 8 * 3600, "3": 24 * 3600, "4": 72 * 3600, "5": 120 * 3600,
}

JOURNAL_FIELDS = frozenset({"work_notes", "comments"})
"""Journal fields: writing appends an entry, reading returns "" (as the real API does)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds_between(start: str, end: str) -> int | None:
    if not start or not end:
        return None
    try:
        return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return None


def _duration(seconds: int | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"1970-01-{days + 1:02d} {hours:02d}:{minutes:02d}:{secs:02d}" if days < 31 else ""


@dataclass
class TableSchema:
    """What a table holds and how its fields are read."""

    name: str
    columns: tuple[str, ...]
    refs: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    computed: dict[str, Getter] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    display_field: str = "number"
    number_prefix: str | None = None
    number_start: int = 1
    insert_defaults: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bulk = self.computed.pop(BULK_KEY, None)
        self.bulk: tuple[tuple[str, ...], Callable[[Row], tuple[str, ...]]] | None = (
            (DURATION_FIELDS, bulk) if bulk is not None else None)  # type: ignore[assignment]
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.columns)}
        self.fields: tuple[str, ...] = (
            self.columns + tuple(self.constants) + tuple(self.computed)
        )
        self.field_set = frozenset(self.fields)
        self.refs = {k: v for k, v in self.refs.items() if k in self.field_set}
        overlap = set(self.columns) & (set(self.constants) | set(self.computed))
        if overlap or set(self.constants) & set(self.computed):
            raise ValueError(f"{self.name}: fields defined twice: {sorted(overlap)}")

    def col(self, name: str) -> int:
        return self.index[name]

    def getter(self, name: str) -> Getter | None:
        """A function reading one field from a row (overflow wins), or None if unknown."""
        idx = self.index.get(name)
        if idx is not None:
            return lambda row: row[idx]
        if name in self.constants:
            const = self.constants[name]

            def read_const(row: Row) -> str:
                extra = row[-1]
                if extra and name in extra:
                    return extra[name]  # type: ignore[no-any-return]
                return const

            return read_const
        fn = self.computed.get(name)
        if fn is not None:
            compute = fn

            def read_computed(row: Row) -> str:
                extra = row[-1]
                if extra and name in extra:
                    return extra[name]  # type: ignore[no-any-return]
                return compute(row)

            return read_computed
        return None

    def new_row(self) -> Row:
        return [""] * len(self.columns) + [None]

    def set(self, row: Row, name: str, value: str) -> None:
        """Write one field: a column slot or the overflow dict."""
        idx = self.index.get(name)
        if idx is not None:
            row[idx] = value
            return
        if row[-1] is None:
            row[-1] = {}
        row[-1][name] = value

    def get(self, row: Row, name: str) -> str:
        read = self.getter(name)
        return read(row) if read is not None else ""


def _computed_common(
    columns: tuple[str, ...], active_states: frozenset[str], with_durations: bool = False,
    state_twin: str | None = None,
) -> dict[str, Getter]:
    idx = {c: i for i, c in enumerate(columns)}
    st, num, opened = idx["state"], idx["number"], idx.get("opened_at", idx.get("sys_created_on"))
    out: dict[str, Getter] = {
        "active": lambda r: "true" if r[st] in active_states else "false",
        "task_effective_number": lambda r: r[num],
    }
    if "sys_created_on" not in idx and opened is not None:
        out["sys_created_on"] = lambda r: r[opened]
    if state_twin:
        out[state_twin] = lambda r: r[st]
    if with_durations and opened is not None:
        end = idx.get("resolved_at", idx.get("closed_at"))
        if end is not None:
            def durations(r: Row) -> tuple[str, str, str, str]:
                secs = _seconds_between(r[opened], r[end])
                if secs is None:
                    return "", "", "", ""
                secs = max(secs, 0)
                return str(secs), _duration(secs), str(secs // 3), _duration(secs // 3)

            for k, name in enumerate(DURATION_FIELDS):
                out[name] = lambda r, k=k: durations(r)[k]  # type: ignore[misc]
            out[BULK_KEY] = durations  # type: ignore[assignment]
    return out


DURATION_FIELDS = ("calendar_stc", "calendar_duration", "business_stc", "business_duration")
BULK_KEY = "__durations__"

TASK_CONSTANTS: dict[str, str] = {
    "watch_list": "", "upon_reject": "cancel", "approval_history": "", "user_input": "",
    "sys_domain": "global", "knowledge": "false", "order": "", "delivery_plan": "",
    "contract": "", "work_notes_list": "", "business_impact": "", "sys_domain_path": "/",
    "time_worked": "", "expected_start": "", "group_list": "", "approval_set": "",
    "work_notes": "", "universal_request": "", "delivery_task": "",
    "additional_assignee_list": "", "follow_up": "", "comments": "", "sla_due": "",
    "comments_and_work_notes": "", "sys_tags": "", "escalation": "0",
    "upon_approval": "proceed", "location": "", "company": "", "activity_due": "",
    "route_reason": "", "origin_table": "", "origin_id": "", "service_offering": "",
    "correlation_id": "", "correlation_display": "", "parent": "", "due_date": "",
}

TASK_REFS: dict[str, str] = {
    "opened_by": "sys_user", "assigned_to": "sys_user", "assignment_group": "sys_user_group",
    "closed_by": "sys_user", "cmdb_ci": "cmdb_ci", "business_service": "cmdb_ci_service",
    "sys_domain": "sys_user_group", "company": "core_company", "location": "cmn_location",
    "parent": "task", "universal_request": "task",
}

IMPACT_LABELS = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
PRIORITY_LABELS = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low",
                   "5": "5 - Planning"}

# --- incident --------------------------------------------------------------------------------

INCIDENT_STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved",
                   "7": "Closed", "8": "Canceled"}
INCIDENT_CLOSE_CODES = (
    "Duplicate", "Known error", "No resolution provided", "Resolved by caller",
    "Resolved by change", "Resolved by problem", "Resolved by request", "Solution provided",
    "Workaround provided", "User error",
)
INCIDENT_COLUMNS: tuple[str, ...] = (
    "sys_id", "number", "state", "impact", "urgency", "priority", "category", "subcategory",
    "short_description", "description", "caller_id", "opened_by", "assignment_group",
    "assigned_to", "business_service", "cmdb_ci", "contact_type", "opened_at",
    "sys_updated_on", "sys_created_by", "sys_updated_by", "resolved_at", "resolved_by",
    "closed_at", "closed_by", "close_code", "close_notes", "problem_id", "rfc", "caused_by",
    "hold_reason", "reopen_count", "reassignment_count", "sys_mod_count", "made_sla", "severity",
)
INCIDENT = TableSchema(
    name="incident",
    columns=INCIDENT_COLUMNS,
    refs={**TASK_REFS, "caller_id": "sys_user", "resolved_by": "sys_user",
          "problem_id": "problem", "rfc": "change_request", "caused_by": "change_request",
          "parent_incident": "incident", "reopened_by": "sys_user"},
    constants={**TASK_CONSTANTS, "child_incidents": "0", "origin_table": "", "cause": "",
               "notify": "1", "sys_class_name": "incident", "parent_incident": "",
               "reopened_by": "", "reopened_time": "", "approval": "not requested",
               "work_start": "", "work_end": "", "u_vendor_reference": "",
               "major_incident_state": ""},
    computed=_computed_common(INCIDENT_COLUMNS, frozenset({"1", "2", "3"}), True,
                              "incident_state"),
    choices={
        "state": INCIDENT_STATES, "incident_state": INCIDENT_STATES,
        "impact": IMPACT_LABELS, "urgency": IMPACT_LABELS, "priority": PRIORITY_LABELS,
        "severity": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
        "hold_reason": {"1": "Awaiting Caller", "3": "Awaiting Problem", "4": "Awaiting Vendor",
                        "5": "Awaiting Change"},
        "category": {"inquiry": "Inquiry / Help", "software": "Software",
                     "hardware": "Hardware", "network": "Network", "database": "Database"},
        "contact_type": {"email": "Email", "phone": "Phone", "self-service": "Self-service",
                         "walk-in": "Walk-in", "virtual_agent": "Virtual Agent"},
        "close_code": {c: c for c in INCIDENT_CLOSE_CODES},
        "major_incident_state": {"proposed": "Proposed", "accepted": "Accepted",
                                 "rejected": "Rejected", "canceled": "Canceled"},
    },
    number_prefix="INC", number_start=10001,
    insert_defaults={"state": "1", "impact": "3", "urgency": "3", "priority": "5",
                     "severity": "3", "reopen_count": "0", "reassignment_count": "0",
                     "sys_mod_count": "0", "made_sla": "true", "contact_type": ""},
)

# --- problem ---------------------------------------------------------------------------------

PROBLEM_STATES = {"101": "New", "102": "Assess", "103": "Root Cause Analysis",
                  "104": "Fix in Progress", "106": "Resolved", "107": "Closed"}
PROBLEM_COLUMNS: tuple[str, ...] = (
    "sys_id", "number", "state", "impact", "urgency", "priority", "category",
    "short_description", "description", "opened_by", "assignment_group", "assigned_to",
    "business_service", "cmdb_ci", "opened_at", "sys_updated_on", "sys_created_by",
    "sys_updated_by", "cause_notes", "workaround", "known_error", "fix_notes",
    "resolution_code", "close_notes", "rfc", "duplicate_of", "resolved_at", "resolved_by",
    "closed_at", "closed_by", "sys_mod_count",
)
PROBLEM = TableSchema(
    name="problem",
    columns=PROBLEM_COLUMNS,
    refs={**TASK_REFS, "rfc": "change_request", "duplicate_of": "problem",
          "resolved_by": "sys_user", "first_reported_by_task": "task"},
    constants={**TASK_CONSTANTS, "sys_class_name": "problem", "made_sla": "true",
               "reassignment_count": "0", "contact_type": "", "approval": "not requested",
               "work_start": "", "work_end": "", "first_reported_by_task": "",
               "rejection_goto": "", "wf_activity": "", "related_incidents": "0"},
    computed=_computed_common(PROBLEM_COLUMNS, frozenset({"101", "102", "103", "104"}), False,
                              "problem_state"),
    choices={
        "state": PROBLEM_STATES, "problem_state": PROBLEM_STATES,
        "impact": IMPACT_LABELS, "urgency": IMPACT_LABELS, "priority": PRIORITY_LABELS,
        "resolution_code": {"fix_applied": "Fix Applied", "risk_accepted": "Risk Accepted",
                            "duplicate": "Duplicate", "canceled": "Canceled"},
        "category": {"software": "Software", "hardware": "Hardware", "network": "Network",
                     "database": "Database"},
    },
    number_prefix="PRB", number_start=40001,
    insert_defaults={"state": "101", "impact": "3", "urgency": "3", "priority": "5",
                     "known_error": "false", "sys_mod_count": "0"},
)

# --- change_request --------------------------------------------------------------------------

CHANGE_STATES = {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled",
                 "-1": "Implement", "0": "Review", "3": "Closed", "4": "Canceled"}
CHANGE_COLUMNS: tuple[str, ...] = (
    "sys_id", "number", "state", "type", "approval", "risk", "impact", "priority", "category",
    "short_description", "description", "justification", "implementation_plan",
    "backout_plan", "test_plan", "start_date", "end_date", "work_start", "work_end",
    "requested_by", "opened_by", "assignment_group", "assigned_to", "business_service",
    "cmdb_ci", "close_code", "close_notes", "closed_at", "closed_by", "review_date",
    "opened_at", "sys_updated_on", "sys_created_by", "sys_updated_by", "sys_mod_count",
)
CHANGE = TableSchema(
    name="change_request",
    columns=CHANGE_COLUMNS,
    refs={**TASK_REFS, "requested_by": "sys_user", "std_change_producer_version":
          "std_change_producer_version", "chg_model": "chg_model"},
    constants={**TASK_CONSTANTS, "sys_class_name": "change_request", "made_sla": "true",
               "reassignment_count": "0", "contact_type": "", "urgency": "3",
               "on_hold": "false", "on_hold_reason": "", "phase": "requested",
               "phase_state": "open", "conflict_status": "Not Run", "conflict_last_run": "",
               "cab_required": "false", "cab_date": "", "cab_recommendation": "",
               "cab_delegate": "", "review_status": "", "review_comments": "",
               "outside_maintenance_schedule": "false", "unauthorized": "false",
               "production_system": "false", "risk_impact_analysis": "", "reason": "",
               "change_plan": "", "std_change_producer_version": "", "chg_model": "",
               "scope": "3", "requested_by_date": "", "rejection_goto": "",
               "wf_activity": ""},
    computed=_computed_common(CHANGE_COLUMNS,
                              frozenset({"-5", "-4", "-3", "-2", "-1", "0"})),
    choices={
        "state": CHANGE_STATES,
        "type": {"normal": "Normal", "standard": "Standard", "emergency": "Emergency"},
        "approval": {"not requested": "Not Yet Requested", "requested": "Requested",
                     "approved": "Approved", "rejected": "Rejected"},
        "risk": {"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"},
        "impact": IMPACT_LABELS, "urgency": IMPACT_LABELS,
        "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low"},
        "close_code": {"successful": "Successful",
                       "successful_issues": "Successful with issues",
                       "unsuccessful": "Unsuccessful"},
        "category": {"hardware": "Hardware", "software": "Software", "network": "Network",
                     "database": "Database", "other": "Other"},
    },
    number_prefix="CHG", number_start=30001,
    insert_defaults={"state": "-5", "type": "normal", "approval": "not requested",
                     "risk": "3", "impact": "3", "priority": "4", "sys_mod_count": "0"},
)

# --- service requests: sc_request, its requested items sc_req_item, catalogue items -----------

SC_CAT_ITEM = TableSchema(
    name="sc_cat_item",
    # delivery_time: the item's delivery time (a duration, as ServiceNow stores it);
    # u_approval_required: the sandbox catalogue's own flag for items needing approval.
    columns=("sys_id", "name", "category", "delivery_time", "u_approval_required",
             "sys_created_on", "sys_updated_on"),
    refs={"sys_domain": "sys_user_group"},
    constants={"active": "true", "sys_class_name": "sc_cat_item", "sys_domain": "global",
               "sys_created_by": "admin", "sys_updated_by": "admin", "sys_mod_count": "0"},
    display_field="name",
)
SC_REQUEST_COLUMNS: tuple[str, ...] = (
    "sys_id", "number", "state", "request_state", "requested_for", "opened_by", "opened_at",
    "sys_updated_on", "closed_at", "sys_mod_count",
)
SC_REQUEST = TableSchema(
    name="sc_request",
    columns=SC_REQUEST_COLUMNS,
    refs={**TASK_REFS, "requested_for": "sys_user"},
    constants={**{k: v for k, v in TASK_CONSTANTS.items() if k not in SC_REQUEST_COLUMNS},
               "sys_class_name": "sc_request", "approval": "approved"},
    computed=_computed_common(SC_REQUEST_COLUMNS, frozenset({"1", "2"})),
    choices={"state": {"1": "Open", "2": "Work in Progress", "3": "Closed Complete",
                       "4": "Closed Incomplete"},
             "request_state": {"requested": "Pending Approval", "in_process": "Approved",
                               "closed_complete": "Closed Complete",
                               "closed_incomplete": "Closed Incomplete",
                               "closed_rejected": "Closed Rejected"}},
    number_prefix="REQ", number_start=10001,
)
SC_REQ_ITEM_COLUMNS: tuple[str, ...] = (
    "sys_id", "number", "state", "stage", "approval", "request", "cat_item", "quantity",
    "impact", "urgency", "priority", "short_description", "description", "opened_by",
    "assignment_group", "assigned_to", "business_service", "cmdb_ci", "due_date", "opened_at",
    "sys_updated_on", "sys_created_by", "sys_updated_by", "closed_at", "closed_by",
    "close_notes", "u_approval_required", "sys_mod_count",
)
REQUEST_ITEM_STATES = {"-5": "Pending", "1": "Open", "2": "Work in Progress",
                       "3": "Closed Complete", "4": "Closed Incomplete", "7": "Closed Skipped"}
SC_REQ_ITEM = TableSchema(
    name="sc_req_item",
    columns=SC_REQ_ITEM_COLUMNS,
    refs={**TASK_REFS, "request": "sc_request", "cat_item": "sc_cat_item"},
    constants={**{k: v for k, v in TASK_CONSTANTS.items() if k not in SC_REQ_ITEM_COLUMNS},
               "sys_class_name": "sc_req_item", "made_sla": "true", "contact_type": "",
               "reassignment_count": "0", "work_start": "", "work_end": "", "backordered": "false",
               "recurring_frequency": "", "configuration_item": ""},
    computed=_computed_common(SC_REQ_ITEM_COLUMNS, frozenset({"-5", "1", "2"})),
    choices={
        "state": REQUEST_ITEM_STATES, "impact": IMPACT_LABELS, "urgency": IMPACT_LABELS,
        "priority": PRIORITY_LABELS,
        "approval": {"not requested": "Not Yet Requested", "requested": "Requested",
                     "approved": "Approved", "rejected": "Rejected"},
        "stage": {"waiting_for_approval": "Waiting for Approval", "fulfillment": "Fulfillment",
                  "complete": "Completed", "Request Cancelled": "Request Cancelled"},
    },
    number_prefix="RITM", number_start=10001,
    insert_defaults={"state": "1", "approval": "not requested", "priority": "4",
                     "sys_mod_count": "0"},
)

# --- task tables (start empty; the product writes them) --------------------------------------

_TASK_COLUMNS_BASE: tuple[str, ...] = (
    "sys_id", "number", "state", "short_description", "description", "assignment_group",
    "assigned_to", "priority", "due_date", "correlation_id", "correlation_display",
    "close_notes", "sys_created_on", "sys_updated_on", "sys_created_by", "sys_updated_by",
    "sys_mod_count", "opened_by", "closed_at",
)


def _task_table(name: str, parent: str, parent_table: str, prefix: str,
                states: dict[str, str], default_state: str, active: frozenset[str],
                extra_constants: dict[str, str]) -> TableSchema:
    columns = (*_TASK_COLUMNS_BASE, parent)
    constants = {k: v for k, v in TASK_CONSTANTS.items()
                 if k not in columns and k not in ("correlation_id", "correlation_display")}
    constants.update(sys_class_name=name, **extra_constants)
    return TableSchema(
        name=name, columns=columns,
        refs={**TASK_REFS, parent: parent_table},
        constants=constants,
        computed=_computed_common(columns, active),
        choices={"state": states, "priority": PRIORITY_LABELS},
        number_prefix=prefix, number_start=10001,
        insert_defaults={"state": default_state, "priority": "4", "sys_mod_count": "0"},
    )


INCIDENT_TASK = _task_table(
    "incident_task", "incident", "incident", "ITASK",
    {"-5": "Pending", "1": "Open", "2": "Work in Progress", "3": "Closed Complete",
     "4": "Closed Incomplete", "7": "Closed Skipped"}, "1", frozenset({"-5", "1", "2"}), {})
PROBLEM_TASK = _task_table(
    "problem_task", "problem", "problem", "PTASK",
    {"151": "New", "152": "Assess", "154": "Work in Progress", "157": "Closed",
     "1": "Open"}, "1", frozenset({"151", "152", "154", "1", "2"}),
    {"problem_task_type": "general"})
CHANGE_TASK = _task_table(
    "change_task", "change_request", "change_request", "CTASK",
    {"-5": "Pending", "1": "Open", "2": "In Progress", "3": "Closed", "4": "Canceled"},
    "1", frozenset({"-5", "1", "2"}),
    {"change_task_type": "planning", "on_hold": "false", "close_code": ""})
SC_TASK = _task_table(
    "sc_task", "request_item", "sc_req_item", "SCTASK",
    {"-5": "Pending", "1": "Open", "2": "Work in Progress", "3": "Closed Complete",
     "4": "Closed Incomplete", "7": "Closed Skipped"}, "1", frozenset({"-5", "1", "2"}),
    {"request": ""})

# --- reference tables ------------------------------------------------------------------------

SYS_USER = TableSchema(
    name="sys_user",
    columns=("sys_id", "user_name", "first_name", "last_name", "name", "email", "title",
             "department", "phone", "active", "sys_created_on", "sys_updated_on"),
    refs={"sys_domain": "sys_user_group", "department": "cmn_department", "manager": "sys_user",
          "company": "core_company", "location": "cmn_location"},
    constants={"sys_class_name": "sys_user", "locked_out": "false", "vip": "false",
               "web_service_access_only": "false", "time_zone": "", "manager": "",
               "company": "", "location": "", "sys_domain": "global",
               "sys_domain_path": "/", "sys_created_by": "admin", "sys_updated_by": "admin",
               "sys_mod_count": "0", "notification": "2", "preferred_language": "en"},
    display_field="name",
)
SYS_USER_GROUP = TableSchema(
    name="sys_user_group",
    columns=("sys_id", "name", "description", "manager", "email", "type",
             "sys_created_on", "sys_updated_on"),
    refs={"manager": "sys_user", "parent": "sys_user_group", "sys_domain": "sys_user_group"},
    constants={"active": "true", "parent": "", "cost_center": "", "default_assignee": "",
               "exclude_manager": "false", "include_members": "false",
               "sys_domain": "global", "sys_created_by": "admin", "sys_updated_by": "admin",
               "sys_mod_count": "0"},
    display_field="name",
)
CMDB_CI = TableSchema(
    name="cmdb_ci",
    columns=("sys_id", "name", "sys_class_name", "category", "ip_address", "support_group",
             "operational_status", "install_status", "sys_created_on", "sys_updated_on"),
    refs={"support_group": "sys_user_group", "sys_domain": "sys_user_group",
          "company": "core_company", "location": "cmn_location"},
    constants={"company": "", "location": "", "sys_domain": "global",
               "sys_created_by": "admin", "sys_updated_by": "admin", "sys_mod_count": "0",
               "environment": "production", "used_for": "Production"},
    display_field="name",
)
CMDB_CI_SERVICE = TableSchema(
    name="cmdb_ci_service",
    columns=("sys_id", "name", "busines_criticality", "owned_by", "support_group",
             "operational_status", "sys_created_on", "sys_updated_on"),
    refs={"owned_by": "sys_user", "support_group": "sys_user_group",
          "sys_domain": "sys_user_group"},
    constants={"sys_class_name": "cmdb_ci_service", "used_for": "Production",
               "service_classification": "Business Service", "install_status": "1",
               "sys_domain": "global", "sys_created_by": "admin", "sys_updated_by": "admin",
               "sys_mod_count": "0"},
    display_field="name",
)
SYS_CHOICE = TableSchema(
    name="sys_choice",
    columns=("sys_id", "name", "element", "value", "label", "sequence"),
    constants={"language": "en", "inactive": "false", "dependent_value": "", "hint": ""},
    display_field="label",
)

SYS_DB_OBJECT = TableSchema(
    name="sys_db_object",
    columns=("sys_id", "name", "label", "super_class", "sys_created_on", "sys_updated_on"),
    refs={"super_class": "sys_db_object"},
    constants={"is_extendable": "true", "sys_created_by": "admin", "sys_updated_by": "admin",
               "sys_mod_count": "0"},
    display_field="label",
)

# --- service levels (clause 8.3.3) -----------------------------------------------------------

# SLA definitions (contract_sla) and the SLA records of tasks (task_sla), as a stock instance
# keeps them; generated by sandbox/slas.py from the incidents.
CONTRACT_SLA = TableSchema(
    name="contract_sla",
    columns=("sys_id", "name", "target", "collection", "duration", "sys_created_on",
             "sys_updated_on"),
    constants={"type": "SLA", "active": "true", "sys_created_by": "admin",
               "sys_updated_by": "admin", "sys_mod_count": "0"},
    choices={"target": {"response": "Response", "resolution": "Resolution"}},
    display_field="name",
)
TASK_SLA_STAGES = {"in_progress": "In progress", "paused": "Paused", "completed": "Completed",
                   "cancelled": "Cancelled"}
TASK_SLA = TableSchema(
    name="task_sla",
    columns=("sys_id", "task", "sla", "stage", "has_breached", "start_time", "end_time",
             "planned_end_time", "business_percentage", "pause_duration", "sys_created_on",
             "sys_updated_on"),
    refs={"task": "task", "sla": "contract_sla"},
    constants={"sys_class_name": "task_sla", "sys_created_by": "system",
               "sys_updated_by": "system", "sys_mod_count": "1", "timezone": "GMT",
               "schedule": "", "u_breach_reason": ""},  # an organisation's own field
    computed={"active": lambda r: "true" if r[3] in ("in_progress", "paused") else "false"},
    choices={"stage": TASK_SLA_STAGES},
    display_field="sla",
)

# Served beside SCHEMAS (not listed in sys_db_object, as a read-only system table is not
# in scope for anything else): the instance's identity, derived from the dataset's seed.
SYS_PROPERTIES = TableSchema(
    name="sys_properties",
    columns=("sys_id", "name", "value"),
    constants={"type": "string", "sys_created_by": "admin"},
    display_field="name",
)

# ServiceNow's data lookup behind incident priority, served beside SCHEMAS as sys_properties.
DL_U_PRIORITY = TableSchema(
    name="dl_u_priority",
    columns=("sys_id", "impact", "urgency", "priority"),
    constants={"active": "true", "sys_created_by": "admin"},
    display_field="priority",
)


def priority_rows(matrix: dict[tuple[str, str], str] = PRIORITY_MATRIX) -> list[Row]:
    """dl_u_priority rows: one per (impact, urgency), the out-of-the-box lookup by default."""
    rows: list[Row] = []
    for (impact, urgency), priority in sorted(matrix.items()):
        row = DL_U_PRIORITY.new_row()
        sys_id = hashlib.md5(f"dl_u_priority:{impact}:{urgency}".encode(),
                             usedforsecurity=False).hexdigest()
        for key, text in (("sys_id", sys_id), ("impact", impact), ("urgency", urgency),
                          ("priority", priority)):
            DL_U_PRIORITY.set(row, key, text)
        rows.append(row)
    return rows


def instance_id(key: str) -> str:
    """A sandbox's instance_id property from its data set's `instance_key` (seed, size, defect
    rate): the same data, the same instance, whatever its port; another size another instance
    (else its smaller read would look like a shrunken instance to the record-share guard)."""
    return hashlib.md5(f"sandbox-instance:{key}".encode(), usedforsecurity=False).hexdigest()


def property_rows(key: str) -> list[Row]:
    """`instance_id` and `instance_name` of a sandbox whose data set's `instance_key` is `key`."""
    rows: list[Row] = []
    name_of = "sandbox" + key.replace(":", "-")
    for name, value in (("instance_id", instance_id(key)), ("instance_name", name_of)):
        row = SYS_PROPERTIES.new_row()
        for key, text in (("sys_id", hashlib.md5(f"sys_properties:{name}".encode(),
                                                  usedforsecurity=False).hexdigest()),
                          ("name", name), ("value", value)):
            SYS_PROPERTIES.set(row, key, text)
        rows.append(row)
    return sorted(rows, key=lambda r: str(r[0]))


SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (INCIDENT, PROBLEM, CHANGE, SC_REQ_ITEM, SC_REQUEST, SC_CAT_ITEM,
                        INCIDENT_TASK, PROBLEM_TASK, CHANGE_TASK, SC_TASK, SYS_USER,
                        SYS_USER_GROUP, CMDB_CI, CMDB_CI_SERVICE, SYS_CHOICE, SYS_DB_OBJECT,
                        CONTRACT_SLA, TASK_SLA)
}
"""Every table the sandbox serves, by name."""

# Which table each one extends (sys_db_object.super_class), as on an out-of-the-box instance.
SUPER_CLASS = {
    "incident": "task", "problem": "task", "change_request": "task", "incident_task": "task",
    "problem_task": "task", "change_task": "task", "cmdb_ci": "cmdb", "cmdb_ci_service": "cmdb_ci",
    "sc_req_item": "task", "sc_request": "task", "sc_task": "task",
}


def db_object_rows(created: str = "2020-01-01 00:00:00") -> list[Row]:
    """sys_db_object rows for every served table and the base tables they extend."""
    def sys_id(name: str) -> str:
        return hashlib.md5(f"sys_db_object:{name}".encode(), usedforsecurity=False).hexdigest()

    rows: list[Row] = []
    for name in sorted({*SCHEMAS, *SUPER_CLASS.values()}):
        row = SYS_DB_OBJECT.new_row()
        parent = SUPER_CLASS.get(name)
        for key, value in (("sys_id", sys_id(name)), ("name", name),
                           ("label", name.replace("_", " ").title()),
                           ("super_class", sys_id(parent) if parent else ""),
                           ("sys_created_on", created), ("sys_updated_on", created)):
            SYS_DB_OBJECT.set(row, key, value)
        rows.append(row)
    return sorted(rows, key=lambda r: str(r[0]))
