"""Choice labels, state models and references as exports give them, and what the file source
says about values it cannot read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, load_field_map
from sms_conformance.connectors.servicenow.file import FileConnector
from sms_conformance.connectors.servicenow.query import compile_scopes
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import NamedRef, Process, Ref, Unknown, Value

SYS_ID = "46d44a5dc0a8010e00a2d6a2c2a7f2b4"


def read(fieldmap: FieldMap, process: str, row: dict[str, Any], display: bool = True
         ) -> dict[str, Value]:
    pmap = fieldmap.for_process(process)
    names = {n for n, s in pmap.fields.items() if s.field in row}
    return pmap.to_canonical(row, names, display)


@pytest.mark.parametrize(("process", "row", "expected"), [
    ("incident", {"state": "Closed"}, {"state": "closed"}),
    ("incident", {"state": "in progress"}, {"state": "in_progress"}),
    ("incident", {"state": "ON HOLD", "hold_reason": "awaiting vendor"},
     {"state": "on_hold", "hold_reason": "awaiting_vendor"}),
    ("incident", {"impact": "1 - High", "urgency": "3 - Low", "priority": "5 - Planning"},
     {"impact": 1, "urgency": 3, "priority": 5}),
    ("change", {"approval": "Approved", "type": "Emergency", "risk": "High", "state": "Implement"},
     {"approval": "approved", "type": "emergency", "risk": 2, "state": "implement"}),
    ("change", {"approval": "Not Yet Requested", "close_code": "Successful with issues"},
     {"approval": "not requested", "resolution_code": "successful_issues"}),
    ("problem", {"state": "Root Cause Analysis", "resolution_code": "Fix Applied"},
     {"state": "root_cause_analysis", "resolution_code": "fix_applied"}),
])
def test_out_of_the_box_labels_read_as_stored_values_whatever_their_case(
    fieldmap: FieldMap, process: str, row: dict[str, Any], expected: dict[str, Value]
) -> None:
    assert read(fieldmap, process, row) == expected


def test_display_value_all_pairs_read_their_stored_value(fieldmap: FieldMap) -> None:
    row = {"state": {"display_value": "Closed", "value": "7"},
           "caller_id": {"display_value": "Beth Anglin", "value": SYS_ID, "link": "x"}}
    assert read(fieldmap, "incident", row) == {"state": "closed",
                                               "reporter": Ref("user", SYS_ID)}


@pytest.mark.parametrize(("state", "canonical"), [
    ("1", "new"), ("2", "fix_in_progress"), ("3", "fix_in_progress"), ("4", "closed"),
    ("101", "new"), ("103", "root_cause_analysis"), ("107", "closed"),
    ("Known Error", "fix_in_progress"), ("Closed/Resolved", "closed"), ("Open", "new"),
])
def test_both_problem_state_models_are_read(fieldmap: FieldMap, state: str, canonical: str) -> None:
    assert read(fieldmap, "problem", {"state": state}, display=False)["state"] == canonical


def test_a_scope_asks_for_every_stored_value_of_a_state(fieldmap: FieldMap) -> None:
    problem = fieldmap.for_process(Process.PROBLEM)
    assert compile_scopes([{"state": ("closed",)}], problem) == (("stateIN107,4",),)


def test_an_unmatched_state_is_unknown_with_the_value_in_the_reason(fieldmap: FieldMap) -> None:
    for display in (False, True):
        state = read(fieldmap, "incident", {"state": "9"}, display)["state"]
        assert isinstance(state, Unknown) and "'9'" in state.reason
        assert "labels" in state.reason


def test_an_unlisted_stored_value_is_kept_but_an_unlisted_label_is_unknown(
    fieldmap: FieldMap
) -> None:
    assert read(fieldmap, "change", {"approval": "cancelled"}, display=False) == {
        "approval": "cancelled"}
    assert isinstance(read(fieldmap, "change", {"approval": "Pre-approved"})["approval"], Unknown)
    assert read(fieldmap, "incident", {"impact": "4"}) == {"impact": 4}
    assert isinstance(read(fieldmap, "incident", {"impact": "4 - Trivial"})["impact"], Unknown)


def test_references_by_sys_id_link_or_name(fieldmap: FieldMap) -> None:
    link = f"https://x.service-now.com/api/now/table/sys_user/{SYS_ID}"
    assert read(fieldmap, "incident", {"caller_id": {"display_value": "Beth", "link": link}}) == {
        "reporter": Ref("user", SYS_ID)}
    assert read(fieldmap, "incident", {"caller_id": "Beth Anglin"}) == {
        "reporter": NamedRef("user", "Beth Anglin")}
    assert read(fieldmap, "incident", {"caller_id": {"display_value": "Beth Anglin"}}) == {
        "reporter": NamedRef("user", "Beth Anglin")}
    assert read(fieldmap, "incident", {"caller_id": SYS_ID}) == {"reporter": Ref("user", SYS_ID)}
    # A live instance returns stored values: its ids are ids, whatever they look like.
    assert read(fieldmap, "incident", {"caller_id": "u1"}, display=False) == {
        "reporter": Ref("user", "u1")}


def test_an_organisations_labels_add_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "fieldmap.yaml"
    path.write_text("incident:\n  fields:\n    state:\n      labels: {Work in Progress: '2'}\n")
    fieldmap = load_field_map(path)
    assert read(fieldmap, "incident", {"state": "work in progress"}) == {"state": "in_progress"}
    assert read(fieldmap, "incident", {"state": "Closed"}) == {"state": "closed"}
    path.write_text("incident:\n  fields:\n    state:\n      labels: {Parked: '42'}\n")
    with pytest.raises(ConfigError, match="'42', which is not a stored value"):
        load_field_map(path)


# -- the file source ---------------------------------------------------------------------------

def rows(*states: str) -> list[dict[str, str]]:
    return [{"sys_id": f"{i:032x}", "number": f"INC{i:07d}", "state": s, "short_description": "x"}
            for i, s in enumerate(states, 1)]


def fetch(tmp_path: Path, fieldmap: FieldMap, body: Any, name: str = "incident.json"
          ) -> tuple[list[Any], FileConnector]:
    (tmp_path / name).write_bytes(body if isinstance(body, bytes) else orjson.dumps(body))
    connector = FileConnector(tmp_path, fieldmap)
    request = FetchRequest(Process.INCIDENT, (), frozenset({"state", "short_description"}))
    return list(connector.fetch(request)), connector


def test_unreadable_states_are_counted_and_named_in_a_notice(
    tmp_path: Path, fieldmap: FieldMap
) -> None:
    records, connector = fetch(tmp_path, fieldmap, {"result": rows("1", "7", "9", "")})
    assert len(records) == 4, "no record is dropped (half is not most)"
    [notice] = [n for n in connector.notices if "maps to no incident state" in n]
    assert "the state of 2 of 4" in notice and "'9'" in notice and "1 empty" in notice


@pytest.mark.parametrize(("body", "why"), [
    ({"result": rows("Work in progress", "Parked", "7")}, "'Work in progress', 'Parked'"),
    ({"result": [{"sys_id": f"{i:032x}", "number": f"INC{i}"} for i in range(3)]},
     "3 without a state column"),
])
def test_most_states_unreadable_exits_2_instead_of_a_clean_pass(
    tmp_path: Path, fieldmap: FieldMap, body: Any, why: str
) -> None:
    with pytest.raises(ConfigError, match="most records cannot be scoped") as error:
        fetch(tmp_path, fieldmap, body)
    assert why in str(error.value) and "incident.json" in str(error.value)


def test_unreadable_choice_values_are_named_by_field_with_examples(
    tmp_path: Path, fieldmap: FieldMap
) -> None:
    body = {"result": [{**r, "hold_reason": "Awaiting Parts"} for r in rows("3", "3", "1")]}
    (tmp_path / "incident.json").write_bytes(orjson.dumps(body))
    connector = FileConnector(tmp_path, fieldmap)
    request = FetchRequest(Process.INCIDENT, (), frozenset({"state", "hold_reason"}))
    records = list(connector.fetch(request))
    assert all(isinstance(r.fields["hold_reason"], Unknown) for r in records)
    [notice] = [n for n in connector.notices if "hold_reason" in n]
    assert "3 of 3 records could not be read" in notice and "'Awaiting Parts'" in notice


def test_a_list_view_json_export_is_read(tmp_path: Path, fieldmap: FieldMap) -> None:
    records, _ = fetch(tmp_path, fieldmap, {"records": rows("1", "6")})
    assert [r.fields["state"] for r in records] == ["new", "resolved"]


def test_an_export_without_sys_ids_is_known_by_number_and_cannot_be_linked_to(
    tmp_path: Path, fieldmap: FieldMap
) -> None:
    csv = "number,state,short_description\nINC1,New,a\nINC2,Closed,b\n"
    records, connector = fetch(tmp_path, fieldmap, csv.encode(), "incident.csv")
    assert [(r.id, r.number, r.fields["state"]) for r in records] == [
        ("INC1", "INC1", "new"), ("INC2", "INC2", "closed")]
    assert any("carries no sys_id" in n for n in connector.notices)
    with pytest.raises(NotRead, match="carries no sys_id"):
        connector.resolve([Ref("incident", "INC1")])
