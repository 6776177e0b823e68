"""Jira's CSV export ("Export > CSV (all fields)") read into issues of the REST shape.

How a real export looks (Cloud, 2025-26; tests/realdata/SOURCES.md): a header of field names,
not ids ("Summary", "Issue key", "Issue id", "Issue Type", "Status", "Assignee" and
"Assignee Id", "Created" ...), custom fields as "Custom field (Name)" (a few without the
prefix: "Sprint", "Satisfaction rating"), a column per value for multi-value fields ("Labels",
"Labels"; "Watchers", "Watchers"), links as "Inward issue link (Type)" / "Outward issue link
(Type)" holding the other issue's key, options by their text, groups and most references by
name, dates in the site's date format (default `dd/MMM/yy h:mm a`) in the exporting user's time
zone, without seconds or offset, numbers as `4.0`.

So: a reference given by name reads as a name (NamedRef: set, but its record cannot be looked
up), a link to an issue not in the export keeps its key, a date that does not fit the format is
unknown, and a field with no column is not carried (unknown).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sms_conformance.connectors.jira.export_model import JiraExport
from sms_conformance.connectors.jira.fieldmap import FieldCatalog
from sms_conformance.model.dates import DateReader, zone
from sms_conformance.model.errors import ConfigError

Json = dict[str, Any]
DEFAULT_DATE_FORMAT = "dd/MMM/yy h:mm a"  # Jira's default date-time format (look and feel)
# Column (casefolded) -> system field id; "Issue key" and "Issue id" are the issue's own.
SYSTEM_COLUMNS = {
    "summary": "summary", "issue type": "issuetype", "status": "status",
    "priority": "priority", "resolution": "resolution", "assignee": "assignee",
    "assignee id": "assignee", "reporter": "reporter", "reporter id": "reporter",
    "creator": "creator", "creator id": "creator", "created": "created", "updated": "updated",
    "resolved": "resolutiondate", "due date": "duedate", "last viewed": "lastViewed",
    "description": "description", "environment": "environment", "labels": "labels",
    "project key": "project", "status category": "statusCategory",
    "status category changed": "statuscategorychangedate", "parent": "parent",
}
SYSTEM_NAMES = {  # field id -> the name GET /field gives it (a catalog without field.json)
    "summary": "Summary", "issuetype": "Issue Type", "status": "Status",
    "priority": "Priority", "resolution": "Resolution", "assignee": "Assignee",
    "reporter": "Reporter", "creator": "Creator", "created": "Created", "updated": "Updated",
    "resolutiondate": "Resolved", "duedate": "Due date", "lastViewed": "Last Viewed",
    "description": "Description", "environment": "Environment", "labels": "Labels",
    "project": "Project", "statusCategory": "Status Category",
    "statuscategorychangedate": "Status Category Changed", "parent": "Parent",
    "issuelinks": "Linked Issues",
}
NAMED = frozenset({"status", "issuetype", "priority", "resolution", "statusCategory"})
USERS = frozenset({"assignee", "reporter", "creator"})
DATES = frozenset({"created", "updated", "resolutiondate", "duedate", "lastViewed",
                   "statuscategorychangedate"})
MULTI = frozenset({"labels"})
_LINK = re.compile(r"(Inward|Outward) issue link \((.+)\)")
_CUSTOM = re.compile(r"Custom field \((.+)\)")
# Cloud account ids: 24 hex digits, or "<n>:<uuid>" (the real export's Assignee Id column).
_ACCOUNT_ID = re.compile(r"[0-9a-f]{24}|[0-9]+:[0-9a-f-]{36}")
_REF_SCHEMAS = frozenset({"user", "group"})


def read_sheets(directory: Path, sheets: list[Path], fields: list[Any] | None,
                custom: Mapping[str, str], time_zone: str | None,
                date_format: str | None) -> JiraExport:
    """`custom`: custom field name -> the field map's type for it."""
    notices: list[str] = []
    headers = [(path, _read(path)) for path in sheets]
    columns = {name for _, (header, _) in headers for name in header}
    catalog_fields = fields if fields is not None else _catalog_fields(columns, custom)
    catalog = FieldCatalog.from_fields(f"file:{directory.resolve()}", catalog_fields)
    kinds = _kinds(catalog_fields, catalog, custom)
    reader = DateReader(date_format or DEFAULT_DATE_FORMAT, zone(time_zone))
    if not time_zone:
        notices.append(f"{directory}: the CSV export's dates carry no time zone: read as UTC "
                       "(set time_zone in config/jira_fieldmap.yaml to the exporting user's, "
                       "or save its GET /rest/api/3/myself as myself.json beside the export)")
    issues: list[Json] = []
    seen: dict[str, str] = {}
    for path, (header, rows) in headers:
        plan = _plan(path, header, catalog)
        for line, row in rows:
            issue = _issue(path, line, header, row, plan, kinds, reader)
            key = issue["key"]
            if key in seen:
                raise ConfigError(f"{path}: line {line} repeats issue {key} of {seen[key]}")
            seen[key] = f"{path.name} line {line}"
            issues.append(issue)
    _link_ids(issues)
    export = JiraExport(directory, "csv", issues, catalog, tuple(sheets), notices)
    export.dates = f"as {reader.date_format}"
    return export


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ConfigError(f"{path}: empty; expected Jira's CSV export with its header")
            header = [name.strip() for name in header]
            if "Issue key" not in header:
                raise ConfigError(f"{path}: no 'Issue key' column: not Jira's CSV export")
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ConfigError(f"{path}: line {reader.line_num} has {len(row)} values, "
                                      f"the header {len(header)} columns")
                rows.append((reader.line_num, row))
            return header, rows
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a readable CSV file: {exc}") from None


