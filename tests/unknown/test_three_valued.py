"""Unknown is not empty: checks that need a value the source did not provide are unknown."""

from __future__ import annotations

from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Process, Ref, Unknown, not_returned
from sms_conformance.rules.checks import Context
from sms_conformance.rules.model import Rule, Severity
from sms_conformance.rules.parse import ConditionParser
from tests.conftest import FROZEN_NOW, make_record


class NoLinks:
    def get(self, ref: Ref):
        return None

    def referrers(self, process, field, record_id):
        return 0


CTX = Context(FROZEN_NOW, NoLinks())


def rule(check: list[dict], scope: dict | None = None) -> Rule:
    parser = ConditionParser(Process.INCIDENT)
    return Rule(
        id="incident.test.rule", title="t", clause="8.6.1", process=Process.INCIDENT,
        severity=Severity.LOW, scope={k: tuple(v) for k, v in (scope or {}).items()},
        check=tuple(parser.parse(item, ("check", i)) for i, item in enumerate(check)),
        message="{number}", remediation="fix",
    )


def status(r: Rule, **fields) -> Status:
    return evaluate_one(r, make_record("incident", **fields), CTX).status


def test_not_returned_is_unknown_and_empty_is_a_failure() -> None:
    present = rule([{"field": "reporter", "present": True}])
    assert status(present, reporter=not_returned("caller_id")) is Status.UNKNOWN
    assert status(present, reporter=None) is Status.FAIL
    assert status(present, reporter="") is Status.FAIL
    assert status(present, reporter=Ref("user", "a" * 32)) is Status.PASS


def test_unknown_result_names_the_field_and_the_reason() -> None:
    result = evaluate_one(rule([{"field": "reporter", "present": True}]),
                          make_record("incident", reporter=not_returned("caller_id")), CTX)
    assert result.unknown == (("reporter", "caller_id was not returned by the source"),)
    assert "caller_id was not returned" in result.detail
    assert result.observed == {}


def test_any_is_true_when_a_known_branch_holds_and_unknown_otherwise() -> None:
    either = rule([{"any": [{"field": "reporter", "present": True},
                            {"field": "category", "present": True}]}])
    assert status(either, reporter=Unknown("x"), category="network") is Status.PASS
    assert status(either, reporter=Unknown("x"), category=None) is Status.UNKNOWN
    assert status(either, reporter=None, category=None) is Status.FAIL


def test_all_is_false_when_a_known_branch_fails_and_unknown_otherwise() -> None:
    both = rule([{"all": [{"field": "reporter", "present": True},
                          {"field": "category", "present": True}]}])
    assert status(both, reporter=Unknown("x"), category=None) is Status.FAIL
    assert status(both, reporter=Unknown("x"), category="network") is Status.UNKNOWN


def test_when_unknown_holds_only_if_the_body_holds_anyway() -> None:
    conditional = rule([{"field": "resolution_notes", "present": True,
                         "when": {"field": "category", "equals": "network"}}])
    assert status(conditional, category=Unknown("x"), resolution_notes="done") is Status.PASS
    assert status(conditional, category=Unknown("x"), resolution_notes=None) is Status.UNKNOWN
    assert status(conditional, category="software", resolution_notes=None) is Status.PASS


def test_unknown_scope_field_is_neither_in_nor_out_of_scope() -> None:
    scoped = rule([{"field": "resolution_notes", "present": True}], scope={"state": ["closed"]})
    assert status(scoped, state=not_returned("state"), resolution_notes=None) is Status.UNKNOWN
    assert status(scoped, state="new", resolution_notes=None) is Status.NOT_APPLICABLE


def test_a_date_that_does_not_parse_is_unknown_never_compared_as_text() -> None:
    from sms_conformance.model.dates import parse_datetime

    value = parse_datetime("29-02-2016 11:29")
    assert isinstance(value, Unknown) and "29-02-2016 11:29" in value.reason
    ordered = rule([{"field": "resolved_at", "compare": {"op": "ge", "field": "opened_at"},
                     "when": {"field": "opened_at", "present": True}}])
    assert status(ordered, opened_at=value, resolved_at=parse_datetime("2016-01-01 10:00:00")) \
        is Status.UNKNOWN


def test_unknown_and_error_rows_never_carry_the_failure_sentence(tmp_path) -> None:
    from sms_conformance.engine.results import RuleResult
    from sms_conformance.scan.scanner import _finding_row

    class Links:
        def get(self, ref):
            return None

    r = rule([{"field": "reporter", "present": True}])
    record = make_record("incident", number="INC42", reporter=not_returned("caller_id"))
    for status, detail in ((Status.UNKNOWN, "reporter: caller_id was not returned by the source"),
                           (Status.ERROR, "could not evaluate: bad type")):
        row = _finding_row(RuleResult(r, record, status, detail), Links())
        message = row.message
        assert "could not be evaluated" in message and detail in message
        assert message != "INC42"  # the rule's failure message is "{number}"
