"""Issue 25 against the JSM sandbox, one hostile mode (sandbox.jira.hostile) per case: rich text
that crashes, escapes on the terminal, searches that answer nothing, writes that fail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.store import Issue, flatten
from sms_conformance.store.history import History

AS_OF = "2026-11-01"
PASSWORD = "jira-hostile-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}


@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=300, seed=4, password=PASSWORD) as box:
        yield box


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, list(args))


def scan(box: JiraSandbox, history: Path, *extra: str) -> Result:
    return run("scan", "--source", "jira", "--site", box.url, "--history", str(history),
               "--as-of", AS_OF, "--full", *extra)


def write_back(box: JiraSandbox, history: Path, *extra: str) -> Result:
    return scan(box, history, "--write-back", "--max-new-tasks", "5000", *extra)


def tasks(box: JiraSandbox) -> list[Issue]:
    return [i for i in box.store.issues.values() if i.is_task]


def open_tasks(box: JiraSandbox) -> list[Issue]:
    return [t for t in tasks(box) if t.status != "Done"]


def text(task: Issue) -> str:
    return flatten(task.description) or ""


def record_of(task: Issue) -> Issue | None:
    linked = [other for _, kind, _, other in task.links if kind == "Relates"]
    found = linked[0] if linked else task.parent
    return found if isinstance(found, Issue) else None


def change_record(box: JiraSandbox, issue: Issue, **values: Any) -> None:
    """Edit an issue's data in the sandbox's store, as a person fixing it in Jira would."""
    assert issue.record is not None
    with box.store.lock:
        issue.record = replace(issue.record, values={**issue.record.values, **values})
        issue.updated = datetime.now(timezone.utc)
        box.store.touch()


def latest_findings(history: Path) -> list[tuple[str, str, str, str]]:
    store = History(history)
    scan_id = store.scan_ids()[-1]
    return [(f.number, f.rule_id, f.status, f.detail) for f in store.findings(scan_id)]


# -- rich text -----------------------------------------------------------------------------

def test_rich_text_500_deep_is_an_error_result_for_that_record(jsm: JiraSandbox,
                                                              tmp_path: Path) -> None:
    """fault: the first issue of every record search carries ADF nested 500 deep (mode
    deep-adf); outcome: no traceback, exit 0 or 1, an `error` result naming the depth for the
    rules reading that field of that record; every other record evaluated as before."""
    clean = scan(jsm, tmp_path / "clean.sqlite", "--format", "json")
    assert clean.exit_code == 0, clean.output
    jsm.hostile = "deep-adf"
    jsm.stats.reset()
    history = tmp_path / "h.sqlite"
    result = scan(jsm, history, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    errors = [f for f in latest_findings(history) if f[2] == "error"]
    assert errors and all("nested deeper than 100 levels" in f[3] for f in errors)
    assert not [f for f in latest_findings(tmp_path / "clean.sqlite") if f[2] == "error"]
    # only the first issue of a search page is made deep: far from every record
    assert len({f[0] for f in errors}) <= jsm.stats.count("POST", "search")


def test_json_deeper_than_the_parser_allows_is_not_retried(jsm: JiraSandbox,
                                                          tmp_path: Path) -> None:
    """fault: a record search page nests rich text 1,100 levels deep, 2,200 of JSON (mode
    too-deep-json), deeper than the parser allows; outcome: exit 3 at once naming the depth,
    never called "truncated" and retried for the whole retry budget."""
    jsm.hostile = "too-deep-json"
    result = scan(jsm, tmp_path / "h.sqlite")
    assert result.exit_code == 3, result.output
    assert "nested deeper than 1024 levels" in result.output
    assert "truncated" not in result.output
    assert jsm.stats.count("POST", "search") <= 3  # one page per process, none asked again


# -- searches that answer nothing ----------------------------------------------------------

@pytest.mark.parametrize("mode", ["empty-task-search", "empty-task-search-errors"])
def test_an_empty_task_search_after_a_healthy_run_creates_nothing(
    mode: str, jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: after a healthy write-back, the search for this tool's tasks answers 200
    {"issues": []} (`mode`: with or without errorMessages); outcome: 0 tasks created, exit 3
    with the reason, the tasks of the first run still open and single."""
    history = tmp_path / "h.sqlite"
    first = write_back(jsm, history)
    assert first.exit_code == 0, first.output
    made = len(tasks(jsm))
    assert made > 5
    jsm.hostile = mode
    second = write_back(jsm, history)
    assert second.exit_code == 3, second.output
    assert len(tasks(jsm)) == made  # nothing created
    if mode == "empty-task-search-errors":  # a failed answer on any endpoint, before counting
        assert "with an error in the body: The search index is being rebuilt" in second.output
    else:
        assert "search did not answer fully" in second.output
        assert f"holds {made} open" in second.output
    jsm.hostile = ""
    third = write_back(jsm, history)  # the search works again: nothing to add
    assert third.exit_code == 0, third.output
    assert len(tasks(jsm)) == made