def _custom_name(column: str) -> str:
    match = _CUSTOM.fullmatch(column)
    return match.group(1) if match else column


def _catalog_fields(columns: Iterable[str], custom: Mapping[str, str]) -> list[Json]:
    """A field list from the columns, when no field.json was saved: system fields by their
    ids, custom fields by their column (a CSV names fields, it carries no ids). The map's custom
    names without a column are listed too: their fields are not carried (unknown), not errors."""
    out: list[Json] = [{"id": fid, "name": name} for fid, name in SYSTEM_NAMES.items()]
    named: set[str] = set()
    for column in sorted(set(columns)):
        lowered = column.casefold()
        if lowered in SYSTEM_COLUMNS or lowered in ("issue key", "issue id") or _LINK.fullmatch(column):
            continue
        name = _custom_name(column)
        if name.casefold() not in named:
            named.add(name.casefold())
            out.append({"id": f"Custom field ({name})", "name": name})
    out += [{"id": f"Custom field ({name})", "name": name}
            for name in sorted(custom) if name.casefold() not in named]
    return out


def _kinds(fields: list[Any], catalog: FieldCatalog, custom: Mapping[str, str]) -> dict[str, str]:
    """Field id -> how its cells read: "datetime", "ref" or "text"."""
    kinds: dict[str, str] = {}
    folded = {name.casefold(): kind for name, kind in custom.items()}
    for item in fields:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        schema = item.get("schema")
        schema = schema if isinstance(schema, Mapping) else {}
        kind = str(schema.get("type", ""))
        if kind == "array":
            kind = str(schema.get("items", ""))
        name = str(item.get("name", "")).casefold()
        mapped = folded.get(name)
        if kind in ("datetime", "date") or mapped == "datetime":
            kinds[item["id"]] = "datetime"
        elif kind in _REF_SCHEMAS or mapped == "ref":
            kinds[item["id"]] = "ref"
    return kinds


