"""The canonical schema belongs to the core: rules are valid against it on every platform, and
a platform's map only says which of its fields it fills."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.servicenow.fieldmap import load_field_map
from sms_conformance.model.errors import ConfigFileError, RuleError
from sms_conformance.model.records import Ref
from sms_conformance.model.schema import LINKS, SCHEMA, Process
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from tests.connectors.acme.fieldmap import AcmeMap


def test_every_servicenow_field_map_entry_is_a_canonical_field_of_the_same_type() -> None:
    fieldmap = load_field_map()
    for process, pmap in fieldmap.processes.items():
        for name, spec in pmap.fields.items():
            assert SCHEMA[process][name].type == spec.type, f"{process.value}.{name}"


def test_links_between_processes_come_from_the_schema() -> None:
    assert LINKS[(Process.INCIDENT, "problem")] is Process.PROBLEM
    assert LINKS[(Process.PROBLEM, "fixed_by_change")] is Process.CHANGE
    assert (Process.INCIDENT, "assignment_group") not in LINKS  # a group is no process


def test_servicenow_references_carry_canonical_kinds() -> None:
    incident = load_field_map().for_process("incident")
    row = {"caller_id": "a" * 32, "rfc": "b" * 32, "assignment_group": "c" * 32,
           "cmdb_ci": "d" * 32}
    assert incident.to_canonical(row, {"reporter", "fixed_by_change", "assignment_group",
                                       "configuration_item"}) == {
        "reporter": Ref("user", "a" * 32), "fixed_by_change": Ref("change", "b" * 32),
        "assignment_group": Ref("group", "c" * 32),
        "configuration_item": Ref("configuration_item", "d" * 32)}


def test_the_built_in_pack_loads_on_a_platform_that_fills_few_fields() -> None:
    """Validity is the schema's: on Acme (incident basics only) every rule still loads, and
    those reading what Acme does not fill are off with Acme's reason."""
    rules = load_rules([builtin_pack_dir()], AcmeMap(), load_settings(), include_off=True)
    on_servicenow = load_rules([builtin_pack_dir()], load_field_map(), load_settings(),
                               include_off=True)
    assert {r.id for r in rules} == {r.id for r in on_servicenow}
    off = {r.id: r.off_reason for r in rules if r.off_reason}
    assert "incident.priority.matrix" not in off
    assert off["problem.rca.root_cause"].startswith("off: Acme has no ")


def test_a_rule_reading_a_field_outside_the_schema_is_refused(tmp_path: Path) -> None:
    """bad input: a rule reading incident.u_custom (mapped nowhere, in no schema); outcome:
    exit 2 at its line, whatever the platform."""
    (tmp_path / "org.custom.yaml").write_text(
        "id: org.custom\ntitle: Custom field is set\nclause: '8.6.1'\nprocess: incident\n"
        "severity: low\nwhy: Our own field.\nremediation: Set it.\nmessage: '{number} lacks it'\n"
        "check:\n  - {field: u_custom, present: true}\n")
    for platform_map in (load_field_map(), AcmeMap()):
        with pytest.raises(RuleError, match="unknown field 'u_custom' for incident .not in the "
                                            "canonical schema") as caught:
            load_rules([tmp_path], platform_map, load_settings())
        assert caught.value.line == 10


@pytest.mark.parametrize(("entry", "problem"), [
    ("u_custom: {field: u_custom}", "not a canonical field of incident"),
    ("impact: {field: u_impact, type: str}", "type str, but the canonical field is int"),
    ("vendor_ticket: {field: u_vendor_ticket}", "not a canonical field of incident"),
])
def test_a_field_map_entry_outside_the_schema_is_refused_at_its_line(
        tmp_path: Path, entry: str, problem: str) -> None:
    """bad input: config/fieldmap.yaml maps a non-canonical field, or a canonical one with
    another type; outcome: exit 2 at that entry's line."""
    path = tmp_path / "fieldmap.yaml"
    path.write_text(f"incident:\n  fields:\n    state: {{labels: {{Parked: '3'}}}}\n    {entry}\n")
    with pytest.raises(ConfigFileError) as caught:
        load_field_map(path)
    assert caught.value.line == 4 and problem in str(caught.value)
