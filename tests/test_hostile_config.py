"""Hostile configuration through the real CLI: one line naming file and line, exit 2, no
traceback, bounded time, nothing written.

Each test's docstring reads "bad input: <what>; outcome: <expected>" (docs/RELIABILITY.md is
generated from them).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli

BOUND_S = 30  # generous: each of these ends in about a second
HOSTILE_TEXT = "a" * 40 + "!"  # 41 characters: ^(\w+\s?)*$ backtracks 2^40 times on it in `re`

RULE = """\
id: incident.custom.words
title: Short descriptions are plain words
clause: "8.6.1"
process: incident
severity: low
scope: {state: [new, in_progress]}
check:
  - field: short_description
    matches: 'PATTERN'
message: "{number} has a short description with other characters"
remediation: Use words.
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Table API export of two new incidents, one with the description above."""
    directory = tmp_path_factory.mktemp("exports")
    rows = [
        {"sys_id": "a1", "number": "INC0000001", "state": "1", "short_description": HOSTILE_TEXT,
         "opened_at": "2026-10-30 10:00:00"},
        {"sys_id": "a2", "number": "INC0000002", "state": "1",
         "short_description": "Printer on floor three jammed", "opened_at": "2026-10-30 11:00:00"},
    ]
    (directory / "incident.json").write_text(json.dumps({"result": rows}))
    return directory


def config_dir(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    config = tmp_path / "config"
    for name, body in files.items():
        path = config / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    config.mkdir(exist_ok=True)
    return config


def run(*args: str) -> tuple[Result, float]:
    start = time.monotonic()
    result = CliRunner().invoke(cli, list(args))
    return result, time.monotonic() - start


def scan(exports: Path, config: Path, history: Path, *extra: str) -> tuple[Result, float]:
    return run("scan", "--source", f"file:{exports}", "--config", str(config),
               "--history", str(history), "--as-of", "2026-11-01", *extra)


def assert_refused(outcome: tuple[Result, float], where: str, problem: str) -> None:
    """Exit 2, one `error:` line holding `where` (file:line) and `problem`, no traceback."""
    result, elapsed = outcome
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert where in errors[0] and problem in errors[0], errors[0]
    assert elapsed < BOUND_S


def assert_refusal(exports: Path, tmp_path: Path, files: dict[str, str | bytes], name: str,
                   line: int | None, problem: str) -> None:
    """A scan with this config/ is refused at `name:line` and creates no history store."""
    config = config_dir(tmp_path, files)
    history = tmp_path / "state" / "history.sqlite"
    where = f"{config / name}:{line}:" if line else f"{config / name}:"
    assert_refused(scan(exports, config, history), where, problem)
    assert not history.parent.exists()


# settings.yaml ------------------------------------------------------------------------------

def test_disabled_rules_as_a_string(exports: Path, tmp_path: Path) -> None:
    """bad input: `disabled_rules: "incident.*"`, a string; outcome: exit 2 at its line, no rule off."""
    assert_refusal(exports, tmp_path, {"settings.yaml": 'disabled_rules: "incident.*"\n'},
                   "settings.yaml", 1, "disabled_rules: expected a list, found text")


def test_billion_laughs(exports: Path, tmp_path: Path) -> None:
    """bad input: nested aliases ("billion laughs") in settings.yaml; outcome: exit 2, nothing expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("disabled_rules: *i")
    assert_refusal(exports, tmp_path, {"settings.yaml": "\n".join(lines) + "\n"},
                   "settings.yaml", 1, "YAML anchors and aliases")


def test_list_where_a_mapping_belongs(exports: Path, tmp_path: Path) -> None:
    """bad input: a list where settings.yaml wants a mapping; outcome: exit 2 at that line."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "write_back:\n  - max_new_tasks: 5\n"},
                   "settings.yaml", 1, "write_back: expected a mapping, found a list")


def test_duplicate_key(exports: Path, tmp_path: Path) -> None:
    """bad input: the same key twice in settings.yaml; outcome: exit 2 at the second one."""
    assert_refusal(exports, tmp_path,
                   {"settings.yaml": "backlog_max_age: 30d\nbacklog_max_age: 40d\n"},
                   "settings.yaml", 2, "duplicate key 'backlog_max_age'")


def test_non_utf8_byte(exports: Path, tmp_path: Path) -> None:
    """bad input: a Latin-1 byte (0xe9) in settings.yaml; outcome: exit 2 naming the line and byte offset."""
    assert_refusal(exports, tmp_path, {"settings.yaml": b"disabled_rules: []\n# caf\xe9\n"},
                   "settings.yaml", 2, "not UTF-8: byte 0xe9 at offset 24")


def test_huge_duration(exports: Path, tmp_path: Path) -> None:
    """bad input: `backlog_max_age: 99999999999d`; outcome: exit 2, a duration is 0 to 10 years."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "backlog_max_age: 99999999999d\n"},
                   "settings.yaml", 1,
                   "backlog_max_age: duration '99999999999d' is not between 0 and 10 years")


