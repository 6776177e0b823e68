"""Write the JSM sandbox's issues as the exports people make of a Jira site:

- `json`: saved REST search pages, `search-0001.json` ... (`*all` fields; v3: enhanced search
  pages with ADF text, v2: legacy `/rest/api/2/search` pages with wiki text), and the site's
  `GET /rest/api/3/field` as `field.json`;
- `csv`: Jira's "Export > CSV (all fields)" as a real export looks (connectors/jira/csv_export):
  field names as headers, "Custom field (Name)", one column per value of a multi-value field,
  "Inward/Outward issue link (Type)" columns holding keys, names for groups and services, dates
  in the site's format in the exporting user's zone.

`planted.json` maps issue key -> planted rule ids, as `sandbox export` does for ServiceNow.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sms_conformance.connectors.jira.values import parse_timestamp
from sms_conformance.model.dates import render, zone
from sms_conformance.sandbox.dataset import Dataset
from sms_conformance.sandbox.jira.render import Renderer, field_list, select_fields
from sms_conformance.sandbox.jira.server import planted_keys
from sms_conformance.sandbox.jira.site import ADMIN_ACCOUNT_ID, CUSTOM_BY_ID
from sms_conformance.sandbox.jira.store import JiraStore
from sms_conformance.sandbox.logical import logical_view

JIRA_FORMATS = ("json", "csv")
NOT_IN_CSV = frozenset({"sla", "request_type", "approvals"})  # custom field kinds
DEFAULT_SITE = "https://sandbox.atlassian.net"
CSV_DATE_FORMAT = "dd/MMM/yy h:mm a"  # Jira's default date-time format
Json = dict[str, Any]
# Leading columns in the order a real export has them (then labels, description, links, custom
# fields): (header, field id, what of the value).
_LEADING = (
    ("Summary", "summary", "text"), ("Issue key", "key", "top"), ("Issue id", "id", "top"),
    ("Issue Type", "issuetype", "name"), ("Status", "status", "name"),
    ("Project key", "project", "key"), ("Project name", "project", "name"),
    ("Priority", "priority", "name"), ("Resolution", "resolution", "name"),
    ("Assignee", "assignee", "displayName"), ("Assignee Id", "assignee", "accountId"),
    ("Reporter", "reporter", "displayName"), ("Reporter Id", "reporter", "accountId"),
    ("Created", "created", "date"), ("Updated", "updated", "date"),
    ("Resolved", "resolutiondate", "date"), ("Due date", "duedate", "text"),
)


def export_jira(dataset: Dataset, out_dir: str | Path, *, fmt: str = "json", api: int = 3,
                page_size: int = 100, site: str = DEFAULT_SITE, time_zone: str = "UTC",
                date_format: str = CSV_DATE_FORMAT,
                hidden_fields: Sequence[str] = ()) -> dict[str, Path]:
    """Write the exports of `dataset`'s issues under `out_dir`; return the paths written.
    `hidden_fields`: fields left out (a CSV column not exported, a field the search omits)."""
    if fmt not in JIRA_FORMATS:
        raise ValueError(f"format one of {JIRA_FORMATS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = JiraStore(logical_view(dataset), time_zone, hidden_fields=hidden_fields)
    version = 2 if fmt == "csv" else api  # a CSV export holds wiki text, as v2 does
    renderer = Renderer(store, site, version)
    fields = select_fields(["*all"])
    issues = [renderer.issue(issue, fields) for _, issue in sorted(store.issues.items())]
    written = (_pages(out, issues, page_size, api) if fmt == "json"
               else {"csv": _sheet(out / "issues.csv", issues, zone(time_zone), date_format)})
    if fmt == "json":
        written["field"] = out / "field.json"
        written["field"].write_bytes(orjson.dumps(field_list(), option=orjson.OPT_INDENT_2))
    else:  # the exporting user's GET myself: the zone its dates are shown in
        written["myself"] = out / "myself.json"
        written["myself"].write_bytes(orjson.dumps(renderer.user(ADMIN_ACCOUNT_ID)))
    written["planted"] = out / "planted.json"
    written["planted"].write_bytes(orjson.dumps(planted_keys(store), option=orjson.OPT_INDENT_2))
    return written


def _pages(out: Path, issues: list[Json], page_size: int, api: int) -> dict[str, Path]:
    written: dict[str, Path] = {}
    chunks = [issues[i:i + page_size] for i in range(0, len(issues), page_size)] or [[]]
    for number, chunk in enumerate(chunks, 1):
        last = number == len(chunks)
        if api == 2:
            body: Json = {"expand": "schema,names", "startAt": (number - 1) * page_size,
                          "maxResults": page_size, "total": len(issues), "issues": chunk}
        else:
            body = {"issues": chunk, "isLast": last}
            if not last:
                body["nextPageToken"] = f"page-{number + 1}"
        path = out / f"search-{number:04d}.json"
        path.write_bytes(orjson.dumps(body))
        written[path.stem] = path
    return written


def _sheet(path: Path, issues: list[Json], where: Any, date_format: str) -> Path:
    def shown(value: Any, what: str) -> str:
        if value is None:
            return ""
        if what == "date":
            moment = parse_timestamp(value) if isinstance(value, str) else None
            return render(moment, date_format, where) if isinstance(moment, datetime) else ""
        if isinstance(value, Mapping):
            return str(value.get(what) or "") if what != "text" else _text(value)
        return _text(value)

    link_columns = _counts(issues, _links)
    custom_columns = _counts(issues, _custom)
    labels = max((len(i["fields"].get("labels") or []) for i in issues), default=0)
    header = [h for h, _, _ in _LEADING] + ["Labels"] * labels + ["Description"]
    header += [name for name, count in link_columns for _ in range(count)]
    header += [f"Custom field ({name})" for name, count in custom_columns for _ in range(count)]
    rows = []
    for issue in issues:
        fields = issue["fields"]
        row = [shown(issue.get(fid) if what == "top" else fields.get(fid), what)
               for _, fid, what in _LEADING]
        row += _padded(fields.get("labels") or [], labels)
        row.append(_text(fields.get("description")))
        for name, count in link_columns:
            row += _padded(_links(issue).get(name, []), count)
        for name, count in custom_columns:
            row += _padded([shown(v, "date" if _is_date(name) else "text")
                            for v in _custom(issue).get(name, [])], count)
        rows.append(row)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _links(issue: Json) -> dict[str, list[str]]:
    """Link column -> the other issues' keys."""
    out: dict[str, list[str]] = {}
    for link in issue["fields"].get("issuelinks") or []:
        for side, label in (("inwardIssue", "Inward"), ("outwardIssue", "Outward")):
            if side in link:
                column = f"{label} issue link ({link['type']['name']})"
                out.setdefault(column, []).append(link[side]["key"])
    return out


