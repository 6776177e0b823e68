"""The configuration items' defects (clause 8.2.6), planted once every other table is made,
with a random stream of their own: every row the generator made before stays as it was, except
the CI of the records planted here.

Eight CIs are added that no clean record names: four retired (install status 7, operational
status 6, with a support group) and four in service without a support group. Then, per rule,
a few clean records (no defect planted so far) that name a CI are made to name a missing one
(`*.ci.exists`, any state), a retired one (`*.ci.not_retired`, live states) or one without a
support group (`*.ci.support_group`, open states): each fails exactly its rule, and no other
rule reads the CI's identity (a record naming a CI still names one), so the other rules' results
stay what they were.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sms_conformance.sandbox.schema import CHANGE, CMDB_CI, INCIDENT, Row, TableSchema

PER_RULE_SHARE = 50  # one record per rule for every 50 planted defects of the table (at least 1)


def records_per_rule(defects: int) -> int:
    """How many clean records a rule planted beside the share gets, for a table's defects."""
    return max(1, int(defects / PER_RULE_SHARE + 0.5))


# The states each rule's scope takes (the shipped ServiceNow map's codes).
Scopes = dict[str, tuple[str, ...] | None]  # rule -> the states it plants in (None: any)
INCIDENT_SCOPES: Scopes = {"exists": None, "not_retired": ("1", "2", "3"),
                   "support_group": ("1", "2", "3")}
CHANGE_SCOPES: Scopes = {"exists": None, "not_retired": ("-5", "-4", "-3", "-2"),
                 "support_group": ("-5", "-4", "-3", "-2", "-1", "0")}


class CmdbDefects:
    """Adds the retired and unsupported CIs to `tables["cmdb_ci"]` and plants the CI rules'
    defects into the incidents and changes, recording them in `planted` (by number)."""

    def __init__(self, seed: int, defect_rate: float, fmt: Callable[[int], str],
                 anchor: int, groups: list[str]) -> None:
        self.rng = random.Random(f"cmdb_ci:{seed}")
        self.defect_rate, self.fmt, self.anchor, self.groups = defect_rate, fmt, anchor, groups

    def sid(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def run(self, tables: dict[str, list[Row]], planted: dict[str, list[str]]) -> None:
        cis = tables["cmdb_ci"]
        existing = {row[0] for row in cis}
        retired, unsupported = self._add(cis)
        cis.sort(key=lambda r: str(r[0]))
        targets: dict[str, Callable[[], str]] = {
            "exists": lambda: self._missing(existing),
            "not_retired": lambda: self._pick(retired),
            "support_group": lambda: self._pick(unsupported),
        }
        for process, sch, scopes in (("incident", INCIDENT, INCIDENT_SCOPES),
                                     ("change", CHANGE, CHANGE_SCOPES)):
            rows = tables[sch.name]
            self._plant(process, sch, rows, scopes, targets, planted)

    def _add(self, cis: list[Row]) -> tuple[list[str], list[str]]:
        retired: list[str] = []
        unsupported: list[str] = []
        for k in range(8):
            is_retired = k % 2 == 0
            ts = self.fmt(self.anchor - int((100 + 700 * self.rng.random()) * 86400))
            row = CMDB_CI.new_row()
            sys_id = self.sid()
            for name, value in (
                    ("sys_id", sys_id),
                    ("name", f"{'lnx-old' if is_retired else 'app-orphan'}-{k // 2 + 1:02d}"),
                    ("sys_class_name", "cmdb_ci_linux_server" if is_retired else "cmdb_ci_appl"),
                    ("category", "Hardware" if is_retired else "Software"),
                    ("ip_address", ""),
                    ("support_group", self.groups[5] if is_retired else ""),
                    ("operational_status", "6" if is_retired else "1"),
                    ("install_status", "7" if is_retired else "1"),
                    ("sys_created_on", ts), ("sys_updated_on", ts)):
                CMDB_CI.set(row, name, value)
            cis.append(row)
            (retired if is_retired else unsupported).append(sys_id)
        return retired, unsupported

    def _pick(self, ids: list[str]) -> str:
        return ids[int(self.rng.random() * len(ids))]

    def _missing(self, existing: set[str]) -> str:
        while (value := self.sid()) in existing:
            pass
        return value

    def _plant(self, process: str, sch: TableSchema, rows: list[Row],
               scopes: Scopes,
               targets: dict[str, Callable[[], str]], planted: dict[str, list[str]]) -> None:
        num, state, ci = sch.col("number"), sch.col("state"), sch.col("cmdb_ci")
        prefix = {"incident": "INC", "change": "CHG"}[process]
        defects = sum(1 for number in planted if number.startswith(prefix))
        if not rows or self.defect_rate <= 0 or not defects:
            return
        per_rule = records_per_rule(defects)
        clean = [i for i, row in enumerate(rows) if row[ci] and row[num] not in planted]
        self.rng.shuffle(clean)
        for rule, states in scopes.items():
            chosen = [i for i in clean if states is None or rows[i][state] in states][:per_rule]
            for i in chosen:
                rows[i][ci] = targets[rule]()
                planted[rows[i][num]] = [f"{process}.ci.{rule}"]
            taken = set(chosen)
            clean = [i for i in clean if i not in taken]


__all__ = ["CmdbDefects", "records_per_rule"]