def test_unknown_key(exports: Path, tmp_path: Path) -> None:
    """bad input: a misspelt key (`restore_target:`) in settings.yaml; outcome: exit 2, not ignored."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "restore_target: {1: 2h}\n"},
                   "settings.yaml", 1, "restore_target: unknown key")


def test_wrong_type(exports: Path, tmp_path: Path) -> None:
    """bad input: `max_new_tasks: "lots"`, text for a number; outcome: exit 2 at that line."""
    assert_refusal(exports, tmp_path, {"settings.yaml": 'write_back:\n  max_new_tasks: "lots"\n'},
                   "settings.yaml", 2, "write_back.max_new_tasks: expected a whole number, found text")


def test_cap_out_of_range(exports: Path, tmp_path: Path) -> None:
    """bad input: `max_new_tasks: 10000000` in settings.yaml; outcome: exit 2, the cap is at most 100000."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "write_back:\n  max_new_tasks: 10000000\n"},
                   "settings.yaml", 2, "less than or equal to 100000")


def test_nesting_too_deep(exports: Path, tmp_path: Path) -> None:
    """bad input: a value nested 200 lists deep in settings.yaml; outcome: exit 2, no recursion error."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "disabled_rules: " + "[" * 200 + "]" * 200},
                   "settings.yaml", 1, "nested deeper than 32 levels")


def test_oversized_file(exports: Path, tmp_path: Path) -> None:
    """bad input: a 2 MiB settings.yaml; outcome: exit 2 without parsing it (files are at most 1 MiB)."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "# " + "x" * (2 * 1024 * 1024) + "\n"},
                   "settings.yaml", None, "larger than 1024 KiB")


def test_yaml_tag(exports: Path, tmp_path: Path) -> None:
    """bad input: a `!!python/object/apply` tag in settings.yaml; outcome: exit 2, nothing built."""
    assert_refusal(exports, tmp_path,
                   {"settings.yaml": 'backlog_max_age: !!python/object/apply:os.system ["true"]\n'},
                   "settings.yaml", 1, "YAML tags")


def test_control_character(exports: Path, tmp_path: Path) -> None:
    """bad input: a NUL character in settings.yaml; outcome: exit 2 at its line."""
    assert_refusal(exports, tmp_path, {"settings.yaml": "disabled_rules: []\nbacklog_max_age: 30d\x00\n"},
                   "settings.yaml", 2, "character #x0000 is not allowed")


# fieldmap.yaml, waivers.yaml, profiles.yaml -------------------------------------------------

def test_field_map_list_where_a_mapping_belongs(exports: Path, tmp_path: Path) -> None:
    """bad input: `fields:` given a list in fieldmap.yaml; outcome: exit 2 at that line."""
    assert_refusal(exports, tmp_path, {"fieldmap.yaml": "incident:\n  fields:\n    - short_description\n"},
                   "fieldmap.yaml", 2, "incident.fields: expected a mapping, found a list")


def test_field_map_table_name_with_query_syntax(exports: Path, tmp_path: Path) -> None:
    """bad input: a table name holding query syntax in fieldmap.yaml; outcome: exit 2 at that line."""
    assert_refusal(exports, tmp_path, {"fieldmap.yaml": 'incident:\n  table: "incident^ORactive=true"\n'},
                   "fieldmap.yaml", 2, "incident.table")


def test_waiver_with_an_impossible_date(exports: Path, tmp_path: Path) -> None:
    """bad input: `expires: 2027-02-30` in waivers.yaml; outcome: exit 2 at that line."""
    body = ("waivers:\n  - rule: incident.custom.words\n    record: INC0000001\n"
            "    reason: Legacy ticket\n    approver: J. Doe\n    expires: 2027-02-30\n")
    assert_refusal(exports, tmp_path, {"waivers.yaml": body}, "waivers.yaml", 6,
                   "day is out of range for month")


def test_waiver_naming_a_misspelled_rule(exports: Path, tmp_path: Path) -> None:
    """bad input: a waiver for `change.aproval.before_implementation` (no such rule); outcome:
    exit 2 at its rule line."""
    body = ("waivers:\n  - rule: incident.closure.validated\n    record: INC0000001\n"
            "    reason: Legacy ticket\n    approver: J. Doe\n    expires: 2027-03-01\n"
            "  - rule: change.aproval.before_implementation\n    record: CHG0000001\n"
            "    reason: Legacy ticket\n    approver: J. Doe\n    expires: 2027-03-01\n")
    assert_refusal(exports, tmp_path, {"waivers.yaml": body}, "waivers.yaml", 7,
                   "waivers.1.rule: no rule has the id or alias 'change.aproval.before_implementation'")


