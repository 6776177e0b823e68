"""Encoded queries: parser, every operator, ^OR, ^NQ, ordering, dropped unknown fields, paging."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.query import Condition, extract_keyset, parse
from sms_conformance.sandbox.servicenow.store import Store

Rec = dict[str, str]


@pytest.fixture(scope="module")
def store() -> Store:
    return Store(generate(600, 5))


def all_incidents(store: Store) -> list[Rec]:
    data = store.dataset
    return [data.record("incident", row) for row in store.tables["incident"].rows]


def numbers(store: Store, query: str, table: str = "incident") -> list[str]:
    page = store.select(table, query)
    return [store.dataset.record(table, row)["number"] for row in page.rows]


def expect(store: Store, test: Callable[[Rec], bool]) -> list[str]:
    return [r["number"] for r in all_incidents(store) if test(r)]


def test_parse_groups_clauses_and_order() -> None:
    q = parse("active=true^stateIN1,2^ORpriority=1^NQnumberSTARTSWITHINC^ORDERBYDESCnumber"
              "^ORDERBYcategory^EQ")
    assert q.groups == [
        [[Condition("active", "=", "true")],
         [Condition("state", "IN", "1,2"), Condition("priority", "=", "1")]],
        [[Condition("number", "STARTSWITH", "INC")]],
    ]
    assert q.order == [("number", True), ("category", False)]


def test_parse_operators_with_spaces_and_values_with_specials() -> None:
    q = parse("impactNOT IN1,2^short_descriptionNOT LIKEe-mail^descriptionLIKEa=b,c@d")
    conds = q.conditions()
    assert conds[0] == Condition("impact", "NOT IN", "1,2")
    assert conds[1] == Condition("short_description", "NOT LIKE", "e-mail")
    assert conds[2] == Condition("description", "LIKE", "a=b,c@d")


def test_unparseable_term_is_recorded_and_ignored() -> None:
    q = parse("state=1^garbage!!^")
    assert q.invalid == ["garbage!!"]
    assert q.conditions() == [Condition("state", "=", "1")]


@pytest.mark.parametrize("query,test", [
    ("state=7", lambda r: r["state"] == "7"),
    ("state!=7", lambda r: r["state"] != "7"),
    ("stateIN1,2,3", lambda r: r["state"] in ("1", "2", "3")),
    ("stateNOT IN1,2,3", lambda r: r["state"] not in ("1", "2", "3")),
    ("short_descriptionLIKEvpn", lambda r: "vpn" in r["short_description"].lower()),
    ("short_descriptionNOT LIKEvpn", lambda r: "vpn" not in r["short_description"].lower()),
    ("short_descriptionSTARTSWITHunable", lambda r: r["short_description"].lower()
     .startswith("unable")),
    ("short_descriptionENDSWITHoffice", lambda r: r["short_description"].lower()
     .endswith("office")),
    ("problem_idISEMPTY", lambda r: r["problem_id"] == ""),
    ("problem_idISNOTEMPTY", lambda r: r["problem_id"] != ""),
    ("priority<3", lambda r: r["priority"] != "" and int(r["priority"]) < 3),
    ("priority<=3", lambda r: r["priority"] != "" and int(r["priority"]) <= 3),
    ("priority>3", lambda r: r["priority"] != "" and int(r["priority"]) > 3),
    ("priority>=3", lambda r: r["priority"] != "" and int(r["priority"]) >= 3),
    ("opened_at>2026-10-15 00:00:00", lambda r: r["opened_at"] > "2026-10-15 00:00:00"),
    ("opened_at<2026-01-01 00:00:00", lambda r: r["opened_at"] < "2026-01-01 00:00:00"),
    ("reopen_count>0", lambda r: int(r["reopen_count"] or 0) > 0),
    ("impactBETWEEN1@2", lambda r: r["impact"] in ("1", "2")),
    ("active=true", lambda r: r["state"] in ("1", "2", "3")),
])
def test_operator(store: Store, query: str, test: Callable[[Rec], bool]) -> None:
    expected = expect(store, test)
    assert expected, f"{query} should match something in the fixture"
    assert sorted(numbers(store, query)) == sorted(expected)


def test_reference_compares_by_sys_id(store: Store) -> None:
    group = store.dataset.tables["sys_user_group"][1][0]
    expected = expect(store, lambda r: r["assignment_group"] == group)
    assert expected
    assert sorted(numbers(store, f"assignment_group={group}")) == sorted(expected)


def test_and_or_and_new_query(store: Store) -> None:
    got = numbers(store, "state=7^priority=1^ORpriority=2^NQstate=3")
    expected = expect(store, lambda r: (r["state"] == "7" and r["priority"] in ("1", "2"))
                      or r["state"] == "3")
    assert sorted(got) == sorted(expected)


def test_ordering_several_keys(store: Store) -> None:
    page = store.select("incident", "ORDERBYpriority^ORDERBYDESCnumber")
    recs = [store.dataset.record("incident", r) for r in page.rows]
    keys = [(r["priority"], r["number"]) for r in recs]
    assert keys == sorted(keys, key=lambda k: (k[0], [-ord(c) for c in k[1]]))
    assert recs[0]["priority"] <= recs[-1]["priority"]


def test_default_order_is_sys_id(store: Store) -> None:
    ids = [r[0] for r in store.select("incident").rows]
    assert ids == sorted(ids)


def test_unknown_field_is_dropped_rest_still_runs(store: Store) -> None:
    assert numbers(store, "u_no_such_field=1^state=7") == numbers(store, "state=7")
    assert len(numbers(store, "u_no_such_field=1")) == 600
    assert len(numbers(store, "u_typo=1^ORstate=7")) == len(numbers(store, "state=7"))


def test_dot_walk_through_reference(store: Store) -> None:
    got = numbers(store, "assignment_group.name=Network Operations")
    groups = {r[0] for r in store.dataset.tables["sys_user_group"]
              if r[1] == "Network Operations"}
    assert got and sorted(got) == sorted(expect(store, lambda r: r["assignment_group"] in groups))


def test_offset_paging_covers_everything_once(store: Store) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = store.select("incident", "ORDERBYnumber", limit=70, offset=offset)
        assert page.total == 600
        seen += [r[1] for r in page.rows]
        if len(page.rows) < 70:
            break
        offset += 70
    assert seen == sorted(seen) and len(set(seen)) == 600


def test_keyset_paging_is_bisect_and_complete(store: Store) -> None:
    seen: list[str] = []
    last = ""
    while True:
        query = "state!=8^ORDERBYsys_id" if not last else f"state!=8^sys_id>{last}^ORDERBYsys_id"
        page = store.select("incident", query, limit=50)
        seen += [r[0] for r in page.rows]
        if len(page.rows) < 50:
            break
        last = page.rows[-1][0]
    expected = sorted(r["sys_id"] for r in all_incidents(store) if r["state"] != "8")
    assert seen == expected


def test_keyset_condition_split_from_cache_key() -> None:
    rest, keyset = extract_keyset(parse("state=1^sys_id>abc^ORDERBYsys_id"))
    assert keyset == Condition("sys_id", ">", "abc")
    assert rest.conditions() == [Condition("state", "=", "1")]
    assert extract_keyset(parse("sys_id>abc^ORstate=1"))[1] is None
    assert extract_keyset(parse("sys_id>abc^NQstate=1"))[1] is None
    assert extract_keyset(parse("state=1^sys_id>abc^NQstate=2^sys_id>abd"))[1] is None


def test_the_same_keyset_in_every_group_is_one_bisect(store: Store) -> None:
    """`a^k^NQb^k` is `(a OR b) AND k`: split off once, the same rows as filtering each group."""
    rest, keyset = extract_keyset(parse("state=1^sys_id>abc^NQstate=2^sys_id>abc"))
    assert keyset == Condition("sys_id", ">", "abc")
    assert rest.conditions() == [Condition("state", "=", "1"), Condition("state", "=", "2")]
    pivot = sorted(r[0] for r in store.tables["incident"].rows)[100]
    page = store.select("incident", f"state=1^sys_id>{pivot}^NQstate=2^sys_id>{pivot}"
                        "^ORDERBYsys_id", limit=10_000)
    expected = sorted(r["sys_id"] for r in all_incidents(store)
                      if r["state"] in ("1", "2") and r["sys_id"] > pivot)
    assert [r[0] for r in page.rows] == expected and page.total == len(expected)


def test_keyset_with_other_order_filters(store: Store) -> None:
    pivot = sorted(r[0] for r in store.tables["incident"].rows)[300]
    page = store.select("incident", f"sys_id>{pivot}^ORDERBYnumber")
    assert page.total == 299
    got = [r[1] for r in page.rows]
    assert got == sorted(got)


def test_plain_filters_and_labels(store: Store) -> None:
    closed = store.select("incident", filters=[("state", "7")]).total
    assert closed == len(expect(store, lambda r: r["state"] == "7"))
    assert store.select("incident", filters=[("state", "Closed")]).total == closed
    both = store.select("incident", "priority=4", filters=[("state", "7")]).total
    assert both == len(expect(store, lambda r: r["state"] == "7" and r["priority"] == "4"))


def test_cache_invalidated_by_writes(store: Store) -> None:
    before = store.select("incident_task", "state=1").total
    row = store.insert("incident_task", {"short_description": "cache check"})
    assert store.select("incident_task", "state=1").total == before + 1
    store.update("incident_task", row[0], {"state": "3"})
    assert store.select("incident_task", "state=1").total == before
    assert store.delete("incident_task", row[0])
