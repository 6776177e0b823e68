"""Scope -> encoded query compilation, keyset page queries, and injection refusal."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, ProcessMap
from sms_conformance.connectors.servicenow.query import (
    EVERYTHING,
    NOTHING,
    check_field,
    compile_scopes,
    condition,
    page_query,
)
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import Process, Ref


@pytest.fixture
def incident(fieldmap: FieldMap) -> ProcessMap:
    return fieldmap.for_process(Process.INCIDENT)


def test_values_are_mapped_to_stored_values(incident: ProcessMap) -> None:
    assert compile_scopes([{"state": ("closed",)}], incident) == (("state=7",),)
    assert compile_scopes([{"state": ("resolved", "closed")}], incident) == (("stateIN6,7",),)
    assert compile_scopes([{"priority": (1,)}], incident) == (("priority=1",),)
    ref = Ref("problem", "abc123")
    assert compile_scopes([{"problem": (ref,)}], incident) == (("problem_id=abc123",),)


def test_fields_in_a_scope_are_anded_and_scopes_ored(incident: ProcessMap) -> None:
    filter_ = compile_scopes(
        [{"state": ("closed",), "priority": (1, 2)}, {"state": ("canceled",)}], incident
    )
    assert filter_ == (("priorityIN1,2", "state=7"), ("state=8",))
    assert page_query(filter_) == "priorityIN1,2^state=7^NQstate=8^ORDERBYsys_id"


def test_empty_scope_means_everything_and_no_values_means_nothing(incident: ProcessMap) -> None:
    assert compile_scopes([], incident) == EVERYTHING
    assert compile_scopes([{"state": ("closed",)}, {}], incident) == EVERYTHING
    assert compile_scopes([{"state": ()}], incident) == NOTHING
    assert page_query(EVERYTHING) == "ORDERBYsys_id"
    assert page_query(EVERYTHING, after="abc") == "sys_id>abc^ORDERBYsys_id"


def test_none_means_empty(incident: ProcessMap) -> None:
    assert condition("close_notes", [None]) == "close_notesISEMPTY"
    assert condition("close_code", ["a", None]) == "close_code=a^ORclose_codeISEMPTY"


def test_keyset_and_since_go_into_every_nq_group(incident: ProcessMap) -> None:
    filter_ = compile_scopes([{"state": ("closed",)}, {"state": ("canceled",)}], incident)
    since = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert page_query(filter_, after="0af3", since=since) == (
        "state=7^sys_updated_on>=2024-01-02 03:04:05^sys_id>0af3"
        "^NQstate=8^sys_updated_on>=2024-01-02 03:04:05^sys_id>0af3^ORDERBYsys_id"
    )


def test_values_with_commas_use_ored_equalities(incident: ProcessMap) -> None:
    scope = {"resolution_code": ("Solved (Work Around)", "Closed, by caller")}
    assert compile_scopes([scope], incident) == (
        ("close_code=Solved (Work Around)^ORclose_code=Closed, by caller",),
    )


@pytest.mark.parametrize(
    "value", ["x^NQactive=true", "x^ORactive=true", "7^NQ", "a\nb", "a\rb", "^"]
)
def test_values_that_could_change_the_query_are_refused(
    incident: ProcessMap, value: str
) -> None:
    with pytest.raises(ConfigError, match="no escape"):
        compile_scopes([{"resolution_code": (value,)}], incident)


@pytest.mark.parametrize("value", ["javascript:gs.getUserID()", " JavaScript:1"])
def test_script_values_are_refused(incident: ProcessMap, value: str) -> None:
    with pytest.raises(ConfigError, match="script values"):
        compile_scopes([{"resolution_code": (value,)}], incident)


@pytest.mark.parametrize("name", ["state^NQactive", "State", "u field", "a=b", "", "sys_id>x"])
def test_bad_field_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="field name"):
        check_field(name)


def test_a_field_map_entry_cannot_smuggle_a_query(fieldmap: FieldMap) -> None:
    data = fieldmap.model_dump()
    data["processes"][Process.INCIDENT]["fields"]["category"]["field"] = "category=x^NQactive"
    with pytest.raises(ValidationError, match="category.field"):  # refused when the map loads
        FieldMap.model_validate(data)
    # and by the connector, should one get through (model_copy does not validate)
    incident = fieldmap.for_process(Process.INCIDENT)
    spec = incident.fields["category"].model_copy(update={"field": "category=x^NQactive"})
    evil = incident.model_copy(update={"fields": {**incident.fields, "category": spec}})
    with pytest.raises(ConfigError):
        compile_scopes([{"category": ("x",)}], evil)


def test_unmapped_canonical_field_is_a_config_error(incident: ProcessMap) -> None:
    with pytest.raises(ConfigError, match="no field map entry"):
        compile_scopes([{"no_such_field": ("x",)}], incident)


def test_injection_cannot_widen_a_scan(connector: ServiceNowConnector, fake: tuple) -> None:
    """A hostile value is refused before any request, so it cannot reach the instance."""
    instance, server = fake
    instance.add("incident", state="7", close_code="x")
    instance.add("incident", state="1", close_code="y", active="true")
    for value in ("x^NQactive=true", "x^ORactive=true"):
        request = FetchRequest(
            Process.INCIDENT, ({"resolution_code": (value,)},), frozenset({"state"})
        )
        with pytest.raises(ConfigError):
            list(connector.fetch(request))
    assert server.requests == []
    # A legitimate value is sent verbatim and matches only its own record.
    request = FetchRequest(Process.INCIDENT, ({"resolution_code": ("x",)},), frozenset({"state"}))
    assert [r.fields["state"] for r in connector.fetch(request)] == ["closed"]
