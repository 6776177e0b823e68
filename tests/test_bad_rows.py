"""Bad rows stop the scan with one line naming the file (or table) and the row: exit 2 for an
export on disk, exit 3 for a live instance; never a traceback, never exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from tests.connectors.snow_fakes import Req, Resp, StubServer

ID_A, ID_B = "a" * 32, "b" * 32


def row(sys_id: str = ID_A, number: str = "INC0000001", **fields: str) -> dict[str, str]:
    return {"sys_id": sys_id, "number": number, "state": "1", **fields}


def scan(*args: str, tmp_path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scan", *args, "--history", str(tmp_path / "h.sqlite")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def scan_files(tmp_path: Path, name: str, content: str | bytes) -> tuple[int, str]:
    directory = tmp_path / "exports"
    directory.mkdir()
    data = content.encode() if isinstance(content, str) else content
    (directory / name).write_bytes(data)
    return scan("--source", f"file:{directory}", tmp_path=tmp_path)


def table_api(*rows: Any, key: str = "result") -> bytes:
    return orjson.dumps({key: list(rows)})


@pytest.mark.parametrize(("content", "message"), [
    (table_api(row(), None), "incident.json: result[1] is null, not a record"),
    (table_api(row(), "INC0000002"), "incident.json: result[1] is str, not a record"),
    (table_api(row(), [1, 2]), "incident.json: result[1] is list, not a record"),
    (table_api(row(), row(sys_id="", number="INC0000002")), "result[1] has no sys_id"),
    (table_api(row(), {"number": "INC0000002", "state": "1"}), "result[1] has no sys_id"),
    (table_api(row(), row(sys_id=ID_B, number="")), "result[1] has no number"),
    (table_api(row(), row(ID_B, "INC0000002"), row(number="INC0000003")),
     f"result[2] repeats sys_id {ID_A} of result[0]"),
    (table_api(row(), None, key="records"), "incident.json: records[1] is null, not a record"),
    (table_api({"number": "INC1"}, {"number": "INC1"}), "result[1] repeats number INC1 of result[0]"),
    (b'[{"sys_id": "x"}]', 'expected {"result": [...]} (Table API) or {"records": [...]}'),
])
def test_a_bad_row_in_a_json_export_exits_2_naming_file_and_row(
    tmp_path: Path, content: bytes, message: str
) -> None:
    code, out = scan_files(tmp_path, "incident.json", content)
    assert code == 2, out
    assert message in out and out.startswith("error: ")
    assert "Traceback" not in out


@pytest.mark.parametrize(("content", "message"), [
    (f"sys_id,number,state\n{ID_A},INC1,1\n{ID_B},INC2\n", "line 3 has fewer values"),
    (f"sys_id,number,state\n{ID_A},INC1,1,extra\n", "line 2 has more values"),
    (f"sys_id,number,state\n{ID_A},INC1,1\n,INC2,1\n", "line 3 has no sys_id"),
    (f"sys_id,number,state\n{ID_A},INC1,1\n{ID_A},INC2,1\n", f"line 3 repeats sys_id {ID_A} of line 2"),
    ("Number,State\nINC1,New\n", "no 'number' column; export with field names"),
    ("", "empty; expected a header row"),
    (b"number,state\nINC1,\x81\n", "not UTF-8 text (invalid start byte at byte 18 of the file, line 2"),
])
def test_a_bad_row_in_a_csv_export_exits_2_naming_file_and_line(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    code, out = scan_files(tmp_path, "incident.csv", content)
    assert code == 2, out
    assert "incident.csv" in out and message in out
    assert "Traceback" not in out


def test_both_a_json_and_a_csv_export_of_one_table_is_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "incident.csv").write_text(f"sys_id,number,state\n{ID_A},INC1,1\n")
    (tmp_path / "exports" / "incident.json").write_bytes(table_api(row()))
    code, out = scan("--source", f"file:{tmp_path / 'exports'}", tmp_path=tmp_path)
    assert code == 2 and "both incident.json and incident.csv" in out


def live(rows: list[Any]) -> Any:
    """A Table API answering incident lists with `rows` and every other table with nothing."""
    def handler(req: Req) -> Resp:
        found = rows if req.path.endswith("/incident") else []
        return Resp(200, {"result": found}, {"X-Total-Count": str(len(found))})
    return handler


@pytest.mark.parametrize(("rows", "message"), [
    ([row(), None], "incident: row 1 of the scan is null, not a record"),
    ([row(), "oops"], "incident: row 1 of the scan is str, not a record"),
    ([{"number": "INC1", "state": "1"}], "incident: row 0 of the scan has no sys_id"),
    ([row(number="")], "incident: row 0 of the scan has no number"),
    ([row(), row(number="INC2")], f"incident: row 1 of the scan repeats sys_id {ID_A}"),
    ([row(ID_B), row(ID_A, "INC2")], "not in sys_id order"),
])
def test_a_bad_row_from_a_live_instance_exits_3_naming_table_and_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[Any], message: str
) -> None:
    monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
    monkeypatch.setenv("SERVICENOW_PASSWORD", "pw")
    with StubServer(live(rows)) as server:
        code, out = scan("--source", "servicenow", "--instance", server.url,
                         "--only", "incident.*", tmp_path=tmp_path)
    assert code == 3, out
    assert message in out
    assert "Traceback" not in out
