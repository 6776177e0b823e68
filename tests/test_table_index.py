"""The local join's compact index and referrer tallies answer exactly as plain dicts would."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.base import ConnectorDefaults
from sms_conformance.engine import links as links_module
from sms_conformance.engine.links import KnownRecords, LinkResolver, TableIndex
from sms_conformance.model.records import Process, Ref
from sms_conformance.scan.scanner import OWNER_FIELD
from tests.conftest import make_record


def hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def test_a_compact_index_finds_what_a_dict_of_the_same_records_finds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links_module, "DICT_RECORDS", 3)
    rng = random.Random(1)
    ascending = sorted(hex_id(rng) for _ in range(200))
    twin = ascending[150][:16] + "0" * 15 + "1"  # the same high half as the next id
    puts = [(i, rng.choice(["new", "closed", None])) for i in ascending[:150]]
    puts += [(twin, "closed"), *((i, "new") for i in ascending[150:])]
    puts += [
        (ascending[10], "resolved"),  # the same id again: the last put wins
        (ascending[5].upper(), "closed"),  # not lowercase: another id, kept apart
        ("p1", "new"),  # not hexadecimal
        (hex_id(rng), "closed"),  # out of order
    ]
    index = TableIndex("problem", KnownRecords(10, {"state"}, "servicenow", "x"),
                       datetime.now(timezone.utc))
    expected: dict[str, object] = {}
    for record_id, state in puts:
        index.put(make_record("problem", "PRB", record_id, state=state))
        expected[record_id] = state
    assert len(index.high) > 100  # most ids are held compact
    for record_id, state in expected.items():
        found = index.get(Ref("problem", record_id))
        assert found is not None and found.fields.get("state") == state
    absent = [hex_id(rng) for _ in range(50)] + [ascending[7].upper(), "0x" + ascending[8][2:],
                                                 ascending[9][:31], ""]
    for record_id in absent:
        assert record_id not in index and index.get(Ref("problem", record_id)) is None


def test_tallied_referrers_of_hexadecimal_ids_are_counted_and_dropped_once_read() -> None:
    class Source(ConnectorDefaults):
        platform, instance = "servicenow", "https://example.test"

    source = Source()
    links = LinkResolver(source, ConfigDir(None).rules(),  # type: ignore[arg-type]
                         extra_refs=(OWNER_FIELD,))
    rng = random.Random(2)
    problems = [hex_id(rng), hex_id(rng), "p1"]
    for number, problem in enumerate([*problems, problems[0], problems[2]]):
        links.tally(make_record("incident", f"INC{number}", f"i{number}",
                                problem=Ref("problem", problem)))
    links.tallied_all("incident")
    counts = [links.referrers(Process.INCIDENT, "problem", p) for p in problems]
    assert counts == [2, 1, 2]
    assert links.referrers(Process.INCIDENT, "problem", hex_id(rng)) == 0
    links.done(make_record("problem", "PRB1", problems[0]))
    assert links.tallies[("incident", "problem")] == {int(problems[1], 16): 1, "p1": 2}
