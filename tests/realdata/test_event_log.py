"""The UCI incident event log as people would export its final states, and CSV encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli

HERE = Path(__file__).parent
EVENT_LOG = HERE / "uci_event_log" / "incident.csv"
LIST_CSV = HERE / "list_export_csv_priyaroy" / "incident.csv"
# The event log's own names and formats (SOURCES.md): day-first dates without seconds, the
# state in incident_state with its own labels, the close code in closed_code.
UCI_MAP = """\
date_format: d/M/yyyy HH:mm
incident:
  fields:
    state:
      field: incident_state
      labels: {Active: "2", Awaiting User Info: "3"}
    updated_at: {field: sys_updated_at}
    resolution_code: {field: closed_code}
    made_sla: {field: made_sla, type: bool}
"""


def final_states(directory: Path) -> Path:
    """One row per incident, its last update: the event log's lines kept byte for byte."""
    lines = EVENT_LOG.read_text(encoding="utf-8").splitlines(keepends=True)
    last = {line.split(",", 1)[0]: line for line in lines[1:]}
    directory.mkdir(parents=True)
    (directory / "incident.csv").write_text(lines[0] + "".join(last.values()), encoding="utf-8")
    return directory


def run(directory: Path, tmp_path: Path, fieldmap: str | None, name: str) -> tuple[int, str, dict]:
    args = ["scan", "--source", f"file:{directory}", "--history", str(tmp_path / f"{name}.sqlite"),
            "--format", "json", "--output", str(tmp_path / f"{name}.json")]
    if fieldmap is not None:
        config = tmp_path / f"{name}-config"
        config.mkdir()
        (config / "fieldmap.yaml").write_text(fieldmap, encoding="utf-8")
        args += ["--config", str(config)]
    result = CliRunner().invoke(cli, args)
    report = tmp_path / f"{name}.json"
    return result.exit_code, result.output, json.loads(report.read_text()) if report.exists() else {}


def counts(report: dict) -> dict[str, tuple[int, int, int]]:
    return {r["rule_id"]: (r["passed"], r["failed"], r["unknown"]) for r in report["summary"]["rules"]}


def test_a_state_column_under_another_name_is_named_with_the_fix(tmp_path: Path) -> None:
    """bad input: the event log's final states, the state in incident_state; outcome: exit 2
    naming the column and the field-map entry that maps it, not "add labels"."""
    code, output, _ = run(final_states(tmp_path / "export"), tmp_path, None, "plain")
    assert code == 2, output
    assert "the incident_state column holds incident states (e.g. 'Closed', 'Active')" in output
    assert "incident: {fields: {state: {field: incident_state}}}" in output
    assert "labels" not in output.split("holds")[1].split("(its")[0]


def test_a_field_override_keeps_the_default_labels(tmp_path: Path) -> None:
    """`state: {field: incident_state}` with two labels of its own still reads the default
    labels ('Closed' is 31 of the 32 final states)."""
    code, output, report = run(final_states(tmp_path / "export"), tmp_path, UCI_MAP, "mapped")
    assert code == 0, output
    assert counts(report)["incident.closure.closed_at"] == (31, 0, 0)


def test_missing_value_markers_read_as_empty(tmp_path: Path) -> None:
    """The event log writes "?" for a missing value. Read as a value, a '?' CI passes
    service_or_ci and a '?' resolved_at is an unreadable date; with missing_values: ["?"] the
    CI is empty (unknown: the export has no business_service column) and the incident closed
    without a resolution time fails."""
    export = final_states(tmp_path / "export")
    _, _, plain = run(export, tmp_path, UCI_MAP, "plain")
    code, output, marked = run(export, tmp_path, UCI_MAP + 'missing_values: ["?"]\n', "marked")
    assert code == 0, output
    before, after = counts(plain), counts(marked)
    assert before["incident.logging.service_or_ci"] == (32, 0, 0)
    assert after["incident.logging.service_or_ci"] == (0, 0, 32)
    assert before["incident.resolution.resolved_at"] == (30, 0, 1)
    assert after["incident.resolution.resolved_at"] == (30, 1, 0)
    # '?' as a problem reference was a name that could not be followed; now no problem is set.
    assert before["incident.links.problem_exists"] == (0, 0, 32)
    assert after["incident.links.problem_exists"] == (23, 0, 9)