def _plan(path: Path, header: list[str], catalog: FieldCatalog) -> list[tuple[str, str]]:
    """Per column: (how, target): ("top", "key"), ("field", id), ("user_id", id),
    ("link", "Inward:Type"), or ("skip", "")."""
    plan: list[tuple[str, str]] = []
    for column in header:
        lowered = column.casefold()
        link = _LINK.fullmatch(column)
        if lowered == "issue key":
            plan.append(("top", "key"))
        elif lowered == "issue id":
            plan.append(("top", "id"))
        elif link:
            plan.append(("link", f"{link.group(1).lower()}:{link.group(2)}"))
        elif lowered in SYSTEM_COLUMNS:
            how = "user_id" if lowered.endswith(" id") else "field"
            plan.append((how, SYSTEM_COLUMNS[lowered]))
        else:
            ids = catalog.ids_by_name.get(_custom_name(column).strip().casefold(), ())
            # no such field, or several of that name (which column is which cannot be told)
            plan.append(("field", ids[0]) if len(ids) == 1 else ("skip", ""))
    return plan


def _issue(path: Path, line: int, header: list[str], row: list[str],
           plan: list[tuple[str, str]], kinds: Mapping[str, str], reader: DateReader) -> Json:
    top: dict[str, str] = {}
    cells: dict[str, list[str]] = {}
    user_ids: dict[str, str] = {}
    links: list[Json] = []
    for (how, target), cell in zip(plan, row, strict=True):
        value = cell.strip()
        if how == "top":
            top[target] = value
        elif how == "field":
            cells.setdefault(target, [])
            if value:
                cells[target].append(value)
        elif how == "user_id" and value:
            user_ids[target] = value
        elif how == "link" and value:
            side, _, type_name = target.partition(":")
            links.append({"type": {"name": type_name}, f"{side}Issue": {"key": value}})
    key = top.get("key", "")
    if not key:
        raise ConfigError(f"{path}: line {line} has no issue key")
    issue_id = top.get("id") or key
    if "id" in top and not issue_id.isdigit():
        raise ConfigError(f"{path}: line {line} ({key}) has no numeric issue id")
    fields: Json = {name: _value(name, values, kinds, reader, user_ids.get(name))
                    for name, values in cells.items()}
    for name, account in user_ids.items():
        if name not in fields:
            fields[name] = {"accountId": account}
    if any(how == "link" for how, _ in plan):
        fields["issuelinks"] = links
    return {"id": issue_id, "key": key, "fields": fields}


def _value(field_id: str, values: list[str], kinds: Mapping[str, str], reader: DateReader,
           account: str | None) -> Any:
    if field_id in MULTI:
        return values
    if field_id in USERS:
        if not values and account is None:
            return None
        user: Json = {"displayName": values[0]} if values else {}
        if account:
            user["accountId"] = account
        return user
    if not values:
        return None
    if field_id in NAMED:
        return {"name": values[0]}
    if field_id == "project":
        return {"key": values[0]}
    if field_id == "parent":
        return {"id": values[0]}
    kind = kinds.get(field_id)
    shown: list[Any]
    if field_id in DATES or kind == "datetime":
        shown = [_timestamp(v, reader) for v in values]
    elif kind == "ref":
        shown = [{"accountId": v} if _ACCOUNT_ID.fullmatch(v) else {"displayName": v}
                 for v in values]
    else:
        shown = list(values)
    return shown[0] if len(shown) == 1 else shown


def _timestamp(text: str, reader: DateReader) -> str:
    """A date as Jira's REST API writes it (UTC); the text as it is when it does not read (the
    reader then says it is unknown)."""
    moment = reader(text)
    if not isinstance(moment, datetime):
        return text
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _link_ids(issues: list[Json]) -> None:
    """Links name the other issue by key: those in the export get its id and issue type (as a
    REST link's stub has); the others keep the key as their id."""
    by_key = {issue["key"]: issue for issue in issues}
    for issue in issues:
        for link in issue["fields"].get("issuelinks", ()):
            for side in ("inwardIssue", "outwardIssue"):
                stub = link.get(side)
                if stub is None:
                    continue
                other = by_key.get(stub["key"])
                if other is None:
                    stub["id"] = stub["key"]
                    continue
                stub["id"] = other["id"]
                issuetype = other["fields"].get("issuetype")
                if issuetype is not None:
                    stub["fields"] = {"issuetype": issuetype}
