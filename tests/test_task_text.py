"""Tasks an owner understands: the target breached, linked records by number, how to dispute."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sms_conformance.app.settings import _merge
from sms_conformance.model.rows import FindingRow
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.writeback.corrective import CorrectiveKey, corrective_draft
from sms_conformance.writeback.plan import WriteBackSettings, task_draft
from sms_conformance.writeback.records import record_task_draft
from sms_conformance.writeback.text import duration, show_linked, target_text
from tests.conftest import finding_rows_of

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
REC, GRP, PRB = "a" * 32, "b" * 32, "c" * 32
RESTORE = "incident.restore.within_target"


def finding(rule_id: str, observed: dict[str, str], message: str = "INC0012345 fails") -> FindingRow:
    return FindingRow(
        fingerprint="f" * 40, rule_id=rule_id, clause="8.6.1", severity="medium",
        process="incident", table="incident", record_id=REC, number="INC0012345",
        url="https://x.test/r", message=message, status="fail", detail="", observed=observed,
        owner="Service Desk", owner_id=GRP, first_seen="2026-10-21T02:00:00Z")


def late_p2(hours: float) -> dict[str, str]:
    opened = datetime(2026, 10, 1, 8, tzinfo=timezone.utc)
    return {"opened_at": str(opened), "priority": "2",
            "resolved_at": str(opened + timedelta(hours=hours))}


def test_a_restore_breach_names_the_priority_target_and_the_time_taken(rules) -> None:
    text = target_text(rules[RESTORE], late_p2(31), NOW)
    assert text == "P2 target 8 h from opened to resolved, took 31 h"


def test_the_target_comes_from_the_settings_not_from_the_code(fieldmap, settings) -> None:
    """A P2 target of 12 h in settings.yaml: the task says 12 h."""
    changed = _merge(settings, {"restore_targets": {2: "12h"}})
    rules = {r.id: r for r in load_rules([builtin_pack_dir()], fieldmap, changed)}
    assert target_text(rules[RESTORE], late_p2(31), NOW).startswith("P2 target 12 h ")
    assert target_text(rules[RESTORE], late_p2(11), NOW) == ""  # not breached: nothing to say


def test_an_aging_record_names_its_limit_and_the_day_it_passed_it(rules) -> None:
    observed = {"opened_at": "2026-08-03 07:23:42+00:00"}
    text = target_text(rules["incident.backlog.aging"], observed, NOW)
    assert text == "at most 30 d since opened, exceeded on 2026-09-02"
    # The same the next day: the task is not rewritten every night.
    assert target_text(rules["incident.backlog.aging"], observed, NOW + timedelta(days=1)) == text


def test_rules_without_a_duration_target_and_unreadable_values_say_nothing(rules) -> None:
    assert target_text(rules["incident.logging.category"], {"category": ""}, NOW) == ""
    assert target_text(rules[RESTORE], {"opened_at": "yesterday", "priority": "2",
                                        "resolved_at": "today"}, NOW) == ""


def test_durations_read_as_people_say_them() -> None:
    assert [duration(timedelta(minutes=m)) for m in (45, 8 * 60, 31 * 60, 150, 5 * 1440)] == [
        "45 min", "8 h", "31 h", "2.5 h", "5 d"]


def test_linked_records_show_their_number_where_the_scan_read_them() -> None:
    row = finding("problem.links.fix_change_closed",
                  {"fixed_by_change": PRB, "problem": "d" * 32, "category": "e" * 32},
                  message=f"INC0012345 links change {PRB}, which is not closed")
    shown = show_linked(row, {"fixed_by_change", "problem"}, {PRB: "CHG0030042"})
    assert shown.observed["fixed_by_change"] == "CHG0030042"
    assert shown.observed["problem"] == f"(record id {'d' * 32})"
    assert shown.observed["category"] == "e" * 32  # not a reference field: left as it is
    assert shown.message == "INC0012345 links change CHG0030042, which is not closed"
    empty = finding(RESTORE, {"problem": ""})
    assert show_linked(empty, {"problem"}, {}) is empty


def _config(settings: dict[str, Any], **write_back: Any) -> WriteBackSettings:
    return WriteBackSettings.from_settings(_merge(settings, {"write_back": write_back}))


def test_every_kind_of_task_says_how_to_dispute_or_ask_for_a_waiver(rules, settings) -> None:
    config = _config(settings)
    row = finding(RESTORE, late_p2(31))
    texts = [
        task_draft(row, rules[RESTORE], config, NOW).body,
        record_task_draft("f" * 40, [row], [], rules, config, NOW).body,
        corrective_draft(CorrectiveKey("incident", RESTORE, GRP, "2026-10"), "f" * 40, [row],
                         [10, 9], rules[RESTORE], config, NOW, lambda process, ids: "").body,
    ]
    for text in texts:
        assert "dispute" in text and "config/waivers.yaml" in text and "GRC contact" in text
        assert "P2 target 8 h from opened to resolved, took 31 h" in text
    custom = _config(settings, dispute_text="Questions: grc@example.test, ext. 4242.")
    text = task_draft(row, rules[RESTORE], custom, NOW).body
    assert "grc@example.test, ext. 4242." in text and "config/waivers.yaml" not in text


def test_a_record_task_shows_the_target_under_its_rule(rules, settings) -> None:
    config = _config(settings)
    rows = [finding(RESTORE, late_p2(31)), replace(finding("incident.logging.category",
                                                           {"category": ""}), fingerprint="g" * 40)]
    text = record_task_draft("f" * 40, rows, [], rules, config, NOW).body
    restore = text.index(f"Rule {RESTORE}")
    assert text.index("  Target breached: P2 target 8 h", restore) < text.index("How to fix", restore)
    assert text.count("Target breached") == 1


def test_write_back_knows_the_numbers_of_linked_records_read_in_the_same_scan(
        tmp_path, fieldmap, rules, config) -> None:
    """The scan's phase hook keeps the numbers of problems and changes (what references point
    to); the failures write-back plans from show them instead of record ids."""
    from typing import cast

    from sms_conformance.connectors.base import Connector, TaskPort
    from sms_conformance.engine.waivers import Waivers
    from sms_conformance.scan.scanner import ScanOptions
    from sms_conformance.store.history import History
    from sms_conformance.writeback.run import WriteBack, linked_processes
    from tests.conftest import make_record

    # No built-in rule reads an incident reference: incident numbers are not kept.
    assert linked_processes(list(rules.values())) == {"problem", "change"}
    wb = WriteBack(cast(Connector, None), cast(TaskPort, None), config,
                   list(rules.values()), dry_run=True, cap=10)
    options = ScanOptions(now=NOW, waivers=Waivers([], NOW.date()))
    wb.watch(options)
    assert options.observer is not None
    options.observer.evaluated(make_record("change", "CHG0030042", PRB, state="implement"), [])
    history = History(tmp_path / "h.sqlite")
    scan_id = history.start_scan(platform="servicenow", instance="https://x.test", source="t",
                                 as_of=NOW, started=NOW, incremental=False)
    history.add_findings(scan_id, finding_rows_of([(
        "f" * 40, "problem.links.fix_change_closed", "8.6.3", "medium", "problem", "problem",
        REC, "PRB0040001", "", f"PRB0040001 is fixed by change {PRB}, not closed", "fail", "",
        f'{{"fixed_by_change": "{PRB}"}}', "Service Desk", GRP)]), NOW)
    (failure,), groups = wb.failures(history, scan_id)
    assert failure.observed == {"fixed_by_change": "CHG0030042"}
    assert failure.message == "PRB0040001 is fixed by change CHG0030042, not closed"
    assert groups == {GRP: "Service Desk"}
