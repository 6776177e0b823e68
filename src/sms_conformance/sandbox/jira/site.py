"""The JSM site the Jira sandbox models (interfaces.md C): project, issue types, statuses, link
types, priorities, resolutions, and which field carries each canonical field per process.

Custom field ids are customfield_10100 upwards in CUSTOM_FIELDS order; a real site has other
ids, which is why readers find them by name through GET /rest/api/3/field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROJECT_ID, PROJECT_KEY, PROJECT_NAME = "10000", "ITSM", "IT Service Management"
ADMIN_EMAIL = "admin@example.com"
ADMIN_ACCOUNT_ID = "6816f79cc0a8016401c5a33be04be441"  # the generated admin user's id
ADMIN_NAME = "System Administrator"
FIRST_ISSUE_ID = 10001
MISSING_PROJECT = "ARCH"  # archived project holding the targets of dangling links


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    process: str  # incident | problem | change | request | task
    subtask: bool = False


ISSUE_TYPES = (
    IssueType("10001", "[System] Incident", "incident"),
    IssueType("10002", "[System] Problem", "problem"),
    IssueType("10003", "[System] Change", "change"),
    IssueType("10004", "Task", "task"),
    IssueType("10005", "Sub-task", "task", subtask=True),
    IssueType("10006", "[System] Post-incident review", "review"),
    IssueType("10007", "[System] Service request", "request"),
    IssueType("10008", "[System] Service request with approvals", "request"),
)
# The first type of each process (a request needing approval: the "with approvals" one).
TYPE_OF_PROCESS = {t.process: t for t in reversed(ISSUE_TYPES) if not t.subtask}
APPROVAL_REQUEST_TYPE = ISSUE_TYPES[-1]
TASK_TYPES = frozenset({"10004", "10005"})


@dataclass(frozen=True)
class Category:
    id: int
    key: str
    name: str
    color: str


CATEGORIES = {c.key: c for c in (Category(2, "new", "To Do", "blue-gray"),
                                 Category(4, "indeterminate", "In Progress", "yellow"),
                                 Category(3, "done", "Done", "green"))}


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # statusCategory key


_STATUS_LIST = (
    ("1", "Open", "new"), ("3", "Work in progress", "indeterminate"),
    ("10010", "Pending", "indeterminate"), ("10011", "Completed", "done"),
    ("6", "Closed", "done"), ("10012", "Canceled", "done"),
    ("10013", "Under review", "indeterminate"), ("10014", "Under investigation", "indeterminate"),
    ("10015", "Fix in progress", "indeterminate"), ("10016", "Planning", "new"),
    ("10017", "Peer review", "indeterminate"), ("10018", "Awaiting CAB approval", "indeterminate"),
    ("10019", "Awaiting implementation", "indeterminate"),
    ("10020", "Implementing", "indeterminate"), ("10021", "Review", "indeterminate"),
    ("10022", "To Do", "new"), ("10023", "In Progress", "indeterminate"),
    ("10024", "Done", "done"),
    ("10025", "Waiting for support", "new"), ("10026", "Waiting for approval", "indeterminate"),
    ("10027", "Waiting for customer", "indeterminate"), ("5", "Resolved", "done"),
)
STATUSES = {name: Status(sid, name, cat) for sid, name, cat in _STATUS_LIST}

# canonical lifecycle state -> status name, per process
STATUS_OF_STATE: dict[str, dict[str, str]] = {
    "incident": {"new": "Open", "in_progress": "Work in progress", "on_hold": "Pending",
                 "resolved": "Completed", "closed": "Closed", "canceled": "Canceled"},
    "problem": {"new": "Open", "assess": "Under review",
                "root_cause_analysis": "Under investigation",
                "fix_in_progress": "Fix in progress", "resolved": "Completed",
                "closed": "Closed"},
    "change": {"new": "Planning", "assess": "Peer review", "authorize": "Awaiting CAB approval",
               "scheduled": "Awaiting implementation", "implement": "Implementing",
               "review": "Review", "closed": "Closed", "canceled": "Canceled"},
    "request": {"new": "Waiting for support", "awaiting_approval": "Waiting for approval",
                "in_progress": "In Progress", "on_hold": "Waiting for customer",
                "resolved": "Resolved", "closed": "Closed", "canceled": "Canceled"},
    "task": {"new": "To Do", "in_progress": "In Progress", "done": "Done"},
}
STATUSES_OF_TYPE: dict[str, tuple[str, ...]] = {
    t.id: tuple(STATUS_OF_STATE.get(t.process, STATUS_OF_STATE["task"]).values())
    for t in ISSUE_TYPES}


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str  # status name


TASK_TRANSITIONS = (Transition("11", "Reopen", "To Do"),
                    Transition("21", "Start progress", "In Progress"),
                    Transition("31", "Done", "Done"))


@dataclass(frozen=True)
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


LINK_TYPES = {t.name: t for t in (
    LinkType("10000", "Problem/Incident", "is caused by", "causes"),
    LinkType("10001", "Fixes", "is fixed by", "fixes"),
    LinkType("10002", "Causes", "is caused by", "causes"),
    LinkType("10003", "Relates", "relates to", "relates to"),
    LinkType("10004", "Parent/Child", "is child of", "is parent of"),
)}
# canonical link field -> (link type, direction seen from the record holding the field)
CANONICAL_LINKS = {"problem": ("Problem/Incident", "inward"),
                   "fixed_by_change": ("Fixes", "inward"),
                   "caused_by_change": ("Causes", "inward"),
                   "parent": ("Parent/Child", "inward")}

PRIORITIES = {1: ("1", "Highest"), 2: ("2", "High"), 3: ("3", "Medium"), 4: ("4", "Low"),
              5: ("5", "Lowest")}
PRIORITY_BY_NAME = {name.casefold(): (pid, name) for pid, name in PRIORITIES.values()}

INCIDENT_CODES = ("Duplicate", "Known error", "No resolution provided", "Resolved by caller",
                  "Resolved by change", "Resolved by problem", "Resolved by request",
                  "Solution provided", "Workaround provided", "User error")
# canonical value -> option text / resolution name
IMPACT = {1: "Extensive / Widespread", 2: "Significant / Large", 3: "Moderate / Limited"}
URGENCY = {1: "High", 2: "Medium", 3: "Low"}
CATEGORY = {"inquiry": "Inquiry / Help", "software": "Software", "hardware": "Hardware",
            "network": "Network", "database": "Database", "other": "Other"}
PENDING_REASON = {"awaiting_caller": "Awaiting Caller", "awaiting_evidence": "Awaiting Evidence",
                  "awaiting_problem": "Awaiting Problem", "awaiting_vendor": "Awaiting Vendor",
                  "awaiting_change": "Awaiting Change"}
MAJOR_STATE = {"proposed": "Proposed", "accepted": "Accepted", "rejected": "Rejected",
               "canceled": "Canceled"}
KNOWN_ERROR = {True: "Yes", False: "No"}
CHANGE_TYPE = {"normal": "Normal", "standard": "Standard", "emergency": "Emergency"}
CHANGE_RISK = {1: "Very High", 2: "High", 3: "Moderate", 4: "Low"}
APPROVAL = {"not requested": "Not Yet Requested", "requested": "Requested",
            "approved": "Approved", "rejected": "Rejected"}
# A request's approval as JSM's Approvals field decides it (none while not requested).
APPROVAL_DECISION = {"requested": "pending", "approved": "approved", "rejected": "declined"}
PROBLEM_RESOLUTION = {"fix_applied": "Fix Applied", "risk_accepted": "Risk Accepted",
                      "duplicate": "Duplicate", "canceled": "Canceled"}
CHANGE_RESOLUTION = {"successful": "Successful", "successful_issues": "Successful with issues",
                     "unsuccessful": "Unsuccessful"}
RESOLUTIONS = {name: str(10000 + i) for i, name in enumerate(dict.fromkeys(
    ("Done", *INCIDENT_CODES, *PROBLEM_RESOLUTION.values(), *CHANGE_RESOLUTION.values())))}

_CF = "com.atlassian.jira.plugin.system.customfieldtypes:"


@dataclass(frozen=True)
class CustomField:
    name: str
    kind: str  # option | group | services | cis | adf | string | number | datetime | sla |
    #            request_type | approvals
    options: tuple[str, ...] = ()

    def schema(self, field_id: str) -> dict[str, Any]:
        custom_id = int(field_id.rsplit("_", 1)[1])
        kinds: dict[str, dict[str, Any]] = {
            "option": {"type": "option", "custom": _CF + "select"},
            "group": {"type": "group", "custom": _CF + "grouppicker"},
            "services": {"type": "array", "items": "service-entity-field-cftype",
                         "custom": "com.atlassian.jira.plugins.service-entity:"
                                   "service-entity-field-cftype"},
            "cis": {"type": "array", "items": "cmdb-object-field",
                    "custom": "com.atlassian.jira.plugins.cmdb:cmdb-object-cftype"},
            "adf": {"type": "string", "custom": _CF + "textarea"},
            "string": {"type": "string", "custom": _CF + "textfield"},
            "number": {"type": "number", "custom": _CF + "float"},
            "datetime": {"type": "datetime", "custom": _CF + "datetime"},
            "sla": {"type": "sd-servicelevelagreement",
                    "custom": "com.atlassian.servicedesk:sd-sla-field"},
            "request_type": {"type": "sd-customerrequesttype",
                             "custom": "com.atlassian.servicedesk:vp-origin"},
            "approvals": {"type": "sd-approvals",
                          "custom": "com.atlassian.servicedesk.approvals-plugin:sd-approvals"},
        }
        return {**kinds[self.kind], "customId": custom_id}


CUSTOM_FIELDS = (
    CustomField("Impact", "option", (*IMPACT.values(), "Minor / Localized")),
    CustomField("Urgency", "option", ("Critical", *URGENCY.values())),
    CustomField("Category", "option", tuple(CATEGORY.values())),
    CustomField("Subcategory", "option"),  # options: the generated subcategories, as they come
    CustomField("Assignment group", "group"),
    CustomField("Affected services", "services"),
    CustomField("Configuration item", "cis"),
    CustomField("Resolution notes", "adf"),
    CustomField("Root cause", "adf"),
    CustomField("Workaround", "adf"),
    CustomField("Fix notes", "adf"),
    CustomField("Known error", "option", tuple(KNOWN_ERROR.values())),
    CustomField("Reopen count", "number"),
    CustomField("Pending reason", "option", tuple(PENDING_REASON.values())),
    CustomField("Major incident state", "option", tuple(MAJOR_STATE.values())),
    CustomField("Vendor reference", "string"),
    CustomField("Change type", "option", tuple(CHANGE_TYPE.values())),
    CustomField("Change risk", "option", tuple(CHANGE_RISK.values())),
    CustomField("Approval", "option", tuple(APPROVAL.values())),
    CustomField("Justification", "adf"),
    CustomField("Implementation plan", "adf"),
    CustomField("Backout plan", "adf"),
    CustomField("Test plan", "adf"),
    CustomField("Planned start", "datetime"),
    CustomField("Planned end", "datetime"),
    CustomField("Actual start", "datetime"),
    CustomField("Actual end", "datetime"),
    CustomField("Review date", "datetime"),
    CustomField("Closed date", "datetime"),
    CustomField("Time to resolution", "sla"),  # JSM's default SLA field (reference §3)
    CustomField("Time to first response", "sla"),
    CustomField("Request Type", "request_type"),  # JSM's portal request type (reference §3)
    CustomField("Approvals", "approvals"),
)
CUSTOM_IDS = {f.name: f"customfield_{10100 + i}" for i, f in enumerate(CUSTOM_FIELDS)}
CUSTOM_BY_ID = {CUSTOM_IDS[f.name]: f for f in CUSTOM_FIELDS}


@dataclass(frozen=True)
class Placement:
    """Where a canonical field lives on an issue: a system field id or a custom field name,
    how its value is shaped (`kind`), and canonical value -> platform text for choices."""

    target: str
    kind: str  # text | adf | datetime | date | user | group | services | cis | option |
    #            number | priority | resolution | string | request_type | approvals |
    #            sla (the issue's SLA, not a stored value)
    texts: dict[Any, str] | None = None

    @property
    def field_id(self) -> str:
        return CUSTOM_IDS.get(self.target, self.target)


def _common(resolutions: dict[Any, str] | None) -> dict[str, Placement]:
    return {
        "short_description": Placement("summary", "text"),
        "description": Placement("description", "adf"),
        "opened_at": Placement("created", "datetime"),
        "updated_at": Placement("updated", "datetime"),
        "assignee": Placement("assignee", "user"),
        "assignment_group": Placement("Assignment group", "group"),
        "service": Placement("Affected services", "services"),
        "configuration_item": Placement("Configuration item", "cis"),
        "impact": Placement("Impact", "option", IMPACT),
        "priority": Placement("priority", "priority"),
        "closed_at": Placement("Closed date", "datetime"),
        "resolution_code": Placement("resolution", "resolution", resolutions),
        "resolution_notes": Placement("Resolution notes", "adf"),
    }


PLACEMENTS: dict[str, dict[str, Placement]] = {
    "incident": {
        **_common(None),
        "reporter": Placement("reporter", "user"),
        "urgency": Placement("Urgency", "option", URGENCY),
        "category": Placement("Category", "option", CATEGORY),
        "subcategory": Placement("Subcategory", "option"),
        "resolved_at": Placement("resolutiondate", "datetime"),
        "reopen_count": Placement("Reopen count", "number"),
        "hold_reason": Placement("Pending reason", "option", PENDING_REASON),
        "major_incident": Placement("Major incident state", "option", MAJOR_STATE),
        "vendor_reference": Placement("Vendor reference", "string"),
        "made_sla": Placement("Time to resolution", "sla"),
        # JSM's other default SLA field: not a canonical field of its own (the connector sums
        # every mapped SLA field up into the sla_* fields), placed under the sandbox's own key
        "time_to_first_response": Placement("Time to first response", "sla"),
    },
    "problem": {
        **_common(PROBLEM_RESOLUTION),
        "urgency": Placement("Urgency", "option", URGENCY),
        "category": Placement("Category", "option", CATEGORY),
        "root_cause": Placement("Root cause", "adf"),
        "workaround": Placement("Workaround", "adf"),
        "known_error": Placement("Known error", "option", KNOWN_ERROR),
        "fix_notes": Placement("Fix notes", "adf"),
        "resolved_at": Placement("resolutiondate", "datetime"),
    },
    "change": {
        **_common(CHANGE_RESOLUTION),
        "type": Placement("Change type", "option", CHANGE_TYPE),
        "approval": Placement("Approval", "option", APPROVAL),
        "risk": Placement("Change risk", "option", CHANGE_RISK),
        "category": Placement("Category", "option", CATEGORY),
        "justification": Placement("Justification", "adf"),
        "implementation_plan": Placement("Implementation plan", "adf"),
        "backout_plan": Placement("Backout plan", "adf"),
        "test_plan": Placement("Test plan", "adf"),
        "planned_start": Placement("Planned start", "datetime"),
        "planned_end": Placement("Planned end", "datetime"),
        "actual_start": Placement("Actual start", "datetime"),
        "actual_end": Placement("Actual end", "datetime"),
        "reviewed_at": Placement("Review date", "datetime"),
    },
    # approval_required is the work type ("with approvals"), not a field
    "request": {
        **_common(None),
        "requester": Placement("reporter", "user"),
        "catalog_item": Placement("Request Type", "request_type"),
        "approval": Placement("Approvals", "approvals", APPROVAL_DECISION),
        "due_date": Placement("duedate", "date"),
        "closed_at": Placement("resolutiondate", "datetime"),
        # JSM's SLA fields, as on incidents (placed under the sandbox's own keys)
        "time_to_resolution": Placement("Time to resolution", "sla"),
        "time_to_first_response": Placement("Time to first response", "sla"),
    },
}

SYSTEM_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    # id -> (name, schema)
    "issuekey": ("Key", {}),
    "summary": ("Summary", {"type": "string", "system": "summary"}),
    "description": ("Description", {"type": "string", "system": "description"}),
    "status": ("Status", {"type": "status", "system": "status"}),
    "statusCategory": ("Status Category", {"type": "statusCategory",
                                           "system": "statusCategory"}),
    "priority": ("Priority", {"type": "priority", "system": "priority"}),
    "reporter": ("Reporter", {"type": "user", "system": "reporter"}),
    "assignee": ("Assignee", {"type": "user", "system": "assignee"}),
    "created": ("Created", {"type": "datetime", "system": "created"}),
    "updated": ("Updated", {"type": "datetime", "system": "updated"}),
    "resolutiondate": ("Resolved", {"type": "datetime", "system": "resolutiondate"}),
    "resolution": ("Resolution", {"type": "resolution", "system": "resolution"}),
    "issuetype": ("Issue Type", {"type": "issuetype", "system": "issuetype"}),
    "project": ("Project", {"type": "project", "system": "project"}),
    "labels": ("Labels", {"type": "array", "items": "string", "system": "labels"}),
    "issuelinks": ("Linked Issues", {"type": "array", "items": "issuelinks",
                                     "system": "issuelinks"}),
    "parent": ("Parent", {"type": "issuelink", "system": "parent"}),
    "subtasks": ("Sub-tasks", {"type": "array", "items": "issuelinks", "system": "subtasks"}),
    "duedate": ("Due date", {"type": "date", "system": "duedate"}),
    "comment": ("Comment", {"type": "comments-page", "system": "comment"}),
}
NAVIGABLE_EXCLUDED = frozenset({"comment"})  # *navigable leaves these out