def test_waiver_scoped_on_a_field_the_rule_cannot_read(exports: Path, tmp_path: Path) -> None:
    """bad input: a waiver scoped on `asignment_group` (no such incident field); outcome: exit 2
    at that scope line."""
    body = ("waivers:\n  - rule: incident.closure.validated\n    scope:\n"
            "      asignment_group: g1\n    reason: Legacy ticket\n    approver: J. Doe\n"
            "    expires: 2027-03-01\n")
    assert_refusal(exports, tmp_path, {"waivers.yaml": body}, "waivers.yaml", 4,
                   "waivers.0.scope.asignment_group: 'asignment_group' is not a field")


def test_waivers_file_as_a_list(exports: Path, tmp_path: Path) -> None:
    """bad input: waivers.yaml holding a bare list instead of `waivers:`; outcome: exit 2 at line 1."""
    assert_refusal(exports, tmp_path, {"waivers.yaml": "- rule: x\n"}, "waivers.yaml", 1,
                   "expected a mapping, found a list")


def test_profile_holding_a_secret(exports: Path, tmp_path: Path) -> None:
    """bad input: a password written into profiles.yaml; outcome: exit 2, the secret not echoed."""
    config = config_dir(tmp_path, {"profiles.yaml": "profiles:\n  prod:\n    instance: dev1\n"
                                                    "    password: hunter2\n"})
    history = tmp_path / "state" / "history.sqlite"
    outcome = run("scan", "--profile", "prod", "--config", str(config), "--history", str(history))
    assert_refused(outcome, f"{config / 'profiles.yaml'}:2:", "secrets come from the environment")
    assert "hunter2" not in outcome[0].output
    assert not history.parent.exists()


# rules under config/rules/ ------------------------------------------------------------------

def test_redos_pattern_runs_in_linear_time(exports: Path, tmp_path: Path) -> None:
    """bad input: a config/rules/ rule matching `^(\\w+\\s?)*$` on a 41-character text;
    outcome: no hang (RE2 runs in linear time), the scan ends and reports the record."""
    config = config_dir(tmp_path, {"rules/incident.custom.words.yaml":
                                   RULE.replace("PATTERN", r"^(\w+\s?)*$")})
    report = tmp_path / "report.json"
    # A subprocess: a regex stuck in C holds the GIL, so only a process can be timed out.
    done = subprocess.run(
        [sys.executable, "-m", "sms_conformance", "scan", "--source", f"file:{exports}",
         "--config", str(config), "--history", str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01",
         "--only", "incident.custom.words", "--format", "json", "--output", str(report)],
        capture_output=True, text=True, timeout=BOUND_S, check=False,
    )
    assert done.returncode == 0, done.stderr
    findings = json.loads(report.read_text())["findings"]
    assert [(f["number"], f["status"]) for f in findings] == [("INC0000001", "fail")]


@pytest.mark.parametrize(("pattern", "detail"), [
    (r"(\w)\1", "invalid escape sequence"),
    (r"fixed(?!\.)", "invalid perl operator"),
])
def test_pattern_re2_cannot_run(tmp_path: Path, pattern: str, detail: str) -> None:
    """bad input: a pattern with a backreference or lookaround; outcome: exit 2 at its line."""
    config = config_dir(tmp_path, {"rules/incident.custom.words.yaml": RULE.replace("PATTERN", pattern)})
    rule = config / "rules" / "incident.custom.words.yaml"
    result, elapsed = run("rules", "validate", str(config / "rules"), "--config", str(config))
    assert result.exit_code == 2, result.output
    assert f"error: {rule}:9: incident.custom.words: matches: RE2 cannot use this pattern" in result.output
    assert detail in result.output and "Traceback" not in result.output
    assert elapsed < BOUND_S


def test_rule_with_a_huge_duration(exports: Path, tmp_path: Path) -> None:
    """bad input: `age: 99999999999d` in a rule under config/rules/; outcome: exit 2 at that line."""
    rule = RULE.replace("  - field: short_description\n    matches: 'PATTERN'\n",
                        "  - older_than: {field: opened_at, age: 99999999999d}\n")
    assert_refusal(exports, tmp_path, {"rules/incident.custom.words.yaml": rule},
                   "rules/incident.custom.words.yaml", 8, "is not between 0 and 10 years")


def test_rule_with_an_out_of_range_min_length(exports: Path, tmp_path: Path) -> None:
    """bad input: `min_length: 99999999999999999999` in a rule; outcome: exit 2 at that line."""
    rule = RULE.replace("matches: 'PATTERN'", "min_length: 99999999999999999999")
    assert_refusal(exports, tmp_path, {"rules/incident.custom.words.yaml": rule},
                   "rules/incident.custom.words.yaml", 9, "min_length: expects an integer from 0 to 100000")


