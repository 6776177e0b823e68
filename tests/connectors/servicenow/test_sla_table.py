"""The table read of task_sla (connectors/servicenow/sla_table.py) against a page source that
answers as an instance may: with the class condition honoured, dropped, or answered with no
rows (glide.invalid_query.returns_no_rows), and with a row outside its key range."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from sms_conformance.connectors.servicenow.client import Page
from sms_conformance.connectors.servicenow.fieldmap import SlaSource
from sms_conformance.connectors.servicenow.sla_table import SlaTable
from sms_conformance.model.errors import SourceError

CLASS = "task.sys_class_nameINSTANCEOFincident"


def row(sys_id: str, task: str, *, breached: bool = False) -> dict[str, str]:
    return {"sys_id": sys_id, "task": task, "sla.name": f"SLA {sys_id[-1]}",
            "stage": "completed", "has_breached": "true" if breached else "false"}


ROWS = [row("01" * 16, "a" * 32), row("02" * 16, "b" * 32, breached=True),
        row("03" * 16, "a" * 32), row("04" * 16, "c" * 32)]


class Instance:
    """Answers task_sla pages from ROWS; `condition` says what it does with the class one."""

    def __init__(self, condition: str, rows: list[dict[str, str]] = ROWS) -> None:
        self.condition, self.rows, self.queries = condition, rows, []

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        query = params["sysparm_query"]
        self.queries.append(query)
        rows = self.rows
        if CLASS in query and self.condition == "no rows":
            rows = []
        elif CLASS in query and self.condition == "honoured":
            rows = [r for r in rows if r["task"] != "c" * 32]  # c is a problem
        after = next((p.split(">", 1)[1] for p in query.split("^") if p.startswith("sys_id>")),
                     "")
        rows = [r for r in rows if r["sys_id"] > after]
        limit = int(params["sysparm_limit"])
        return Page(rows[:limit], len(rows), {})


@pytest.mark.parametrize("condition", ["honoured", "dropped", "no rows"])
def test_the_table_read_joins_by_task_whatever_the_instance_does_with_the_class_condition(
        condition: str) -> None:
    instance = Instance(condition)
    table = SlaTable(instance, SlaSource(), ("incident",), streams=1, max_pages=100)
    try:
        table.wait()
        found = table.slas_of(["a" * 32, "b" * 32, "d" * 32])
    finally:
        table.close()
    assert CLASS in instance.queries[0]
    assert [s.name for s, _ in found["a" * 32]] == ["SLA 1", "SLA 3"]  # in sys_id order
    assert [s.breached for s, _ in found["b" * 32]] == [True]
    assert "d" * 32 not in found
    # no rows for the class: read again without it (the instance may refuse the condition)
    assert (CLASS not in instance.queries[-1]) == (condition == "no rows")
    assert table.withheld == 0


def test_a_row_outside_its_order_stops_the_table_read() -> None:
    """bad input: the instance returns a task_sla row twice; outcome: SourceError, so no SLA is
    counted twice."""
    instance = Instance("dropped", [ROWS[0], ROWS[1], ROWS[1]])
    table = SlaTable(instance, SlaSource(), ("incident",), streams=1, max_pages=100)
    try:
        with pytest.raises(SourceError, match="not a record in sys_id order"):
            table.wait()
    finally:
        table.close()