def _custom(issue: Json) -> dict[str, list[Any]]:
    """Custom field name -> its values (a list field: one per value). SLA, Request Type and
    Approvals fields are left out: how a CSV export renders one is not known from a real file."""
    out: dict[str, list[Any]] = {}
    for field_id, value in issue["fields"].items():
        if field_id in CUSTOM_BY_ID and value not in (None, "", []) \
                and CUSTOM_BY_ID[field_id].kind not in NOT_IN_CSV:
            out[CUSTOM_BY_ID[field_id].name] = list(value) if isinstance(value, list) else [value]
    return out


def _is_date(name: str) -> bool:
    return any(f.name == name and f.kind == "datetime" for f in CUSTOM_BY_ID.values())


def _counts(issues: list[Json], columns: Any) -> list[tuple[str, int]]:
    """Each column and the most values an issue has in it, in name order."""
    most: dict[str, int] = {}
    for issue in issues:
        for name, values in columns(issue).items():
            most[name] = max(most.get(name, 0), len(values))
    return sorted(most.items())


def _padded(values: Sequence[Any], count: int) -> list[str]:
    return [_text(v) for v in values] + [""] * (count - len(values))


def _text(value: Any) -> str:
    """A cell as Jira writes it: options by value, groups and services by name, CIs by label,
    numbers as `4.0`."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        for key in ("value", "name", "label", "displayName", "key"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)

