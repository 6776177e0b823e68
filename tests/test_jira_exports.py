"""Offline Jira exports (issue 19, point 4): the JSM sandbox's issues saved as REST search pages
(v3 enhanced search with ADF, v2 legacy search with wiki text, each with field.json) and as
Jira's CSV export give the live scan's results; what an export does not carry is unknown."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.connectors.jira.file import JiraFileConnector
from sms_conformance.model.records import NamedRef, Process, Ref, Unknown
from sms_conformance.sandbox.dataset import Dataset, generate
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.export import export_jira

AS_OF = "2026-11-01"
RECORDS, SEED = 300, 4
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": "jira-export-token"}
Failures = dict[str, set[str]]  # rule id -> failing issue keys


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, list(args))


def report(path: Path) -> tuple[dict[str, tuple[int, int]], Failures]:
    body = json.loads(path.read_text())
    counts = {r["rule_id"]: (r["evaluated"], r["failed"]) for r in body["summary"]["rules"]}
    failing: Failures = {}
    for finding in body["findings"]:
        if finding["status"] == "fail":
            failing.setdefault(finding["rule_id"], set()).add(finding["number"])
    return counts, failing


def scan_dir(directory: Path, out: Path, *extra: str) -> Result:
    return run("scan", "--source", f"file:{directory}", *extra, "--history",
               str(out.with_suffix(".sqlite")), "--as-of", AS_OF, "--full", "--format", "json",
               "--output", str(out))


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(RECORDS, SEED, defect_rate=0.2)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple[int, int]], Failures]:
    out = tmp_path_factory.mktemp("live") / "live.json"
    with JiraSandbox(records=RECORDS, seed=SEED, password=ENV["JIRA_API_TOKEN"]) as box:
        result = run("scan", "--source", "jira", "--site", box.url, "--history",
                     str(out.with_suffix(".sqlite")), "--as-of", AS_OF, "--full", "--format",
                     "json", "--output", str(out))
    assert result.exit_code in (0, 1), result.output
    return report(out)


@pytest.mark.parametrize("shape", ["v3 pages", "v2 pages", "csv"])
def test_search_pages_and_the_csv_export_give_the_live_scans_failures_per_rule(
        shape: str, dataset: Dataset, live: tuple[dict[str, tuple[int, int]], Failures],
        tmp_path: Path) -> None:
    """Acceptance: per rule, the evaluated and failed counts of the live scan of the same
    issues, and the same failing issues."""
    directory = tmp_path / "export"
    export_jira(dataset, directory, fmt="csv" if shape == "csv" else "json",
                api=2 if shape == "v2 pages" else 3)
    result = scan_dir(directory, tmp_path / "r.json", "--platform", "jira")
    assert result.exit_code in (0, 1), result.output
    counts, failing = report(tmp_path / "r.json")
    live_counts, live_failing = live
    if shape == "csv":  # the sandbox's CSV export leaves the SLA, Request Type and Approvals
        # fields out (how Jira writes them is not known from a real file): their rules fail nothing
        sla = {r for r in counts if ".sla." in r
               or r in ("request.logging.catalog_item", "request.approval.before_fulfilment")}
        assert len(sla) == 8 and all(counts[r] == (live_counts[r][0], 0) for r in sla)
        counts = {r: c for r, c in counts.items() if r not in sla}
        live_counts = {r: c for r, c in live_counts.items() if r not in sla}
        live_failing = {r: f for r, f in live_failing.items() if r not in sla}
    # A Jira export holds no Assets objects: the CI rules (8.2.6) are unknown, failing nothing
    cis = {f"{p}.ci.{r}" for p in ("incident", "change")
           for r in ("exists", "not_retired", "support_group")}
    assert all(counts[r][1] == 0 for r in cis), cis
    assert all(live_counts[r][1] > 0 for r in cis)  # the live scan reads Assets and finds them
    counts = {r: c for r, c in counts.items() if r not in cis}
    live_counts = {r: c for r, c in live_counts.items() if r not in cis}
    live_failing = {r: f for r, f in live_failing.items() if r not in cis}
    assert counts == live_counts
    assert failing == live_failing
    assert sum(failed for _, failed in counts.values()) > 50  # the planted defects were seen


def test_the_platform_is_told_from_the_files_when_not_given(dataset: Dataset,
                                                            tmp_path: Path) -> None:
    export_jira(dataset, tmp_path / "csv", fmt="csv")
    result = scan_dir(tmp_path / "csv", tmp_path / "r.json")
    assert result.exit_code in (0, 1), result.output
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["rules"]


def test_a_servicenow_source_is_not_read_as_jira(tmp_path: Path) -> None:
    """bad input: --platform jira with a ServiceNow-only source; outcome: exit 2 naming both."""
    result = run("scan", "--source", "sandbox", "--platform", "jira")
    assert result.exit_code == 2
    assert "--source sandbox reads ServiceNow, not --platform jira" in result.output


@pytest.fixture
def csv_export(dataset: Dataset, tmp_path: Path) -> Iterator[Path]:
    export_jira(dataset, tmp_path / "csv", fmt="csv")
    yield tmp_path / "csv"


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        found = list(csv.reader(handle))
    return found[0], found[1:]


def write_rows(path: Path, header: list[str], body: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *body])


def drop_column(path: Path, name: str) -> None:
    header, body = rows(path)
    keep = [i for i, h in enumerate(header) if h != name]
    write_rows(path, [header[i] for i in keep], [[row[i] for i in keep] for row in body])


def test_doctor_on_a_csv_export_says_what_it_can_and_cannot_check(csv_export: Path) -> None:
    """A column left out of the export: doctor names the field and the rules it blinds."""
    drop_column(csv_export / "issues.csv", "Custom field (Root cause)")
    result = run("doctor", "--source", f"file:{csv_export}", "--platform", "jira")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert any(line.startswith("ok") and "Jira's CSV export" in line and
               "the export's own field names" in line for line in out), result.output
    assert any(line.startswith("ok") and "read as dd/MMM/yy h:mm a in UTC (myself.json)" in line
               for line in out), result.output
    lines = [line for line in out if "problem.root_cause" in line]
    assert lines and lines[0].startswith("WARN"), result.output
    assert "Custom field (Root cause) was not returned" in lines[0]
    assert "results unknown for problem." in lines[0]
    named = [line for line in out if line.startswith("WARN  incident: the export gives")]
    assert named and "assignment_group" in named[0] and "by name, not id" in named[0]
    assert any("an export cannot show: the credentials" in line for line in out)


def test_doctor_on_search_pages_names_a_field_the_search_left_out(dataset: Dataset,
                                                                  tmp_path: Path) -> None:
    export_jira(dataset, tmp_path, fmt="json", hidden_fields=["Root cause"])
    result = run("doctor", "--source", f"file:{tmp_path}", "--platform", "jira")
    assert result.exit_code == 0, result.output
    assert "saved REST search pages" in result.output and "through field.json" in result.output
    assert any(line.startswith("WARN") and "problem.root_cause" in line
               for line in result.output.splitlines()), result.output


def connector(directory: Path) -> JiraFileConnector:
    return JiraFileConnector(directory, load_jira_field_map())


def test_csv_references_by_name_read_as_names_and_ids_as_ids(csv_export: Path) -> None:
    conn = connector(csv_export)
    records = list(conn.fetch(FetchRequest(Process.INCIDENT, (), frozenset(
        {"assignment_group", "reporter", "service"}))))
    groups = [r.fields["assignment_group"] for r in records if r.fields["assignment_group"]]
    assert groups and all(isinstance(g, NamedRef) for g in groups)  # a group picker shows names
    reporters = {r.fields["reporter"] for r in records} - {None}
    assert reporters and all(type(r) is Ref and r.kind == "user" for r in reporters)  # Reporter Id


def test_csv_links_to_issues_outside_the_export_keep_their_key(csv_export: Path) -> None:
    conn = connector(csv_export)
    refs = [r.fields["problem"] for r in conn.fetch(FetchRequest(
        Process.INCIDENT, (), frozenset({"problem"})))]
    outside = [r for r in refs if isinstance(r, Ref) and r.id.startswith("ARCH-")]
    inside = [r for r in refs if isinstance(r, Ref) and r.id.isdigit()]
    assert outside and inside
    found = conn.resolve([*outside, *inside])
    assert set(found) == set(inside)  # an issue not in the export is not there


def test_csv_dates_without_a_zone_are_read_in_the_exporting_users_zone(csv_export: Path,
                                                                        dataset: Dataset,
                                                                        tmp_path: Path) -> None:
    export_jira(dataset, tmp_path / "berlin", fmt="csv", time_zone="Europe/Berlin")
    utc = {r.number: r.fields["opened_at"] for r in connector(csv_export).fetch(
        FetchRequest(Process.INCIDENT, (), frozenset({"opened_at"})))}
    berlin = {r.number: r.fields["opened_at"] for r in connector(tmp_path / "berlin").fetch(
        FetchRequest(Process.INCIDENT, (), frozenset({"opened_at"})))}
    assert berlin == utc  # myself.json names Europe/Berlin: the same instants
    (tmp_path / "berlin" / "myself.json").unlink()
    conn = connector(tmp_path / "berlin")
    shifted = {r.number: r.fields["opened_at"] for r in conn.fetch(
        FetchRequest(Process.INCIDENT, (), frozenset({"opened_at"})))}
    assert shifted != utc
    assert any("carry no time zone: read as UTC" in n for n in conn.notices)


def test_a_csv_date_in_another_format_is_unknown_never_compared_as_text(csv_export: Path
                                                                        ) -> None:
    """bad input: Created written as 2026-03-04 in an export whose format is dd/MMM/yy h:mm a
    but as 03/04/2026 10:00 in one row; outcome: that date is unknown."""
    header, body = rows(csv_export / "issues.csv")
    body[0][header.index("Created")] = "03/04/2026 10:00"
    write_rows(csv_export / "issues.csv", header, body)
    records = {r.number: r for r in connector(csv_export).fetch(
        FetchRequest(Process.INCIDENT, (), frozenset({"opened_at"})))}
    value = records[body[0][header.index("Issue key")]].fields["opened_at"]
    assert isinstance(value, Unknown) and "03/04/2026 10:00" in value.reason


def test_links_into_a_process_the_export_holds_nothing_of_are_unknown(dataset: Dataset,
                                                                      tmp_path: Path) -> None:
    export_jira(dataset, tmp_path, fmt="json")
    for page in tmp_path.glob("search-*.json"):
        body = orjson.loads(page.read_bytes())
        body["issues"] = [i for i in body["issues"]
                          if i["fields"]["issuetype"]["name"] != "[System] Problem"]
        page.write_bytes(orjson.dumps(body))
    conn = connector(tmp_path)
    with pytest.raises(NotRead, match="no problem issues"):
        conn.resolve([Ref("problem", "10002")])
    assert list(conn.fetch(FetchRequest(Process.PROBLEM, (), frozenset()))) == []
    assert any("no problem issues" in n for n in conn.notices)


def test_an_issue_in_two_pages_is_read_once_in_its_latest_version(dataset: Dataset,
                                                                  tmp_path: Path) -> None:
    export_jira(dataset, tmp_path, fmt="json")
    first = orjson.loads((tmp_path / "search-0001.json").read_bytes())
    issue = first["issues"][0]
    newer = {**issue, "fields": {**issue["fields"], "summary": "edited later",
                                 "updated": "2030-01-01T00:00:00.000+0000"}}
    (tmp_path / "later search.json").write_bytes(orjson.dumps({"issues": [newer]}))
    records = [r for r in connector(tmp_path).fetch(FetchRequest(
        Process.INCIDENT, (), frozenset({"short_description"}))) if r.id == issue["id"]]
    assert [r.fields["short_description"] for r in records] == ["edited later"]


@pytest.mark.parametrize(("damage", "message"), [
    ("both shapes", "both search pages (.json) and CSV exports are there"),
    ("no field list", "no field.json"),
    ("issue without key", "has no issue key"),
    ("csv without key column", "no 'Issue key' column"),
    ("csv key twice", "repeats issue"),
])
def test_an_export_that_cannot_be_read_stops_with_its_file(damage: str, message: str,
                                                           dataset: Dataset,
                                                           tmp_path: Path) -> None:
    """bad input: an export directory damaged as named; outcome: exit 2 naming the file and
    what is wrong, no report."""
    shape = "csv" if damage.startswith("csv") else "json"
    export_jira(dataset, tmp_path, fmt=shape)
    if damage == "both shapes":
        (tmp_path / "issues.csv").write_text("Summary,Issue key\nx,ITSM-1\n")
    elif damage == "no field list":
        (tmp_path / "field.json").unlink()
    elif damage == "issue without key":
        body = orjson.loads((tmp_path / "search-0001.json").read_bytes())
        del body["issues"][3]["key"]
        (tmp_path / "search-0001.json").write_bytes(orjson.dumps(body))
    elif damage == "csv without key column":
        drop_column(tmp_path / "issues.csv", "Issue key")
    else:
        header, body = rows(tmp_path / "issues.csv")
        write_rows(tmp_path / "issues.csv", header, [*body, body[0]])
    result = scan_dir(tmp_path, tmp_path / "r.json", "--platform", "jira")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "r.json").exists()


def test_issues_saved_without_their_type_are_named_not_dropped_silently(dataset: Dataset,
                                                                      tmp_path: Path) -> None:
    """bad input: search pages saved with fields=summary,status (no issuetype); outcome: a
    notice saying how many issues carry no type and to save with fields=*all."""
    export_jira(dataset, tmp_path, fmt="json")
    for page in tmp_path.glob("search-*.json"):
        body = orjson.loads(page.read_bytes())
        for issue in body["issues"]:
            del issue["fields"]["issuetype"]
        page.write_bytes(orjson.dumps(body))
    conn = connector(tmp_path)
    assert any(f"{len(conn.export.issues)} issues carry no issuetype" in n and "fields=*all" in n
               for n in conn.notices)
    assert list(conn.fetch(FetchRequest(Process.INCIDENT, (), frozenset()))) == []
