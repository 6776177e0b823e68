"""Issue 25 on Jira's read path, against the JSM sandbox with a fault mode per case: answers that
report an error inside a 200, a `total` that lies, pages larger than asked, empty or repeated
pages with fresh tokens, a stale page token and a hostile 400. Each ends the scan as incomplete
(exit 3, the watermarks where they were), never as a short complete scan."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.jira import settings as jira_settings
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import Process
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.support.limits import Limits

PASSWORD = "jira-hostile-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}


@pytest.fixture(scope="module")
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=120, seed=5, password=PASSWORD) as box:
        yield box


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Search pages of 10 issues, so that a sandbox of a few hundred issues pages."""
    defaults = jira_settings.connector_from_env.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "page_size", 10)


def scan(box: JiraSandbox, history: Path, *extra: str, **env: str) -> Result:
    return CliRunner(env={**ENV, **env}).invoke(cli, [
        "scan", "--source", "jira", "--site", box.url, "--history", str(history),
        "--as-of", "2026-11-01", *extra])


def watermarks(history: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(history) as db:
        return sorted(db.execute("SELECT tbl, updated_since FROM watermarks").fetchall())


def faulted(box: JiraSandbox, history: Path, faults: str, *extra: str, **env: str) -> Result:
    """A healthy scan, then one through `faults`: that one must fail and change nothing."""
    box.faults = None
    healthy = scan(box, history)
    assert healthy.exit_code == 0, healthy.output
    before = watermarks(history)
    box.faults = faults
    try:
        result = scan(box, history, *extra, **env)
    finally:
        box.faults = None
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "scan incomplete" in result.output or result.output.startswith("error: ")
    assert watermarks(history) == before
    return result


def test_errors_in_a_200_search_answer_fail_the_scan(jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: record searches answer 200 {"errorMessages": [...], "issues": []}; outcome: a
    failed page: exit 3 naming Jira's message, watermark unchanged, never "No findings"."""
    result = faulted(jsm, tmp_path / "h.sqlite", "errors:1@search")
    assert "Something went wrong" in result.output


def test_errors_in_a_200_answer_fail_any_endpoint(jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: GET project answers 200 {"errorMessages": [...]}; outcome: a failed answer (exit 3),
    not a project without issue types (which would read as a field-map problem, exit 2)."""
    result = faulted(jsm, tmp_path / "h.sqlite", "errors:1@project")
    assert "Something went wrong" in result.output


@pytest.mark.parametrize("total", ["50", "1", "0", "-1"])
def test_a_legacy_total_that_contradicts_the_page(jsm: JiraSandbox, tmp_path: Path,
                                                  total: str) -> None:
    """fault: Data Center's legacy search reports a total of 50, 1, 0 or -1 over more issues;
    outcome: an incomplete scan (exit 3), never a short scan stored as complete."""
    result = faulted(jsm, tmp_path / "h.sqlite", f"total{total}:1@search",
                     JIRA_DEPLOYMENT="datacenter")
    assert "total" in result.output


@pytest.mark.usefixtures("small_pages")
def test_a_page_larger_than_asked(jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: search pages hold more issues than maxResults asked for; outcome: the scan stops
    at the first such page (exit 3): memory never holds more than a page asked for."""
    result = faulted(jsm, tmp_path / "h.sqlite", "flood:1@search")
    assert "more than the 10 asked for" in result.output


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("kind", ["stall", "repeat"])
def test_empty_or_repeated_pages_with_fresh_tokens(jsm: JiraSandbox, tmp_path: Path,
                                                   kind: str) -> None:
    """fault: after the first page, the search answers empty pages (or the same page again)
    with a fresh nextPageToken each time; outcome: the scan ends after a few pages (exit 3),
    not after source.max_pages requests."""
    history = tmp_path / "h.sqlite"
    jsm.faults = None
    assert scan(jsm, history).exit_code == 0
    jsm.faults = f"{kind}:1@search"
    before = jsm.stats.snapshot()["total"]
    try:
        result = scan(jsm, history)
    finally:
        jsm.faults = None
    assert result.exit_code == 3, result.output
    assert "brought no issue not read before" in result.output
    assert jsm.stats.snapshot()["total"] - before < 30


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("kind", ["stale-token", "bad400"])
def test_a_refused_page_is_not_a_field_map_problem(jsm: JiraSandbox, tmp_path: Path,
                                                   kind: str) -> None:
    """fault: a 400 on a page after the first ("page token invalid or expired"), or a 400 that
    names nothing of the query; outcome: exit 3 (the site failed), not exit 2 "check the field
    map" (the query is the configuration's only when Jira names a part of it)."""
    result = faulted(jsm, tmp_path / "h.sqlite", f"{kind}:1@search")
    assert "field map" not in result.output


@pytest.mark.usefixtures("small_pages")
def test_a_legacy_total_reached_on_a_full_page_is_confirmed(jsm: JiraSandbox,
                                                            tmp_path: Path) -> None:
    """fault: the legacy search reports a total of 50 over 120 incidents, in pages of 10 (the
    total falls on a page boundary); outcome: the page after the total brings more issues, so
    the scan is incomplete (exit 3), not 50 incidents stored as complete."""
    result = faulted(jsm, tmp_path / "h.sqlite", "total50:1@search",
                     JIRA_DEPLOYMENT="datacenter")
    assert "counted a total of 50" in result.output


def test_a_search_page_over_the_size_cap(jsm: JiraSandbox) -> None:
    """fault: a search page larger than source.max_response_mb (here 0.02 MiB: a site sending
    huge pages); outcome: a source error naming the cap, the body not read whole into memory."""
    jsm.faults = None
    connector = jira_settings.connector_from_env(
        jsm.url, load_jira_field_map(), {**ENV, "JIRA_DEPLOYMENT": "cloud"},
        Limits(max_response_mb=0.02))
    with pytest.raises(SourceError, match="response larger than"):
        list(connector.fetch(FetchRequest(Process.INCIDENT, (), frozenset({"state"}), None)))


def test_a_search_page_of_too_many_json_objects_is_not_decoded(
    jsm: JiraSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fault: the first issue of every record search carries a description of one paragraph
    of 60,000 text nodes (mode wide-adf, its size lowered; bench/adf_memory.py runs the 56 MB
    one), under source.max_response_objects of 50,000; outcome: the scan exits 3 naming the
    cap, the body never decoded (decoding takes about 16 times the size of such a body), the
    watermarks where they were; under the default cap (1,000,000) the same pages are read."""
    from sms_conformance.sandbox.jira import hostile

    monkeypatch.setattr(hostile, "WIDE", 60_000)
    history = tmp_path / "h.sqlite"
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("source:\n  max_response_objects: 50000\n")
    jsm.faults = None
    assert scan(jsm, history).exit_code == 0
    before = watermarks(history)
    jsm.hostile = "wide-adf"
    try:
        result = scan(jsm, history, "--config", str(config))
        default = scan(jsm, tmp_path / "other.sqlite", "--only", "incident.logging.description")
    finally:
        jsm.hostile = ""
    assert result.exit_code == 3, result.output
    assert "more than 50,000 JSON objects (source.max_response_objects)" in result.output
    assert watermarks(history) == before
    assert default.exit_code in (0, 1), default.output


@pytest.mark.usefixtures("small_pages")
def test_endless_pages_of_made_up_issues(jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: after the first page, each search page holds made-up issues numbered past every
    key of the project, with a fresh token, without end; outcome: exit 3 within a few pages
    (an issue outside its key range, or above the project's highest key), memory bounded."""
    history = tmp_path / "h.sqlite"
    jsm.faults = None
    assert scan(jsm, history).exit_code == 0
    jsm.faults = "fresh:1@search"
    before = jsm.stats.snapshot()["total"]
    try:
        result = scan(jsm, history)
    finally:
        jsm.faults = None
    assert result.exit_code == 3, result.output
    assert "outside the key range" in result.output
    assert jsm.stats.snapshot()["total"] - before < 40
