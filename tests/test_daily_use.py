"""Living with the tool: the demo keeps its history, scans can be listed and compared, cron
logs every run, a refused login is one error line and no trend point."""

from __future__ import annotations

import io
import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR, day_anchor, generate
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.store.history import History
from tests.conftest import finding_rows_of, rule_lines_of
from tests.test_jira_e2e import ENV, PASSWORD


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# the demo ------------------------------------------------------------------------------------

def test_two_demos_leave_a_history_whose_trend_has_two_points(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each demo's sandbox on a free port of its own: the seed, not the port, is the instance."""
    monkeypatch.chdir(tmp_path)
    urls = []
    for _ in range(2):
        result = invoke("demo", "--records", "100")
        assert result.exit_code == 0, result.output
        urls.append(result.stderr.split(", at ", 1)[1].split()[0])
    store = tmp_path / ".demo" / "history.sqlite"
    assert store.is_file()
    # Its last lines say where the history is and what to run next; that command works.
    tail = result.stdout.strip().splitlines()[-5:]
    assert any(".demo/history.sqlite holds 2 scans" in line for line in tail)
    [evidence] = [line.split(maxsplit=1)[1] for line in tail if " report evidence " in line]
    assert invoke(*evidence.split()).exit_code == 0
    assert (tmp_path / ".demo" / "evidence" / "index.html").is_file()
    trend = json.loads(invoke("report", "trend", "--history", str(store), "--format",
                              "json").stdout)
    assert trend["instance"] == urls[-1]  # the URL its latest scan went through
    assert all(len(s["points"]) == 2 for s in trend["series"]) and trend["series"]
    scans = json.loads(invoke("history", "scans", "--history", str(store), "--format",
                              "json").stdout)["scans"]
    assert [s["instance"] for s in scans] == urls
    assert len({s["instance_id"] for s in scans}) == 1
    # Tasks of the first demo's sandbox (gone) are not listed as open beside the second's.
    history = History(store)
    open_tasks = history.tasks("open")
    assert open_tasks and len({t["task_id"] for t in open_tasks}) == len(open_tasks)
    history.close()


def test_a_demo_of_another_size_is_another_instance_not_a_shrunken_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bad input: `demo --records 60` after a demo of 150 records (same seed, same store);
    outcome: another instance (its own identity and trend), its scan complete, exit 0, not
    an incomplete scan (exit 3) by the record-share guard."""
    monkeypatch.chdir(tmp_path)
    for records in ("150", "60"):
        result = invoke("demo", "--records", records)
        assert result.exit_code == 0, result.output
    assert "incomplete" not in result.output
    scans = json.loads(invoke("history", "scans", "--history", ".demo/history.sqlite",
                              "--format", "json").stdout)["scans"]
    assert len({s["instance_id"] for s in scans}) == 2
    assert all(s["complete"] for s in scans)


def test_a_sandbox_scanned_today_ages_only_the_incidents_it_plants_as_aged(tmp_path: Path) -> None:
    """No --as-of: the sandbox's records are dated back from today, so incident.backlog.aging
    fails on the incidents planted as aged (opened 31 to 180 days ago), not on every one."""
    out = tmp_path / "r.json"
    result = invoke("scan", "--source", "sandbox", "--records", "300", "--history",
                    str(tmp_path / "h.sqlite"), "--format", "json", "--output", str(out),
                    "--only", "incident.backlog.aging")
    assert result.exit_code == 0, result.output
    [aging] = json.loads(out.read_text())["summary"]["rules"]
    planted = generate(300, 7, anchor=day_anchor()).planted
    aged = sum("incident.backlog.aging" in rules for rules in planted.values())
    assert 0 < aging["failed"] <= aged < aging["evaluated"] / 4


def test_a_jira_sandbox_scanned_today_ages_only_the_incidents_it_plants_as_aged(
        tmp_path: Path) -> None:
    """As the ServiceNow sandbox's: dated back from today (as `sandbox serve --platform jira`
    starts it), a scan without --as-of fails incident.backlog.aging on the planted aged ones."""
    out = tmp_path / "r.json"
    with JiraSandbox(records=300, seed=7, password=PASSWORD, anchor=day_anchor()) as box:
        result = CliRunner(env=ENV).invoke(cli, [
            "scan", "--source", "jira", "--site", box.url, "--history",
            str(tmp_path / "h.sqlite"), "--format", "json", "--output", str(out),
            "--only", "incident.backlog.aging"])
        aged = sum("incident.backlog.aging" in rules for rules in box.planted.values())
    assert result.exit_code == 0, result.output
    [aging] = json.loads(out.read_text())["summary"]["rules"]
    assert 0 < aging["failed"] <= aged < aging["evaluated"] / 4


def test_a_jira_sandbox_is_dated_by_its_seed_and_day() -> None:
    """The same seed and day give the same issues; another day shifts every date by as much;
    without one (tests, benchmarks) the day is pinned, 2026-11-01."""
    def dates(box: JiraSandbox) -> list[tuple[str, datetime, datetime]]:
        return sorted((i.key, i.created, i.updated) for i in box.store.issues.values())

    day = datetime(2026, 12, 7, tzinfo=timezone.utc)
    one, same, later = (JiraSandbox(records=60, seed=3, anchor=a) for a in (day, day,
                                                                           day + timedelta(3)))
    assert dates(one) == dates(same)
    assert [(k, c + timedelta(3), u + timedelta(3)) for k, c, u in dates(one)] == dates(later)
    assert max(u for _, _, u in dates(one)) <= day
    assert JiraSandbox(records=60, seed=3).dataset.anchor == DEFAULT_ANCHOR == datetime(
        2026, 11, 1, tzinfo=timezone.utc)


def test_sandbox_serve_dates_a_jira_site_from_today_or_as_of(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`sandbox serve --platform jira` passes the day it starts, or --as-of's, as the
    ServiceNow sandbox's serve does."""
    import sms_conformance.cli.sandbox as sandbox_command

    anchors: list[datetime] = []
    monkeypatch.setattr(sandbox_command, "serve_jira_forever",
                        lambda **kw: anchors.append(kw["anchor"]))
    for extra in ([], ["--as-of", "2026-11-01"]):
        result = invoke("sandbox", "serve", "--platform", "jira", "--port", "0", *extra)
        assert result.exit_code == 0, result.output
    assert anchors == [day_anchor(), datetime(2026, 11, 1, tzinfo=timezone.utc)]
    assert "records dated up to 2026-11-01" in result.stderr


