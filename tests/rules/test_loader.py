"""A rule file that does not load names its file, line and rule id."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_conformance.model.errors import RuleError
from sms_conformance.rules.loader import load_rules

from ._support import fieldmap, settings

GOOD = """\
id: test.loader.rule
title: A rule for loader tests
clause: "8.6.1"
process: incident
severity: low
scope:
  state: [resolved, closed]
check:
  - field: resolution_notes
    matches: '(?i)confirm'
message: "{number} is not confirmed"
remediation: Confirm it.
examples:
  pass: [{state: closed, resolution_notes: confirmed}]
  fail: [{state: closed, resolution_notes: fixed}]
"""


def _load_error(tmp_path: Path, text: str, stem: str = "test.loader.rule") -> tuple[RuleError, Path]:
    path = tmp_path / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path], fieldmap(), settings())
    return info.value, path


def _assert_located(error: RuleError, path: Path, line: int, problem: str) -> None:
    text = str(error)
    assert f"{path}:{line}: test.loader.rule: " in text, text
    assert problem in text, text
    assert error.line == line
    assert error.rule_id == "test.loader.rule"


def test_the_template_loads(tmp_path: Path) -> None:
    (tmp_path / "test.loader.rule.yaml").write_text(GOOD, encoding="utf-8")
    (rule,) = load_rules([tmp_path], fieldmap(), settings())
    assert rule.id == "test.loader.rule"


def test_malformed_yaml(tmp_path: Path) -> None:
    text = GOOD.replace("    matches: '(?i)confirm'", "    matches: '(?i)confirm\n   oops: [")
    error, path = _load_error(tmp_path, text)
    assert error.line is not None and error.line >= 10
    _assert_located(error, path, error.line, "malformed YAML")


def test_unknown_check(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("matches:", "matchs:"))
    _assert_located(error, path, 10, "unknown check 'matchs'")


def test_unknown_field(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("field: resolution_notes", "field: close_notes"))
    _assert_located(error, path, 9, "unknown field 'close_notes'")


def test_duplicate_key(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("severity: low\n", "severity: low\nseverity: high\n"))
    _assert_located(error, path, 6, "duplicate key 'severity'")


def test_file_stem_must_be_the_id(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD, stem="test.loader.other")
    _assert_located(error, path, 1, "file name must be the rule id")


def test_unknown_setting(tmp_path: Path) -> None:
    text = GOOD.replace("matches: '(?i)confirm'", "matches: {setting: no_such_setting}")
    error, path = _load_error(tmp_path, text)
    _assert_located(error, path, 10, "unknown setting 'no_such_setting'")


def test_unknown_state_in_scope(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("[resolved, closed]", "[resolved, done]"))
    _assert_located(error, path, 7, "unknown incident state 'done'")


def test_bad_message_placeholder(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("{number} is", "{close_notes} is"))
    _assert_located(error, path, 11, "message placeholder {close_notes}")


def test_schema_error(tmp_path: Path) -> None:
    error, path = _load_error(tmp_path, GOOD.replace("severity: low", "severity: urgent"))
    _assert_located(error, path, 5, "severity")


SETTING_TEST = GOOD.replace("""    matches: '(?i)confirm'
""", """    matches: '(?i)confirm'
    when: {setting: major_incident_by, in: [either, flag]}
""")


def test_a_setting_test_decides_when_the_rule_loads(tmp_path: Path) -> None:
    """`{setting: NAME, in: [...]}` holds or not by the settings the rule is loaded with; a
    rule none of whose checks can then apply is off, saying so."""
    (tmp_path / "test.loader.rule.yaml").write_text(SETTING_TEST, encoding="utf-8")
    (on,) = load_rules([tmp_path], fieldmap(), settings())
    assert not on.off_reason
    (off,) = load_rules([tmp_path], fieldmap(), {**settings(), "major_incident_by": "priority"},
                        include_off=True)
    assert off.off_reason == "off: with these settings no check of it can apply"


def test_a_setting_test_naming_no_setting(tmp_path: Path) -> None:
    """bad input: `{setting: no_such, in: [a]}` in a check; outcome: refused at its line."""
    error, path = _load_error(tmp_path, SETTING_TEST.replace("major_incident_by", "no_such"))
    _assert_located(error, path, 11, "unknown setting 'no_such'")


def test_a_setting_test_without_values(tmp_path: Path) -> None:
    """bad input: `in: []` in a setting test; outcome: refused at its line."""
    error, path = _load_error(tmp_path, SETTING_TEST.replace("[either, flag]", "[]"))
    _assert_located(error, path, 11, "in: expects a non-empty list of plain values")


def test_an_example_with_an_unknown_setting(tmp_path: Path) -> None:
    """bad input: an example's `_settings` names no setting; outcome: refused at its line."""
    text = GOOD.replace("fail: [{state: closed, resolution_notes: fixed}]",
                        "fail: [{state: closed, resolution_notes: fixed, _settings: {nope: 1}}]")
    error, path = _load_error(tmp_path, text)
    _assert_located(error, path, 15, "_settings: unknown setting 'nope'")
