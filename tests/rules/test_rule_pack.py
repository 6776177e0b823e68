"""Meta-tests of the built-in pack: ids, files, clauses, examples, and the shared id contract."""

from __future__ import annotations

import re

import yaml

from sms_conformance.model.findings import Status
from sms_conformance.rules.examples import build_example
from sms_conformance.rules.loader import PLACEHOLDER, builtin_pack_dir, render_message

from ._support import REPO, pack, run_example

# Clauses of ISO/IEC 20000-1:2018 a rule may cite (the pack uses the first four).
KNOWN_CLAUSES = {
    "4.4", "8.5.1", "8.6.1", "8.6.3",
    "8.2.6", "8.3.3", "8.5.2", "8.5.3", "8.6.2", "8.7.1", "10.1", "10.2",
}
ROW = re.compile(r"^\|\s*([a-z0-9_]+(?:\.[a-z0-9_]+)+)\s*\|\s*([\d.]+)\s*\|", re.MULTILINE)


def _contract() -> dict[str, str]:
    """rule id -> clause, from the table in docs/rule-ids.md."""
    text = (REPO / "docs" / "rule-ids.md").read_text(encoding="utf-8")
    return dict(ROW.findall(text))


def test_pack_is_big_enough() -> None:
    assert len(pack()) >= 35


def test_ids_are_unique_and_match_file_stems() -> None:
    files = sorted(builtin_pack_dir().glob("*.y*ml"))
    ids = [yaml.safe_load(f.read_text(encoding="utf-8"))["id"] for f in files]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [f.stem for f in files] == ids
    assert sorted(r.id for r in pack()) == sorted(ids)


def test_every_rule_has_a_passing_and_a_failing_example() -> None:
    missing = [
        rule.id for rule in pack() if not rule.examples.pass_ or not rule.examples.fail
    ]
    assert not missing, f"rules without both a pass and a fail example: {missing}"


def test_no_example_is_out_of_scope() -> None:
    out = [
        f"{rule.id}:{kind}[{i}]"
        for rule in pack()
        for kind, examples in (("pass", rule.examples.pass_), ("fail", rule.examples.fail))
        for i, example in enumerate(examples)
        if run_example(rule, example).status is Status.NOT_APPLICABLE
    ]
    assert not out, f"examples outside their rule's scope: {out}"


def test_clauses_are_real_20000_1_clauses() -> None:
    bad = {rule.id: rule.clause for rule in pack() if rule.clause not in KNOWN_CLAUSES}
    assert not bad


def test_rule_ids_match_the_contract() -> None:
    contract = _contract()
    assert len(contract) == 63
    ids = {rule.id for rule in pack()}
    assert sorted(set(contract) - ids) == [], "ids in docs/rule-ids.md missing from the pack"
    assert sorted(ids - set(contract)) == [], "rules in the pack missing from docs/rule-ids.md"


def test_clauses_match_the_contract() -> None:
    contract = _contract()
    wrong = {r.id: (r.clause, contract[r.id]) for r in pack() if contract.get(r.id) != r.clause}
    assert not wrong


def test_messages_render_for_every_failing_example() -> None:
    for rule in pack():
        for example in rule.examples.fail:
            record, _ = build_example(rule, example)
            text = render_message(rule, {**record.fields, "number": record.number})
            assert text.strip(), rule.id
            assert not PLACEHOLDER.search(text), f"{rule.id}: unrendered placeholder in {text!r}"
            assert record.number in text, f"{rule.id}: message does not name the record"


def test_rules_are_documented() -> None:
    for rule in pack():
        assert "\n" not in rule.title and len(rule.title) <= 80, rule.id
        assert not rule.title.endswith("."), rule.id
        assert f"Clause {rule.clause}" in rule.why, f"{rule.id}: why must cite its clause"
        assert "http" not in rule.why, rule.id
        assert len(rule.remediation) >= 20, rule.id


def test_scopes_are_plain_values() -> None:
    for rule in pack():
        for name, values in rule.scope.items():
            assert all(isinstance(v, (str, int, bool)) for v in values), (rule.id, name)
