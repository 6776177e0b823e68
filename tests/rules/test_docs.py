"""docs/rules.md is generated from the pack and must never drift from it."""

from __future__ import annotations

from sms_conformance.rules import model as m
from sms_conformance.rules.docgen import describe, render_reference

from ._support import REPO, make_rule, pack
from .test_checks import CONDITION_CASES, OPERATOR_CASES

DOCS = REPO / "docs" / "rules.md"


def test_docs_match_the_pack() -> None:
    expected = render_reference(pack())
    actual = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert actual == expected, (
        "docs/rules.md is out of date with the rule pack: "
        "run `sms-conformance rules docs --output docs/rules.md`"
    )


def test_reference_covers_every_rule_and_clause() -> None:
    text = render_reference(pack())
    for rule in pack():
        assert f"### `{rule.id}`" in text
        assert rule.title in text
    for clause in {rule.clause for rule in pack()}:
        assert f"## Clause {clause}" in text


def test_reference_is_deterministic() -> None:
    assert render_reference(pack()) == render_reference(reversed(pack()))


def test_every_condition_can_be_described() -> None:
    for table in (OPERATOR_CASES, CONDITION_CASES):
        for rows in table.values():
            for check, _, _ in rows:
                process = "problem" if "referenced_by" in check else "incident"
                (condition,) = make_rule([check], process).check
                text = describe(condition)
                assert text and "m." not in text
                if condition.when is not None:
                    assert "only when" in text
    not_linked = make_rule([{"not": {"linked": {"field": "problem"}}}]).check[0]
    assert isinstance(not_linked, m.Not)
    assert describe(not_linked) == "not: `problem` points at an existing problem record"