def copy_in(directory: Path, data: bytes) -> Path:
    directory.mkdir(parents=True)
    (directory / "incident.csv").write_bytes(data)
    return directory


# The real list export with accented and typographic characters in one short description,
# as an Excel user's file would hold them.
ACCENTED = LIST_CSV.read_text(encoding="utf-8").replace(
    '"ATF : Test1"', '"Réseau – café à l’étage"', 1)


@pytest.mark.parametrize(("encoding", "declared"), [
    ("utf-8-sig", None), ("utf-16", None), ("cp1252", None), ("cp1252", "cp1252")])
def test_an_encoded_copy_gives_the_same_findings_as_utf8(tmp_path: Path, encoding: str,
                                                        declared: str | None) -> None:
    assert "Réseau" in ACCENTED
    _, _, utf8 = run(copy_in(tmp_path / "utf8", ACCENTED.encode()), tmp_path, None, "utf8")
    fieldmap = f"encoding: {declared}\n" if declared else None
    code, output, other = run(copy_in(tmp_path / "other", ACCENTED.encode(encoding)), tmp_path,
                              fieldmap, "other")
    assert code == 0, output
    assert counts(other) == counts(utf8)
    fails = [(f["rule_id"], f["number"], f["status"]) for f in other["findings"]]
    assert fails == [(f["rule_id"], f["number"], f["status"]) for f in utf8["findings"]]
    guessed = [n for n in other["scan"]["notices"] if "read as Windows-1252" in n]
    assert len(guessed) == (encoding == "cp1252" and declared is None)


def test_an_undecodable_csv_is_refused_with_the_true_offset_and_line(tmp_path: Path) -> None:
    """bad input: the list export with byte 0x81 (neither UTF-8 nor Windows-1252) deep in
    line 40; outcome: exit 2 naming that byte's offset and line and the encoding option."""
    data = LIST_CSV.read_bytes()
    lines = data.split(b"\n")
    offset = sum(len(line) + 1 for line in lines[:39]) + 2
    bad = data[:offset] + b"\x81" + data[offset + 1:]
    code, output, _ = run(copy_in(tmp_path / "bad", bad), tmp_path, None, "bad")
    assert code == 2, output
    assert f"at byte {offset:,} of the file, line 40" in output
    assert "encoding:" in output and "cp1252" in output


def test_the_instances_own_sla_outcome_decides_restore_targets(tmp_path: Path) -> None:
    """The event log carries made_sla: of the 31 closed incidents the instance says 25 met
    the SLA and 6 did not; the calendar targets no longer decide where the instance has (they
    failed 22)."""
    export = final_states(tmp_path / "export")
    _, output, report = run(export, tmp_path, UCI_MAP + 'missing_values: ["?"]\n', "sla")
    passed, failed, unknown = counts(report)["incident.restore.within_target"]
    assert (passed, failed, unknown) == (25, 6, 0), output


