"""The same sandbox data, exported in each shape people make, gives the same failures per rule
and record: Table API JSON with stored values, display values or both, the list view's JSON
export and its CSV export (stored or display values)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.servicenow.file import FileConnector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.rules.fields import linked_conditions, referrer_needs, rule_fields
from sms_conformance.sandbox.dataset import Dataset, generate
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.scan import scanner as scan_module
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW

DATE_FORMAT, TIME_ZONE = "dd/MM/yyyy HH:mm:ss", "Europe/Berlin"
VENDOR = "incident:\n  fields:\n    vendor_reference: {field: u_vendor_reference}\n"
Results = dict[tuple[str, str], str]  # (rule id, number) -> status


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(records=400, seed=9)


@pytest.fixture(scope="module")
def raw(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Results:
    directory = tmp_path_factory.mktemp("raw")
    export(dataset, directory)
    return scan_export(directory, tmp_path_factory.mktemp("raw-config"))


def config_dir(path: Path, with_dates: bool = True) -> ConfigDir:
    dates = f"date_format: {DATE_FORMAT}\ntime_zone: {TIME_ZONE}\n" if with_dates else ""
    (path / "fieldmap.yaml").write_text(dates + VENDOR)
    return ConfigDir(path)


def scan_export(directory: Path, config_path: Path, with_dates: bool = True,
                notices: list[str] | None = None) -> Results:
    config = config_dir(config_path, with_dates)
    fieldmap = config.fieldmap()
    connector = FileConnector(directory, fieldmap)
    history = History(config_path / "history.sqlite")
    outcome = Scanner(connector, config.rules(), history).run(
        ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date())),
        lambda p: fieldmap.for_process(p).table,
    )
    assert outcome.complete, outcome.error
    if notices is not None:
        notices.extend(outcome.notices)
    return {(f.rule_id, f.number): f.status for f in history.findings(outcome.scan_id)}


def failures(results: Results) -> set[tuple[str, str]]:
    return {key for key, status in results.items() if status == "fail"}


def link_rules() -> set[str]:
    """Rules that follow a reference or count referrers: they need record ids."""
    return {r.id for r in ConfigDir(None).rules()
            if linked_conditions(r.check) or referrer_needs(r.check)}


@pytest.fixture(autouse=True)
def every_unknown_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "UNKNOWN_EXAMPLES", 10**6)


def exported(dataset: Dataset, tmp_path: Path, **shape: Any) -> Path:
    directory = tmp_path / "export"
    export(dataset, directory, date_format=DATE_FORMAT, time_zone=TIME_ZONE, **shape)
    return directory


@pytest.mark.parametrize("shape", [
    {"display": "true"}, {"display": "all"}, {"fmt": "list-json"}, {"fmt": "csv"},
], ids=["display-true", "display-all", "list-json", "csv-stored"])
def test_each_shape_that_carries_ids_gives_the_same_failures(
    dataset: Dataset, raw: Results, tmp_path: Path, shape: dict[str, str]
) -> None:
    found = scan_export(exported(dataset, tmp_path, **shape), tmp_path)
    assert failures(raw), "the sandbox plants nonconformities"
    assert failures(found) == failures(raw)
    assert set(found.values()) == {"fail"}, "every value of every shape is read"


@pytest.mark.parametrize("shape", [
    {"fmt": "csv", "display": "true"}, {"display": "true", "reference_links": False},
], ids=["csv-display", "display-true-without-links"])
def test_references_given_by_name_make_links_unknown_never_failures(
    dataset: Dataset, raw: Results, tmp_path: Path, shape: dict[str, Any]
) -> None:
    directory = exported(dataset, tmp_path, **shape)
    notices: list[str] = []
    found = scan_export(directory, tmp_path, notices=notices)
    links = link_rules()
    lost = failures(raw) - failures(found)
    assert lost and {rule for rule, _ in lost} <= links, "only links need record ids"
    unknown = {k for k, status in found.items() if status == "unknown"}
    assert lost & unknown
    # What a name cannot show: a reference to a record that does not exist displays as empty,
    # so the same record fails the rule that wants the reference set instead.
    dangling = lost - unknown
    assert all(_shown_empty(directory, k) for k in dangling)
    gained = failures(found) - failures(raw)
    assert {number for _, number in gained} <= {number for _, number in dangling}
    assert any("gives references as display values" in n for n in notices)


def _shown_empty(directory: Path, key: tuple[str, str]) -> bool:
    rule, number = key
    table, column = {"incident.links.problem_exists": ("incident", "problem_id"),
                     "incident.links.caused_by_exists": ("incident", "caused_by"),
                     "problem.links.fix_change_exists": ("problem", "rfc"),
                     "incident.ci.exists": ("incident", "cmdb_ci"),
                     "change.ci.exists": ("change_request", "cmdb_ci")}[rule]
    csv_path = directory / f"{table}.csv"
    if csv_path.exists():
        with csv_path.open(newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["number"] == number)
        return row[column] == ""
    rows = orjson.loads((directory / f"{table}.json").read_bytes())["result"]
    return next(r for r in rows if r["number"] == number)[column] == ""


def test_display_dates_without_their_format_are_unknown_never_compared_as_text(
    dataset: Dataset, raw: Results, tmp_path: Path
) -> None:
    directory = exported(dataset, tmp_path, display="true")
    notices: list[str] = []
    found = scan_export(directory, tmp_path, with_dates=False, notices=notices)
    assert failures(found) < failures(raw)
    assert "unknown" in found.values()
    assert any("date_format" in n and "could not be read" in n for n in notices)


def test_a_column_not_in_the_csv_is_unknown_not_empty(
    dataset: Dataset, raw: Results, tmp_path: Path
) -> None:
    from sms_conformance.sandbox.schema import SCHEMAS

    columns = {t: [f for f in s.fields if f != "close_notes"] for t, s in SCHEMAS.items()}
    found = scan_export(exported(dataset, tmp_path, fmt="csv", columns=columns), tmp_path)
    readers = {r.id for r in ConfigDir(None).rules() if "resolution_notes" in rule_fields(r)}
    lost = failures(raw) - failures(found)
    assert lost and {rule for rule, _ in lost} <= readers
    assert all(found[k] == "unknown" for k in lost)
    assert failures(found) <= failures(raw)


def test_a_real_list_view_json_export_reads_as_is_like_its_rows_in_a_table_api_file(
    tmp_path: Path
) -> None:
    """tests/realdata: a list view "Export > JSON" nobody here wrote, read as exported."""
    real = Path(__file__).parent / "realdata" / "list_export_yilmazetl" / "incident.json"
    rows = orjson.loads(real.read_bytes())["records"]
    results = []
    for name, body in (("as-is", real.read_bytes()), ("wrapped", orjson.dumps({"result": rows}))):
        directory, config = tmp_path / name, tmp_path / f"{name}-config"
        directory.mkdir()
        config.mkdir()
        (directory / "incident.json").write_bytes(body)
        results.append(scan_export(directory, config))
    assert failures(results[0])
    assert results[0] == results[1]