def test_as_of_pins_the_sandbox_dates(tmp_path: Path) -> None:
    """The same seed and --as-of give the same records, whatever the day the test runs."""
    counts = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        result = invoke("scan", "--source", "sandbox", "--records", "100", "--as-of",
                        "2026-11-01", "--history", str(tmp_path / f"{name}.sqlite"),
                        "--format", "json", "--output", str(out))
        assert result.exit_code == 0, result.output
        counts.append(json.loads(out.read_text())["summary"]["rules"])
    assert counts[0] == counts[1]
    assert day_anchor(datetime(2026, 11, 1, 15, tzinfo=timezone.utc)) == datetime(
        2026, 11, 1, tzinfo=timezone.utc)


# cron and failed starts ----------------------------------------------------------------------

def events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_quiet_json_log_of_findings_has_both_events_and_no_text(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    export(generate(records=100, seed=3), exports)
    result = invoke("--log-format", "json", "scan", "--source", f"file:{exports}", "--as-of",
                    "2026-11-01", "--history", str(tmp_path / "h.sqlite"), "--quiet",
                    "--fail-on", "low")
    assert result.exit_code == 1 and result.stdout == ""
    names = [e["event"] for e in events(result.stderr)]
    assert names == ["scan.started", "scan.finished"]
    finished = events(result.stderr)[-1]["fields"]
    assert finished["exit_code"] == 1 and finished["findings"] and finished["complete"]


def test_quiet_json_log_of_an_unreachable_instance_says_failed_start(tmp_path: Path) -> None:
    """fault: nothing listens at the instance's address, under cron (--quiet --log-format json);
    outcome: scan.started and scan.finished with exit code 3 and failed_start true, as for a
    refused login; the run is listed as a failed start"""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    store = str(tmp_path / "h.sqlite")
    result = CliRunner(env={"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": "x"}).invoke(
        cli, ["--log-format", "json", "scan", "--source", "servicenow", "--instance", url,
              "--history", store, "--quiet"])
    assert result.exit_code == 3 and result.stdout == ""
    logged = {e["event"]: e["fields"] for e in events(result.stderr)}
    assert {"scan.started", "scan.finished"} <= set(logged)
    finished = logged["scan.finished"]
    assert finished["exit_code"] == 3 and finished["failed_start"] is True
    listed = json.loads(invoke("history", "scans", "--history", store, "--format",
                               "json").stdout)["scans"]
    assert [s["state"] for s in listed] == ["failed start"]


def test_bad_password_is_one_error_line_exit_3_and_no_trend_point(
        sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fault: the instance refuses the password; outcome: the error is the first and only line
    on stderr, no report, exit 3, stored as a failed start that no trend shows"""
    store = str(tmp_path / "h.sqlite")
    monkeypatch.setenv("SERVICENOW_PASSWORD", "wrong")
    result = invoke("scan", "--source", "servicenow", "--instance", sandbox.url, "--history",
                    store)
    assert result.exit_code == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no record read:") and "401" in line
    listed = json.loads(invoke("history", "scans", "--history", store, "--format",
                               "json").stdout)["scans"]
    assert [s["state"] for s in listed] == ["failed start"]
    trend = invoke("report", "trend", "--history", store)
    assert trend.exit_code == 0 and trend.stdout.startswith("No scans")


def test_quiet_json_log_of_a_refused_login_has_both_events(
        sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fault: the instance refuses the password under cron (--quiet --log-format json);
    outcome: scan.started, the error, scan.finished with exit code 3, each a JSON line"""
    monkeypatch.setenv("SERVICENOW_PASSWORD", "wrong")
    result = invoke("--log-format", "json", "scan", "--source", "servicenow", "--instance",
                    sandbox.url, "--history", str(tmp_path / "h.sqlite"), "--quiet")
    assert result.exit_code == 3 and result.stdout == ""
    logged = events(result.stderr)
    assert [e["event"] for e in logged] == ["scan.started", "error", "scan.finished"]
    finished = logged[-1]["fields"]
    assert finished["exit_code"] == 3 and finished["complete"] is False
    assert finished["failed_start"] is True and "401" in finished["error"]


def test_a_config_error_still_logs_scan_finished(tmp_path: Path) -> None:
    """bad input: --plan without --write-back under a JSON log; outcome: exit 2, and
    scan.finished says so"""
    result = invoke("--log-format", "json", "scan", "--plan", str(tmp_path / "p.json"),
                    "--quiet")
    assert result.exit_code == 2
    finished = [e for e in events(result.stderr) if e["event"] == "scan.finished"]
    assert finished and finished[0]["fields"]["exit_code"] == 2


# history scans, latest per instance ----------------------------------------------------------

@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A history store with scans of two sources: A (scans 1, 3) and B (scan 2)."""
    root = tmp_path_factory.mktemp("two")
    a, b = root / "a", root / "b"
    export(generate(records=60, seed=1), a)
    export(generate(records=60, seed=2), b)
    store = root / "h.sqlite"
    for where in (a, b, a):
        result = invoke("scan", "--source", f"file:{where}", "--as-of", "2026-11-01",
                        "--history", str(store), "--quiet")
        assert result.exit_code == 0, result.output
    return store, a, b


def test_history_scans_lists_every_scan_with_its_counts(two_instances: tuple[Path, ...]) -> None:
    store, a, b = two_instances
    listed = json.loads(invoke("history", "scans", "--history", str(store), "--format",
                               "json").stdout)["scans"]
    assert [s["id"] for s in listed] == [1, 2, 3]
    assert [s["instance"] for s in listed] == [f"file:{a}", f"file:{b}", f"file:{a}"]
    assert all(s["state"] == "complete" and s["evaluated"] > 0 for s in listed)
    only_b = invoke("history", "scans", "--history", str(store), "--instance", f"file:{b}")
    assert only_b.exit_code == 0
    rows = only_b.stdout.splitlines()
    assert rows[0].split()[:2] == ["id", "started"] and len(rows) == 2
    assert rows[1].split()[0] == "2"


def test_latest_across_instances_is_ambiguous_and_lists_them(
        two_instances: tuple[Path, ...]) -> None:
    """bad input: --scan latest over a store holding two instances; outcome: exit 2 listing
    both with their latest scans"""
    store, a, b = two_instances
    result = invoke("report", "show", "--history", str(store), "--format", "json")
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr and f"file:{a} (latest scan 3" in result.stderr
    assert f"file:{b} (latest scan 2" in result.stderr
    mine = invoke("report", "show", "--history", str(store), "--format", "json", "--instance",
                  f"file:{b}")
    assert mine.exit_code == 0 and json.loads(mine.stdout)["scan"]["id"] == 2
    sampled = invoke("sample", "--history", str(store), "--size", "3", "--seed", "1",
                     "--instance", f"file:{b}", "--format", "json")
    assert json.loads(sampled.stdout)["scan"]["id"] == 2


# report diff ---------------------------------------------------------------------------------

def _finding(fp: str, rule: str, status: str = "fail", owner: str = "Network") -> tuple[Any, ...]:
    return (fp, rule, "8.6.1", "high", "incident", "incident", f"id-{fp}", f"INC{fp}",
            "", f"INC{fp} breaks {rule}", status, "", "{}", owner, "g1")


def _stored_scan(history: History, findings: list[tuple[Any, ...]], rules: list[str], *,
                 complete: bool = True, url: str = "https://x.test",
                 identity: str | None = None) -> int:
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    scan_id = history.start_scan(platform="servicenow", instance=url, source="t",
                                 as_of=now, started=now, incremental=False, instance_id=identity)
    history.add_findings(scan_id, finding_rows_of(findings), now)
    history.save_counts(scan_id, rule_lines_of([(r, "8.6.1", "incident", "high", r, 10, 8, 2, 0, 0, 0)
                                  for r in rules]))
    history.finish_scan(scan_id, finished=now, complete=complete, notices=[], error=None)
    return scan_id


def test_scans_of_one_instance_through_two_urls_are_one_instance(tmp_path: Path) -> None:
    """latest, --instance, history scans, trend and diff follow the identity, not the URL: a
    demo's sandbox on a new port, a proxy, a custom domain."""
    store = tmp_path / "h.sqlite"
    history = History(store)
    for url in ("http://127.0.0.1:4001", "http://127.0.0.1:4002"):
        _stored_scan(history, [_finding("1", "r.a")], ["r.a"], url=url,
                     identity="servicenow:abc")
    history.close()
    shown = invoke("report", "show", "--history", str(store), "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["scan"]["id"] == 2
    by_old_url = invoke("report", "show", "--history", str(store), "--format", "json",
                        "--instance", "http://127.0.0.1:4001", "--scan", "2")
    assert by_old_url.exit_code == 0, by_old_url.output
    listed = json.loads(invoke("history", "scans", "--history", str(store), "--instance",
                               "http://127.0.0.1:4001", "--format", "json").stdout)["scans"]
    assert [(s["id"], s["instance_id"]) for s in listed] == [(1, "servicenow:abc"),
                                                             (2, "servicenow:abc")]
    trend = json.loads(invoke("report", "trend", "--history", str(store), "--instance",
                              "http://127.0.0.1:4001", "--format", "json").stdout)
    assert [len(s["points"]) for s in trend["series"]] == [2]
    diffed = invoke("report", "diff", "--history", str(store), "--format", "json")
    assert diffed.exit_code == 0, diffed.output


def test_diff_tells_new_fixed_still_open_and_not_rechecked(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    history = History(store)
    _stored_scan(history, [_finding("1", "r.a"), _finding("2", "r.a"),
                           _finding("3", "r.b", owner="Storage"), _finding("5", "r.c")],
                 ["r.a", "r.b", "r.c"])
    # r.c is not evaluated by the later scan (--only): its finding is not known fixed.
    _stored_scan(history, [_finding("2", "r.a"), _finding("3", "r.b", "unknown"),
                           _finding("4", "r.b", owner="Storage")], ["r.a", "r.b"])
    history.close()
    result = invoke("report", "diff", "--history", str(store), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["from"]["id"], doc["to"]["id"]) == (1, 2)
    assert doc["totals"] == {"new": 1, "fixed": 1, "still open": 1, "not rechecked": 2}
    assert doc["by_rule"]["r.a"] == {"fixed": 1, "still open": 1}
    assert doc["by_owner"]["Storage"] == {"new": 1, "not rechecked": 1}
    table = invoke("report", "diff", "--history", str(store), "--from", "1", "--to", "2")
    assert "1 new, 1 fixed, 1 still open, 2 not rechecked" in table.stdout
    assert "INC4 breaks r.b" in table.stdout
    csv_text = invoke("report", "diff", "--history", str(store), "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("from_scan,to_scan,change,")
    assert sum(1 for line in csv_text.splitlines()[1:] if ",fixed," in line) == 1


def test_diff_of_an_incomplete_later_scan_fixes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    history = History(store)
    _stored_scan(history, [_finding("1", "r.a")], ["r.a"])
    _stored_scan(history, [], ["r.a"], complete=False)
    history.close()
    doc = json.loads(invoke("report", "diff", "--history", str(store), "--from", "1", "--to",
                            "2", "--format", "json").stdout)
    assert doc["totals"]["fixed"] == 0 and doc["totals"]["not rechecked"] == 1


def test_diff_of_the_first_scan_says_there_is_nothing_to_compare(tmp_path: Path) -> None:
    """bad input: report diff with one scan in the store; outcome: exit 2 saying so"""
    store = tmp_path / "h.sqlite"
    history = History(store)
    _stored_scan(history, [_finding("1", "r.a")], ["r.a"])
    history.close()
    result = invoke("report", "diff", "--history", str(store))
    assert result.exit_code == 2 and "nothing to compare" in result.stderr


# sampling ------------------------------------------------------------------------------------

def test_a_size_below_the_strata_covers_every_priority_first() -> None:
    from sms_conformance.store.sampling import allocate

    sizes = {("1", "a"): 2, ("1", "b"): 1, ("2", "a"): 50, ("2", "b"): 40, ("3", "a"): 900,
             ("", "a"): 30}
    picked = allocate(sizes, 4, ("priority", "service"))
    assert {k[0] for k in picked} == {"1", "2", "3", ""}
    assert picked[("1", "a")] == 1, "the largest stratum of each priority"
    assert set(allocate(sizes, 2, ("priority", "service"))) == {("1", "a"), ("2", "a")}, "P1 first"
    assert set(allocate(sizes, 5, ("priority", "service"))) == {
        ("1", "a"), ("2", "a"), ("3", "a"), ("", "a"), ("2", "b")}


def test_sample_smaller_than_its_strata_says_which_it_left_out(
        two_instances: tuple[Path, ...]) -> None:
    store, a, _ = two_instances
    result = invoke("sample", "--history", str(store), "--instance", f"file:{a}", "--size", "10",
                    "--by", "priority,service", "--seed", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    priorities = {s["key"]["priority"] for s in report["strata"]}
    assert {str(r["priority"] or "") for r in report["records"]} == priorities
    left = report["left_out"]
    assert left and len(left) == len(report["strata"]) - 10
    assert all(s["drawn"] == 0 for s in report["strata"] if s["key"] in [x["key"] for x in left])
    table = invoke("sample", "--history", str(store), "--instance", f"file:{a}", "--size", "10",
                   "--by", "priority,service", "--seed", "5").stdout
    assert f"{len(left)} strata have no record in this sample" in table
    assert table.count("left out") == len(left) + 1  # each one, and the note


def test_sample_without_a_seed_draws_at_random_and_says_how_to_draw_it_again(
        two_instances: tuple[Path, ...]) -> None:
    """The auditor's command as typed (no --seed): a sample, and the seed that repeats it."""
    store, a, _ = two_instances
    args = ("sample", "--history", str(store), "--instance", f"file:{a}", "--size", "10",
            "--by", "priority,service", "--format", "json")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    seed = int(first.stderr.split()[1])
    assert f"--seed {seed} draws this sample again" in first.stderr
    again = invoke(*args, "--seed", str(seed))
    assert json.loads(again.stdout)["records"] == json.loads(first.stdout)["records"]
    assert json.loads(first.stdout)["seed"] == seed


# help and docs -------------------------------------------------------------------------------

def test_help_is_platform_neutral_and_lists_the_exit_codes() -> None:
    top = invoke("--help").stdout
    assert "ServiceNow" in top and "Jira Service Management" in top
    scan_help = " ".join(invoke("scan", "--help").stdout.split())
    for code in ("0 clean", "1 findings at or above --fail-on", "2 usage or configuration error",
                 "3 source or API failure", "4 another run holds the lock", "5 internal error",
                 "6 write-back stopped at the new-task cap"):
        assert code in " ".join(top.split()) and code in scan_help
    assert "With --write-back: wait" not in scan_help


def test_sandbox_only_options_given_for_another_source_are_warned_about(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    export(generate(records=30, seed=3), exports)
    result = invoke("scan", "--source", f"file:{exports}", "--records", "500", "--as-of",
                    "2026-11-01", "--history", str(tmp_path / "h.sqlite"), "--incremental")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("--records" in w and "ignored" in w for w in warnings)
    assert any("--incremental is ignored" in w for w in warnings)
    quiet = invoke("scan", "--source", "sandbox", "--records", "30", "--history",
                   str(tmp_path / "s.sqlite"), "--quiet")
    assert "warning" not in quiet.output


def test_docs_cite_only_paths_inside_the_repository() -> None:
    import re

    root = Path(__file__).resolve().parents[1]
    docs = [root / "README.md", root / "config" / "README.md", *sorted((root / "docs").glob("*.md"))]
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert "/work/" not in text, f"{doc.name} cites a path outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).resolve().is_relative_to(root), (doc.name, target)
            assert (doc.parent / target).exists(), (doc.name, target)


# terminal output -----------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_severities_are_coloured_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from sms_conformance.support.terminal import write_lines

    lines = ["  FAIL   critical 8.5.1  CHG1  change.approval: [bold]not markup[/bold]"]
    plain, tty = io.StringIO(), Terminal()
    monkeypatch.delenv("NO_COLOR", raising=False)
    write_lines(lines, plain)
    write_lines(lines, tty)
    assert plain.getvalue() == lines[0] + "\n"
    assert "\x1b[" in tty.getvalue() and "[bold]not markup[/bold]" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    no_colour = Terminal()
    write_lines(lines, no_colour)
    assert no_colour.getvalue() == lines[0] + "\n"


def test_the_cli_loads_without_rich() -> None:
    """rich is imported when a bar or colour is drawn, not to parse a command line."""
    import subprocess
    import sys

    code = ("import sys; from sms_conformance.cli import cli; "
            "cli(['--help'], standalone_mode=False); sys.exit('rich' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_messages_name_states_by_their_label() -> None:
    from sms_conformance.app.config import ConfigDir
    from sms_conformance.rules.loader import render_message

    rules = {r.id: r for r in ConfigDir(None).rules()}
    text = render_message(rules["problem.ownership.assignment_group"],
                          {"number": "PRB0040084", "state": "assess"})
    assert text == "PRB0040084 is in the Assess state without an assignment group"
    text = render_message(rules["incident.resolution.resolved_at"],
                          {"number": "INC1", "state": "in_progress"})
    assert text == "INC1 is in the In Progress state but has no resolution time"
