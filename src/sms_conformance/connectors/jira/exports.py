"""A directory of Jira exports, as people save them, read into issues of the REST shape (so the
live connector's readers read them).

Two shapes, one per directory:
- saved REST search pages: any `*.json` holding `{"issues": [...]}` (enhanced search
  `/rest/api/3/search/jql`, legacy `/rest/api/2/search`, bulkfetch; v3 ADF or v2 wiki text),
  with the site's `GET /rest/api/3/field` saved beside them as `field.json` (custom fields are
  found by name there; without it, the `names` of pages saved with `expand=names`);
- Jira's CSV export ("Export > CSV (all fields)"): any `*.csv` (csv_export).

An issue in several pages is read once, in its latest `updated` version. A malformed issue, a
CSV without its key column, or both shapes at once stop the scan with the file (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from sms_conformance.connectors.jira.csv_export import read_sheets
from sms_conformance.connectors.jira.export_model import JiraExport
from sms_conformance.connectors.jira.fieldmap import FieldCatalog
from sms_conformance.connectors.jira.values import parse_timestamp
from sms_conformance.model.errors import ConfigError

Json = dict[str, Any]
FIELD_FILE = "field.json"  # GET /rest/api/3/field of the site
MYSELF_FILE = "myself.json"  # GET /rest/api/3/myself of the exporting user: its timeZone
# Files beside the exports that are not search pages (planted.json: the sandbox's answer key).
SIDECARS = frozenset({FIELD_FILE, MYSELF_FILE, "planted.json"})
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def read_directory(directory: Path, custom: Mapping[str, str],
                   time_zone: str | None = None, date_format: str | None = None) -> JiraExport:
    """The issues of DIR. `custom`: the custom field names the field map reads and its type
    for each (a CSV without field.json names only its columns); `time_zone` and
    `date_format`: how the CSV export shows dates (the exporting user's zone, the site's
    format)."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory (expected Jira exports)")
    pages = sorted(p for p in directory.glob("*.json") if p.name not in SIDECARS)
    sheets = sorted(directory.glob("*.csv"))
    fields = _field_list(directory / FIELD_FILE)
    if pages and sheets:
        raise ConfigError(f"{directory}: both search pages (.json) and CSV exports are there; "
                          "keep one shape per directory")
    if sheets:
        zone = time_zone or _user_zone(directory / MYSELF_FILE)
        export = read_sheets(directory, sheets, fields, custom, zone, date_format)
        where = ("the field map's time_zone" if time_zone else MYSELF_FILE if zone else
                 "no zone given")
        export.dates += f" in {zone or 'UTC'} ({where})"
        return export
    if not pages:
        raise ConfigError(f"{directory}: no Jira search pages (*.json with an issues list) and "
                          "no CSV export")
    return _read_pages(directory, pages, fields)


def _read_pages(directory: Path, pages: list[Path], fields: list[Any] | None) -> JiraExport:
    notices: list[str] = []
    newest: dict[str, tuple[datetime, Json]] = {}
    names: dict[str, str] = {}
    used: list[Path] = []
    for path in pages:
        body = _load(path)
        issues = body.get("issues") if isinstance(body, dict) else None
        if not isinstance(issues, list):
            notices.append(f"{path.name}: not a search page (no issues list): ignored")
            continue
        used.append(path)
        if isinstance(body.get("names"), dict):
            names.update({k: v for k, v in body["names"].items() if isinstance(v, str)})
        for index, issue in enumerate(issues):
            issue_id = checked(path, index, issue)
            moment = _updated(issue)
            if issue_id not in newest or moment >= newest[issue_id][0]:
                newest[issue_id] = (moment, issue)
    if not used:
        raise ConfigError(f"{directory}: no search page (a JSON object with an issues list)")
    if fields is None:
        if not names:
            raise ConfigError(
                f"{directory}: no {FIELD_FILE}: save the site's GET /rest/api/3/field there "
                "(custom fields are found by name), or save the searches with expand=names")
        fields = [{"id": k, "name": v} for k, v in names.items()]
        notices.append(f"{directory}: no {FIELD_FILE}; custom fields found by the names the "
                       "pages carry (expand=names)")
    catalog = FieldCatalog.from_fields(f"file:{directory.resolve()}", fields)
    issues = [issue for _, issue in newest.values()]
    return JiraExport(directory, "rest", issues, catalog, tuple(used), notices)


def checked(path: Path, index: int, issue: object) -> str:
    """A well-formed issue's id; a malformed one stops the scan with its file and place."""
    where = f"{path}: issues[{index}]"
    if not isinstance(issue, dict):
        raise ConfigError(f"{where} is {type(issue).__name__}, not an issue")
    issue_id, key = issue.get("id"), issue.get("key")
    if not isinstance(issue_id, str) or not issue_id.isdigit():
        raise ConfigError(f"{where} has no issue id")
    if not isinstance(key, str) or "-" not in key:
        raise ConfigError(f"{where} ({issue_id}) has no issue key")
    if not isinstance(issue.get("fields"), dict):
        raise ConfigError(f"{where} ({key}) has no fields: save the search with fields=*all")
    return issue_id


def _updated(issue: Mapping[str, Any]) -> datetime:
    value = (issue.get("fields") or {}).get("updated")
    moment = parse_timestamp(value) if isinstance(value, str) else None
    return moment if isinstance(moment, datetime) else _EPOCH


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None


def _field_list(path: Path) -> list[Any] | None:
    if not path.is_file():
        return None
    body = _load(path)
    if not isinstance(body, list):
        raise ConfigError(f"{path}: expected the list GET /rest/api/3/field answers")
    return body


def _user_zone(path: Path) -> str | None:
    """The exporting user's time zone from a saved GET myself, when there."""
    if not path.is_file():
        return None
    body = _load(path)
    zone = body.get("timeZone") if isinstance(body, dict) else None
    return zone if isinstance(zone, str) else None