def test_rule_with_a_non_utf8_byte(exports: Path, tmp_path: Path) -> None:
    """bad input: a non-UTF-8 byte in a rule file; outcome: exit 2 naming the rule, line and byte offset."""
    rule = RULE.replace("Use words.", "Use words \xff.").encode("latin-1")
    assert_refusal(exports, tmp_path, {"rules/incident.custom.words.yaml": rule},
                   "rules/incident.custom.words.yaml", 11, "incident.custom.words: not UTF-8: byte 0xff")


def test_rule_with_a_list_for_a_text_field(exports: Path, tmp_path: Path) -> None:
    """bad input: `severity: [low]` (a list for a value) in a rule; outcome: exit 2 at that line."""
    assert_refusal(exports, tmp_path, {"rules/incident.custom.words.yaml":
                                     RULE.replace("severity: low", "severity: [low]")},
                 "rules/incident.custom.words.yaml", 5, "severity")


# the history store ---------------------------------------------------------------------------

@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` unwritable, even for root (CI runs as root): chmod, or else the immutable flag."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root without chattr +i support: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def valid_store(exports: Path, tmp_path: Path) -> Path:
    history = tmp_path / "store" / "history.sqlite"
    result, _ = scan(exports, config_dir(tmp_path, {}), history)
    assert result.exit_code == 0, result.output
    gc.collect()  # closes that scan's connection: its last pages move from the WAL into the file
    assert not history.with_name("history.sqlite-wal").exists()
    return history


def test_read_only_history_file(exports: Path, tmp_path: Path) -> None:
    """bad input: a read-only history store; outcome: exit 2 naming it and what to do, file unchanged."""
    history = valid_store(exports, tmp_path)
    before = history.read_bytes()
    with read_only(history):
        outcome = scan(exports, config_dir(tmp_path, {}), history)
    assert_refused(outcome, f"{history}: history store:", "make the file and its directory writable")
    assert history.read_bytes() == before


def test_history_in_a_read_only_directory(exports: Path, tmp_path: Path) -> None:
    """bad input: a history store in a read-only directory; outcome: exit 2 saying what to do, no file."""
    directory = tmp_path / "locked"
    directory.mkdir()
    history = directory / "history.sqlite"
    with read_only(directory):
        outcome = scan(exports, config_dir(tmp_path, {}), history)
    assert_refused(outcome, f"{history}: history store:", "writable by this user, or pass --history")
    assert list(directory.iterdir()) == []


def test_history_file_that_is_not_sqlite(exports: Path, tmp_path: Path) -> None:
    """bad input: a history store that is not SQLite; outcome: exit 2 naming it, the file unchanged."""
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"these are not the findings you are looking for\n" * 100)
    outcome = scan(exports, config_dir(tmp_path, {}), history)
    assert_refused(outcome, f"{history}: history store: file is not a database", "move it aside")
    assert history.read_bytes() == b"these are not the findings you are looking for\n" * 100


def test_corrupt_history(exports: Path, tmp_path: Path) -> None:
    """bad input: a SQLite history store with garbage after its header; outcome: exit 2, file unchanged."""
    history = valid_store(exports, tmp_path)
    raw = bytearray(history.read_bytes())
    raw[100:] = bytes((i * 37 + 11) % 256 for i in range(len(raw) - 100))  # header kept
    history.write_bytes(bytes(raw))
    outcome = scan(exports, config_dir(tmp_path, {}), history)
    assert_refused(outcome, f"{history}: history store:", "move it aside")
    assert history.read_bytes() == bytes(raw)


def test_history_damaged_past_its_first_page(exports: Path, tmp_path: Path) -> None:
    """bad input: a history store damaged past its first page; outcome: exit 2 once SQLite meets it."""
    history = valid_store(exports, tmp_path)
    raw = bytearray(history.read_bytes())
    page = 4096
    raw[page:] = bytes((i * 37 + 11) % 256 for i in range(len(raw) - page))
    history.write_bytes(bytes(raw))
    assert_refused(run("tasks", "list", "--history", str(history)), f"{history}: history store:",
                   "database disk image is malformed")
    assert_refused(scan(exports, config_dir(tmp_path, {}), history), f"{history}: history store:",
                   "move it aside")


def test_history_of_another_program(exports: Path, tmp_path: Path) -> None:
    """bad input: a SQLite file whose `scans` table is not ours; outcome: exit 2, the file unchanged."""
    history = tmp_path / "history.sqlite"
    with sqlite3.connect(history) as db:
        db.execute("CREATE TABLE scans (a, b)")
    db.close()
    before = history.read_bytes()
    outcome = scan(exports, config_dir(tmp_path, {}), history)
    assert_refused(outcome, f"{history}: history store: table scans lacks", "move it aside")
    assert history.read_bytes() == before