def test_the_instances_own_priority_matrix_configured_decides(tmp_path: Path) -> None:
    """The event log's instance prioritises impact 3 x urgency 3 as 4 (every priority.matrix
    failure of the full log is that combination): on the default matrix the sample's three
    such incidents fail, with that instance's matrix configured none does, and the findings
    and the notice name the matrix that decided."""
    export = final_states(tmp_path / "export")
    _, _, default = run(export, tmp_path, UCI_MAP, "default")
    fails = [f for f in default["findings"] if f["rule_id"] == "incident.priority.matrix"]
    assert {tuple(sorted(f["observed"].items())) for f in fails} == {
        (("impact", "3"), ("priority", "4"), ("urgency", "3"))}
    assert {f["detail"] for f in fails} == {
        "decided by the default matrix (ServiceNow's out-of-the-box lookup)"}
    config = tmp_path / "own-config"
    config.mkdir()
    (config / "fieldmap.yaml").write_text(UCI_MAP, encoding="utf-8")
    (config / "settings.yaml").write_text("priority_matrix: {3: {3: 4}}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{export}", "--history", str(tmp_path / "own.sqlite"),
        "--format", "json", "--output", str(tmp_path / "own.json"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    own = json.loads((tmp_path / "own.json").read_text())
    assert counts(own)["incident.priority.matrix"] == (32, 0, 0)
    assert [n for n in own["scan"]["notices"] if n.startswith(
        "priority matrix: the configured matrix (settings priority_matrix) decides incident "
        "priority checks (dl_u_priority.json was not exported")]


def test_major_incidents_by_priority_alone_where_the_field_map_declares_no_flag(
        tmp_path: Path) -> None:
    """The event log has no major_incident_state column (no Major Incident plugin): the
    resolved or closed incidents without a problem, none P1, are unknown under the default
    map (22 of 31; the 9 with a problem pass either way); declared
    absent in the field map (`unmapped: [major_incident]`), priority 1 alone decides, and
    every one is decided."""
    export = final_states(tmp_path / "export")
    _, _, plugin = run(export, tmp_path, UCI_MAP + 'missing_values: ["?"]\n', "plugin")
    assert counts(plugin)["incident.major.problem_linked"] == (9, 0, 22)
    absent = UCI_MAP.replace("incident:\n", "incident:\n  unmapped: [major_incident]\n", 1)
    code, output, decided = run(export, tmp_path, absent + 'missing_values: ["?"]\n', "p1")
    assert code == 0, output
    assert counts(decided)["incident.major.problem_linked"] == (31, 0, 0)


# The event log's own flag column stands in for a site's major incident flag: true on 2 of the
# closed incidents without a problem, none of them P1.
FLAG_MAP = UCI_MAP + """\
    major_incident:
      field: u_priority_confirmation
      choices: {accepted: "true", rejected: "false"}
missing_values: ["?"]
"""


def with_one_p1(export: Path) -> Path:
    """The final states with one closed P3 incident, not flagged and without a problem, raised
    to priority 1 (the sample has no P1): the case where "flag alone" and "P1 or flag" differ."""
    path = export / "incident.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines)
              if ",Closed," in line and ",3 - Moderate," in line and ",false,Do Not Notify,?," in line)
    lines[at] = lines[at].replace(",3 - Moderate,", ",1 - Critical,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    return export


@pytest.mark.parametrize(("by", "failed"), [("either", 3), ("flag", 2), ("priority", 1)])
def test_major_incident_by_decides_which_incidents_are_major(
        tmp_path: Path, by: str, failed: int) -> None:
    """`major_incident_by` in settings.yaml, the site's flag mapped: either (the default) fails
    the two flagged incidents without a problem and the P1 one; flag the two flagged only (the
    P1 is not major); priority the P1 only."""
    export = with_one_p1(final_states(tmp_path / "export"))
    config = tmp_path / f"{by}-config"
    config.mkdir()
    (config / "fieldmap.yaml").write_text(FLAG_MAP, encoding="utf-8")
    (config / "settings.yaml").write_text(f"major_incident_by: {by}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{export}", "--history", str(tmp_path / f"{by}.sqlite"),
        "--format", "json", "--output", str(tmp_path / f"{by}.json"), "--config", str(config)])
    assert result.exit_code in (0, 1), result.output
    report = json.loads((tmp_path / f"{by}.json").read_text())
    assert counts(report)["incident.major.problem_linked"] == (31 - failed, failed, 0)
    fails = {f["number"] for f in report["findings"]
             if f["rule_id"] == "incident.major.problem_linked"}
    assert len(fails) == failed


def test_major_incidents_by_a_flag_the_field_map_declares_absent_switch_the_rule_off(
        tmp_path: Path) -> None:
    """bad input: `major_incident_by: flag` with `unmapped: [major_incident]` (no flag to
    decide by); outcome: the rule is off, `rules list` saying to map the field, not passed
    on every incident."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "fieldmap.yaml").write_text("incident:\n  unmapped: [major_incident]\n")
    (config / "settings.yaml").write_text("major_incident_by: flag\n")
    listed = CliRunner().invoke(cli, ["rules", "list", "--config", str(config)])
    line = listed.output.split("incident.major.problem_linked", 1)[1].splitlines()[1]
    assert "OFF: off until major_incident is mapped to a field of incident" in line
    (config / "settings.yaml").write_text("major_incident_by: either\n")
    listed = CliRunner().invoke(cli, ["rules", "list", "--config", str(config)])
    assert "OFF" not in listed.output.split("incident.major.problem_linked", 1)[1].splitlines()[1]