def test_tasks_gone_from_the_search_because_closed_are_marked_closed(
    jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: tasks the history store holds open were closed by hand (the search rightly leaves
    them out); outcome: read again by id, found closed, marked closed in the store, write-back
    goes on (a notice says how many)."""
    history = tmp_path / "h.sqlite"
    assert write_back(jsm, history).exit_code == 0
    closed = open_tasks(jsm)[:2]
    with jsm.store.lock:
        for task in closed:
            task.status = "Done"
        jsm.store.touch()
    again = write_back(jsm, history)
    assert again.exit_code == 0, again.output
    assert "2 task(s) the history store held open were closed or deleted" in again.output
    stored = {t["number"] for t in History(history).tasks("closed")}
    assert {t.key for t in closed} <= stored


@pytest.mark.parametrize("edit", ["removed", "changed"])
def test_a_task_whose_label_a_person_edited_is_left_alone_not_duplicated(
    edit: str, jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: a person removed this tool's labels from an open task (or changed its fingerprint
    label to another value; `edit`) while its record still fails; outcome: the task, read
    again by key, is reported as left alone (the tool writes only to issues carrying its
    labels, and a person may have taken it over), it stays open in the history store, no
    second task is created for its finding (exit 0); labels put back, the tool manages it."""
    history = tmp_path / "h.sqlite"
    assert write_back(jsm, history).exit_code == 0
    made = len(tasks(jsm))
    target = open_tasks(jsm)[0]
    labels = list(target.labels)
    with jsm.store.lock:
        target.labels = ([] if edit == "removed" else
                         [x if not x.startswith("smsc-fp-") else "smsc-fp-" + "0" * 40
                          for x in labels])
        jsm.store.touch()
    again = write_back(jsm, history)
    assert again.exit_code == 0, again.output
    assert len(tasks(jsm)) == made  # no duplicate
    assert f"task {target.key} no longer carries this tool's marker" in again.output
    assert "left alone" in again.output
    assert target.key in {t["number"] for t in History(history).tasks("open")}
    assert target.status != "Done"
    with jsm.store.lock:
        target.labels = labels
        jsm.store.touch()
    restored = write_back(jsm, history)
    assert restored.exit_code == 0, restored.output
    assert "no longer carries" not in restored.output
    assert len(tasks(jsm)) == made


# -- write-back that survives one bad task -------------------------------------------------

def _fix_two(box: JiraSandbox) -> list[Issue]:
    """Fix the records of two tasks that fail only incident.logging.category or only a CI
    rule (moved to a CI in service): both will close."""
    healthy = next(ci.id for ci in box.view.cmdb.values()
                   if ci.status == "installed" and ci.support_group)
    fixes: dict[str, dict[str, Any]] = {
        "incident.logging.category": {"category": "network"},
        **{f"incident.ci.{rule}": {"configuration_item": healthy}
           for rule in ("not_retired", "support_group")}}
    targets = [(t, fix) for t in open_tasks(box) for rule, fix in fixes.items()
               if text(t).startswith(f"Rules: {rule}\n")][:2]
    assert len(targets) == 2
    for target, fix in targets:
        record = record_of(target)
        assert record is not None
        change_record(box, record, **fix)
    return [target for target, _ in targets]


@pytest.mark.parametrize(("mode", "posts"), [("transition-500", 2), ("transition-400", 1)])
def test_a_failing_transition_marks_its_task_and_write_back_goes_on(
    mode: str, posts: int, jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: every transition answers 500 (or is refused, 400) while two tasks are to close
    (mode `mode`); outcome: each is tried at most twice (500) or once (400), never for the
    whole retry budget; no comment is posted for a close that did not go through; both are
    reported and the run exits 3; once transitions work, each closes with one comment."""
    history = tmp_path / "h.sqlite"
    assert write_back(jsm, history).exit_code == 0
    targets = _fix_two(jsm)
    jsm.hostile = mode
    jsm.stats.reset()
    failed = write_back(jsm, history)
    assert failed.exit_code == 3, failed.output
    assert "2 task write(s) did not go through" in failed.output
    assert all(t.key in failed.output for t in targets)
    for target in targets:
        tried = [e for e in jsm.stats.log
                 if e[1] == "POST" and e[2].endswith(f"/issue/{target.id}/transitions")]
        assert len(tried) == posts
    assert all(t.comments == [] and t.status != "Done" for t in targets)
    jsm.hostile = ""
    healed = write_back(jsm, history)
    assert healed.exit_code == 0, healed.output
    assert all(t.status == "Done" and len(t.comments) == 1 for t in targets)


def test_a_retyped_task_is_reported_not_a_configuration_error(
    jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: a person changed the issue type of a task that is to close, and relabelled
    another one; outcome: both reported as left alone (a warning), the run goes on and exits
    0, never 2 ("configuration error"); nothing written to either."""
    from sms_conformance.sandbox.jira.site import ISSUE_TYPES

    history = tmp_path / "h.sqlite"
    assert write_back(jsm, history).exit_code == 0
    retyped, _ = _fix_two(jsm)
    incident = next(t for t in ISSUE_TYPES if t.process == "incident")
    with jsm.store.lock:
        retyped.type = incident
        jsm.store.touch()
    result = write_back(jsm, history)
    assert result.exit_code == 0, result.output
    assert f"warning: {retyped.key} is now a" in result.output
    assert retyped.status != "Done" and retyped.comments == []


# -- terminal escapes ----------------------------------------------------------------------

def test_record_text_in_the_console_table_is_printed_without_escapes(
    jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: short summaries carry an escape sequence that sets the window title (mode
    escapes); outcome: the console table and the stored findings show the text without it."""
    jsm.hostile = "escapes"
    history = tmp_path / "h.sqlite"
    result = scan(jsm, history, "--only", "incident.logging.description")
    assert result.exit_code == 0, result.output
    assert "has no meaningful short description (" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    messages = [f.message for f in History(history).findings(History(history).scan_ids()[-1])]
    assert messages and not [m for m in messages if "\x1b" in m or "\x07" in m]


@pytest.mark.parametrize("command", ["scan", "doctor"])
def test_jira_error_messages_are_printed_without_escapes(
    command: str, jsm: JiraSandbox, tmp_path: Path,
) -> None:
    """fault: Jira's error answers carry escape sequences (window title, clear screen, a
    hidden hyperlink; mode escapes) and the token is wrong; outcome: `scan` and `doctor` print
    the message without them."""
    jsm.hostile = "escapes"
    args = ["--source", "jira", "--site", jsm.url]
    if command == "scan":
        args += ["--history", str(tmp_path / "h.sqlite")]
    result = CliRunner(env={**ENV, "JIRA_API_TOKEN": "wrong"}).invoke(cli, [command, *args])
    assert result.exit_code == 3, result.output
    assert "Client must be authenticated" in result.output or "here" in result.output
    assert not [c for c in "\x1b\x07\x9c" if c in result.output], repr(result.output)
