"""Deterministic, seeded generator of linked ServiceNow-like records with planted defects.

`generate(records, seed)` builds incidents (``records``), problems (15 %), changes (25 %),
requested items (30 %, each under its request, for a catalogue item) and the reference tables,
all values strings as the Table API stores them. Clean records pass every rule in
docs/rule-ids.md; a share ``defect_rate`` of each table carries 1-2 planted defects, each
making exactly its rule fail. ``Dataset.planted`` maps record number -> planted rule ids.

Rows are compact lists (see `schema.py`), sorted by sys_id; shared strings (pools, references)
are the same objects, so 1,000,000 incidents fit in memory.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path

from sms_conformance.sandbox import pools as P
from sms_conformance.sandbox.cmdb import CmdbDefects
from sms_conformance.sandbox.misfiled import plant_misfiled_requests
from sms_conformance.sandbox.schema import (
    CHANGE,
    INCIDENT,
    PRIORITY_MATRIX,
    PROBLEM,
    RESTORE_TARGET_SECONDS,
    SC_REQ_ITEM,
    SC_REQUEST,
    SCHEMAS,
    SYS_USER,
    Row,
    TableSchema,
)
from sms_conformance.sandbox.slas import (
    RequestSlaGenerator,
    SlaGenerator,
    definitions,
    request_definitions,
)

DEFAULT_ANCHOR = datetime(2026, 11, 1, tzinfo=timezone.utc)  # of Sandbox() in tests and benchmarks


def day_anchor(moment: datetime | None = None) -> datetime:
    """Midnight UTC of the day of `moment` (today when None): what a sandbox started from the
    command line dates its records back from, so that a scan of it today needs no --as-of."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
DAY = 86400
HOUR = 3600


@dataclass
class Dataset:
    """Generated tables (rows sorted by sys_id) and the planted-defect manifest."""

    seed: int
    anchor: datetime
    tables: dict[str, list[Row]]
    planted: dict[str, list[str]] = field(default_factory=dict)
    records: int = 0  # incidents asked for (`generate`'s records)
    defect_rate: float = 0.2

    @property
    def instance_key(self) -> str:
        """What makes two sandboxes the same instance: the parameters that shape the data
        (seed, size, defect rate), not the port nor the day the records are dated from."""
        return f"{self.seed}:{self.records}:{self.defect_rate:g}"

    def schema(self, table: str) -> TableSchema:
        return SCHEMAS[table]

    def record(self, table: str, row: Row) -> dict[str, str]:
        """One row as a plain dict of stored values (references as sys_id strings)."""
        sch = SCHEMAS[table]
        out: dict[str, str] = {}
        for name in sch.fields:
            out[name] = sch.get(row, name)
        return out

    def find(self, table: str, number: str) -> Row | None:
        idx = SCHEMAS[table].index.get("number")
        if idx is None:
            return None
        return next((r for r in self.tables[table] if r[idx] == number), None)


class _Clock:
    """Fast epoch-seconds -> 'YYYY-MM-DD HH:MM:SS' (UTC) formatting."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}
        self.hms = [f"{h:02d}:{m:02d}:{s:02d}"
                    for h in range(24) for m in range(60) for s in range(60)]

    def __call__(self, epoch: float) -> str:
        day, secs = divmod(int(epoch), DAY)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * DAY, tz=timezone.utc).strftime("%Y-%m-%d ")
            self.days[day] = prefix
        return prefix + self.hms[secs]

    def formatter(self) -> Callable[[float], str]:
        days, hms, slow = self.days, self.hms, self.__call__

        def fmt(epoch: float) -> str:
            day, secs = divmod(int(epoch), DAY)
            prefix = days.get(day)
            return slow(epoch) if prefix is None else prefix + hms[secs]

        return fmt


def _table(options: tuple[tuple[str, float], ...]) -> tuple[str, ...]:
    """A 1000-entry lookup table for weighted picks: ``table[int(random() * 1000)]``."""
    out: list[str] = []
    for value, weight in options:
        out.extend([value] * round(weight * 1000))
    out.extend([options[-1][0]] * (1000 - len(out)))
    return tuple(out[:1000])


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


@dataclass
class _Kind:
    rule: str
    touches: frozenset[str]
    eligible: Callable[[Row, int], bool]
    apply: Callable[[Row], None]


def _kind(rule: str, touches: Iterable[str], eligible: Callable[[Row, int], bool],
          apply: Callable[[Row], None]) -> _Kind:
    return _Kind(rule, frozenset(touches), eligible, apply)


class _Generator:
    def __init__(self, records: int, seed: int, defect_rate: float, anchor: datetime) -> None:
        self.n_inc = max(0, records)
        self.n_prb = int(records * 0.15 + 0.5)
        self.n_chg = int(records * 0.25 + 0.5)
        self.n_req = int(records * 0.3 + 0.5)
        self.seed = seed
        self.rng = random.Random(seed)
        self.defect_rate = defect_rate
        self.anchor = anchor
        self.A = int(anchor.timestamp())
        self.clock = _Clock()
        self.fmt = self.clock.formatter()
        self.planted: dict[str, list[str]] = {}
        self.tables: dict[str, list[Row]] = {}
        self.unlinked_problems: set[str] = set()
        self.unlinked_changes: set[str] = set()
        self._tables: dict[tuple[tuple[str, float], ...], tuple[str, ...]] = {}

    # -- helpers --------------------------------------------------------------------------
    def sid(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def pick(self, seq: tuple[str, ...] | list[str]) -> str:
        return seq[int(self.rng.random() * len(seq))]

    def weighted(self, options: tuple[tuple[str, float], ...]) -> str:
        table = self._tables.get(options)
        if table is None:
            table = self._tables[options] = _table(options)
        return table[int(self.rng.random() * 1000)]

    def between(self, lo: float, hi: float) -> int:
        return int(lo + (hi - lo) * self.rng.random())

    def ago(self, lo_days: float, hi_days: float) -> int:
        return self.A - self.between(lo_days * DAY, hi_days * DAY)

    # -- reference tables -----------------------------------------------------------------
    def reference_tables(self) -> None:
        fmt, rng = self.fmt, self.rng
        users: list[Row] = []
        admin = SYS_USER.new_row()
        created = fmt(self.A - 900 * DAY)
        for name, value in (("sys_id", "6816f79cc0a8016401c5a33be04be441"), ("user_name", "admin"),
                            ("first_name", "System"), ("last_name", "Administrator"),
                            ("name", "System Administrator"), ("email", "admin@example.com"),
                            ("title", "Administrator"), ("department", ""), ("phone", ""),
                            ("active", "true"), ("sys_created_on", created),
                            ("sys_updated_on", created)):
            SYS_USER.set(admin, name, value)
        users.append(admin)
        pairs = rng.sample(range(len(P.FIRST_NAMES) * len(P.LAST_NAMES)), 199)
        for k in pairs:
            first = P.FIRST_NAMES[k // len(P.LAST_NAMES)]
            last = P.LAST_NAMES[k % len(P.LAST_NAMES)]
            login = f"{first}.{last}".lower()
            ts = fmt(self.ago(200, 900))
            users.append([self.sid(), login, first, last, f"{first} {last}",
                          f"{login}@example.com", self.pick(P.TITLES), "",
                          f"+1 555 {self.between(1000, 9999)}", "true", ts, ts, None])
        self.users = [u[0] for u in users[1:]]
        self.user_names = {u[0]: u[1] for u in users}
        groups: list[Row] = []
        self.members: list[list[str]] = [[] for _ in P.GROUPS]
        for i, uid in enumerate(self.users):
            self.members[i % len(P.GROUPS)].append(uid)
        self.groups: list[str] = []
        for gi, (name, desc) in enumerate(P.GROUPS):
            ts = fmt(self.ago(400, 900))
            gid = self.sid()
            self.groups.append(gid)
            slug = name.lower().replace(" ", "-").replace("---", "-")
            groups.append([gid, name, desc, self.members[gi][0], f"{slug}@example.com",
                           "itil", ts, ts, None])
        self.ci_rows: list[Row] = []
        counters: dict[str, int] = {}
        for i in range(300):
            prefix, cls, cat, gi = P.CI_KINDS[i % len(P.CI_KINDS)]
            counters[prefix] = counters.get(prefix, 0) + 1
            ts = fmt(self.ago(100, 800))
            self.ci_rows.append([self.sid(), f"{prefix}-{counters[prefix]:02d}", cls, cat,
                                 f"10.{self.between(0, 255)}.{self.between(0, 255)}."
                                 f"{self.between(1, 254)}", self.groups[gi], "1", "1", ts, ts,
                                 None])
        self.cis = [c[0] for c in self.ci_rows]
        svc_rows: list[Row] = []
        for name in P.SERVICES:
            ts = fmt(self.ago(300, 900))
            svc_rows.append([self.sid(), name, self.pick(("1 - most critical",
                             "2 - somewhat critical", "3 - less critical")),
                             self.pick(self.users), self.pick(self.groups), "1", ts, ts, None])
        self.services = [s[0] for s in svc_rows]
        self.tables["sys_user"] = users
        self.tables["sys_user_group"] = groups
        self.tables["cmdb_ci"] = self.ci_rows
        self.tables["cmdb_ci_service"] = svc_rows
        self.tables["sys_choice"] = self.choice_rows()

    def choice_rows(self) -> list[Row]:
        rows: list[Row] = []
        for sch in (INCIDENT, PROBLEM, CHANGE):
            for element, labels in sch.choices.items():
                for seq, (value, label) in enumerate(labels.items()):
                    rows.append([self.sid(), sch.name, element, value, label, str(seq), None])
        return rows

    def member(self, group_index: int) -> str:
        return self.pick(self.members[group_index])

    # -- changes --------------------------------------------------------------------------
    def changes(self) -> list[Row]:
        rng, fmt, A = self.rng, self.fmt, self.A
        forced = ([("3", "emergency")] * 3 + [("3", "normal")] * 3 + [("-1", "normal")] * 2
                  + [("0", "normal"), ("-3", "normal"), ("-2", "standard"), ("4", "normal")])
        states = (("-5", .08), ("-4", .06), ("-3", .06), ("-2", .09), ("-1", .07), ("0", .08),
                  ("3", .48), ("4", .08))
        rows: list[Row] = []
        for i in range(self.n_chg):
            if i < len(forced):
                state, ctype = forced[i]
            else:
                ctype = self.weighted((("normal", .55), ("standard", .35), ("emergency", .10)))
                state = self.weighted(states)
                if ctype == "standard" and state in ("-4", "-3"):
                    state = "-2"
            cat, short, justification, gi = P.CHANGE_TOPICS[int(rng.random()
                                                                 * len(P.CHANGE_TOPICS))]
            group = self.groups[gi]
            assigned = self.member(gi)
            requester = self.pick(self.users)
            if state == "-5":
                approval = "not requested" if ctype != "standard" else "approved"
            elif state in ("-4",):
                approval = "not requested"
            elif state == "-3":
                approval = "requested"
            elif state == "4":
                approval = self.pick(("rejected", "not requested"))
            else:
                approval = "approved"
            plans = state != "-5" or ctype == "standard" or rng.random() < 0.5
            impl = self.pick(P.IMPLEMENTATION_PLANS) if plans else ""
            back = self.pick(P.BACKOUT_PLANS) if plans else ""
            test = self.pick(P.TEST_PLANS) if plans else ""
            ci = self.pick(self.cis) if rng.random() < 0.9 else ""
            svc = self.pick(self.services) if (rng.random() < 0.6 or not ci) else ""
            start = end = ws = we = review = closed = ""
            close_code = close_notes = closed_by = ""
            opened = self.ago(20, 365) if state in ("3", "4") else self.ago(1, 19)
            updated = opened + self.between(60, 3600)
            if state == "3":
                t_start = opened + self.between(DAY, 10 * DAY)
                t_ws = t_start + self.between(0, 1800)
                t_we = t_ws + self.between(1800, 6 * HOUR)
                t_close = t_we + self.between(HOUR, 2 * DAY)
                if ctype == "emergency" or rng.random() < 0.5:
                    t_review = t_we + self.between(HOUR, DAY)
                    review = fmt(t_review)
                    t_close = t_review + self.between(HOUR, DAY)
                start, end = fmt(t_start), fmt(t_we + self.between(0, HOUR))
                ws, we, closed = fmt(t_ws), fmt(t_we), fmt(t_close)
                close_code = self.weighted((("successful", .8), ("successful_issues", .12),
                                            ("unsuccessful", .08)))
                close_notes = P.CHANGE_CLOSE_NOTES[close_code]
                closed_by = assigned
                updated = t_close
            elif state == "4":
                t_close = opened + self.between(HOUR, 5 * DAY)
                closed, closed_by, updated = fmt(t_close), assigned, t_close
            elif state != "-5":
                t_start = opened + self.between(0, (A - opened) // 2)
                start = fmt(t_start)
                end = fmt(t_start + self.between(HOUR, 4 * HOUR))
                if state in ("-1", "0"):
                    t_ws = t_start + self.between(0, 1800)
                    ws = fmt(t_ws)
                    updated = t_ws
                    if state == "0":
                        t_we = t_ws + self.between(1800, 4 * HOUR)
                        we = fmt(t_we)
                        updated = t_we + 60
            rows.append([
                self.sid(), "", state, ctype, approval,
                self.weighted((("2", .15), ("3", .55), ("4", .28), ("1", .02))),
                self.weighted((("1", .1), ("2", .4), ("3", .5))),
                self.weighted((("2", .15), ("3", .45), ("4", .4))), cat, short,
                f"{short}. {justification}", justification, impl, back, test, start, end,
                ws, we, requester, requester, group, assigned, svc, ci, close_code,
                close_notes, closed, closed_by, review, fmt(opened), fmt(min(updated, A - 1)),
                self.user_names[requester], self.user_names[assigned],
                str(self.between(1, 12)), None,
            ])
        self.number(CHANGE, rows)
        return rows

    def number(self, sch: TableSchema, rows: list[Row]) -> None:
        opened = sch.col("opened_at")
        num = sch.col("number")
        rows.sort(key=lambda r: r[opened])
        prefix, start = sch.number_prefix, sch.number_start
        for i, row in enumerate(rows):
            row[num] = f"{prefix}{start + i:07d}"

    # -- problems -------------------------------------------------------------------------
    def problems(self, changes: list[Row]) -> list[Row]:
        rng, fmt = self.rng, self.fmt
        c_state, c_id = CHANGE.col("state"), CHANGE.col("sys_id")
        closed_changes = [c[c_id] for c in changes if c[c_state] == "3"]
        all_changes = [c[c_id] for c in changes]
        forced = ([("107", "fix_applied")] * 3 + [("106", "fix_applied")] * 2
                  + [("104", "")] * 2 + [("103", ""), ("101", "")])
        states = (("101", .12), ("102", .10), ("103", .12), ("104", .10), ("106", .10),
                  ("107", .46))
        rows: list[Row] = []
        ids: list[str] = []
        for i in range(self.n_prb):
            if i < len(forced):
                state, code = forced[i]
            else:
                state = self.weighted(states)
                code = ""
            if state == "106" and not code:
                code = self.weighted((("fix_applied", .8), ("risk_accepted", .2)))
            elif state == "107" and not code:
                code = self.weighted((("fix_applied", .6), ("risk_accepted", .15),
                                      ("duplicate", .15), ("canceled", .10)))
            cat, short, cause, workaround, fix, close, gi = P.PROBLEM_TOPICS[
                int(rng.random() * len(P.PROBLEM_TOPICS))]
            impact = self.weighted((("1", .2), ("2", .45), ("3", .35)))
            urgency = self.weighted((("1", .2), ("2", .45), ("3", .35)))
            assigned = self.member(gi) if state != "101" or rng.random() < 0.5 else ""
            known = "false"
            wa = ""
            if state in ("103", "104", "106", "107") and rng.random() < 0.35:
                known, wa = "true", workaround
            elif rng.random() < 0.2:
                wa = workaround
            cause_notes = cause if state in ("104", "106", "107") or (
                state == "103" and rng.random() < 0.5) else ""
            fix_notes = rfc = dup = ""
            if code == "fix_applied":
                if state == "107" and not closed_changes or not all_changes:
                    code = "risk_accepted"
                else:
                    fix_notes = fix
                    rfc = self.pick(closed_changes if closed_changes else all_changes)
            if code == "duplicate":
                if ids:
                    dup = self.pick(ids)
                else:
                    code = "canceled"
            if state == "104" and all_changes and rng.random() < 0.5:
                rfc = self.pick(all_changes)
            resolved = closed = resolved_by = closed_by = ""
            if state == "107":
                t_open = self.ago(30, 365)
                t_res = t_open + self.between(2 * DAY, 20 * DAY)
                t_close = t_res + self.between(HOUR, 7 * DAY)
                resolved, closed = fmt(t_res), fmt(t_close)
                resolved_by = closed_by = assigned or self.member(gi)
                updated = t_close
            elif state == "106":
                t_open = self.ago(10, 120)
                t_res = t_open + self.between(HOUR, int((self.A - t_open) * 0.8))
                resolved, resolved_by = fmt(t_res), assigned or self.member(gi)
                updated = t_res
            else:
                t_open = self.ago(1, 180)
                updated = t_open + self.between(60, int((self.A - t_open) * 0.9))
            sid = self.sid()
            ids.append(sid)
            if code in ("duplicate", "canceled"):
                # closed from Assess: never analysed, and its incidents belong to the original
                cause_notes = ""
                self.unlinked_problems.add(sid)
            rows.append([
                sid, "", state, impact, urgency, PRIORITY_MATRIX[(impact, urgency)], cat, short,
                f"{short}. Several related incidents reported.", self.member(gi),
                self.groups[gi], assigned, self.pick(self.services) if rng.random() < 0.7 else "",
                self.pick(self.cis), fmt(t_open), fmt(min(updated, self.A - 1)), "admin",
                self.user_names.get(assigned, "admin"), cause_notes, wa, known, fix_notes, code,
                close if state in ("106", "107") else "", rfc, dup, resolved, resolved_by,
                closed, closed_by, str(self.between(1, 20)), None,
            ])
        self.number(PROBLEM, rows)
        return rows

    # -- incidents ------------------------------------------------------------------------
    def incidents(self, problems: list[Row], changes: list[Row]) -> list[Row]:
        rng, A = self.rng, self.A
        rand = rng.random
        getbits = rng.getrandbits
        fmt = self.fmt
        p_id, c_id = PROBLEM.col("sys_id"), CHANGE.col("sys_id")
        linkable_p = [p[p_id] for p in problems if p[p_id] not in self.unlinked_problems]
        n_lp = len(linkable_p)
        all_c = [c[c_id] for c in changes]
        linkable_c = [c for c in all_c if c not in self.unlinked_changes]
        forced = ["3"] * 4 + ["6"] * 3 + ["7"] * 4 + ["1", "1", "2", "2", "8"]
        states = _table((("1", .06), ("2", .09), ("3", .05), ("6", .06), ("7", .69),
                         ("8", .05)))
        impacts = _table((("1", .14), ("2", .33), ("3", .53)))
        urgencies = _table((("1", .17), ("2", .35), ("3", .48)))
        contacts = _table((("self-service", .35), ("email", .25), ("phone", .3),
                           ("walk-in", .05), ("virtual_agent", .05)))
        holds = _table((("1", .4), ("3", .15), ("4", .3), ("5", .15)))
        counts = tuple(str(k) for k in range(100))
        topics = P.INCIDENT_TOPICS
        n_topics = len(topics)
        sd_members = self.members[0]
        members_by_group = self.members
        users, cis, services, groups = self.users, self.cis, self.services, self.groups
        n_users, n_cis, n_svc, n_sd = len(users), len(cis), len(services), len(sd_members)
        names = self.user_names
        validated = P.VALIDATED_CLOSE_NOTES
        plain_codes = P.INCIDENT_CLOSE_CODES_PLAIN
        targets = RESTORE_TARGET_SECONDS
        matrix = PRIORITY_MATRIX
        last = A - 1
        open_span = int(29.5 * DAY) - 600
        rows: list[Row] = []
        append = rows.append
        for i in range(self.n_inc):
            state = forced[i] if i < len(forced) else states[int(rand() * 1000)]
            cat, sub, short, desc, gi = topics[int(rand() * n_topics)]
            if rand() < 0.25:
                gi = 0
            impact, urgency = impacts[int(rand() * 1000)], urgencies[int(rand() * 1000)]
            resolved_state = state == "7" or state == "6"
            if resolved_state and impact == "1" and urgency == "1" and not n_lp:
                urgency = "2"
            priority = matrix[(impact, urgency)]
            caller = users[int(rand() * n_users)]
            opened_by = caller if rand() < 0.6 else sd_members[int(rand() * n_sd)]
            members = members_by_group[gi]
            assigned = members[int(rand() * len(members))]
            group = groups[gi]
            if state == "1" and rand() < 0.5:
                assigned = ""
                if rand() < 0.3:
                    group = ""
            ci = cis[int(rand() * n_cis)] if rand() < 0.85 else ""
            svc = services[int(rand() * n_svc)] if (rand() < 0.7 or not ci) else ""
            resolved = closed = resolved_by = closed_by = close_code = close_notes = ""
            problem = rfc = caused = hold = major = ""
            if resolved_state:
                if state == "6":
                    t_open = A - int((8 + 12 * rand()) * DAY)
                else:
                    t_open = A - int((12 + 388 * rand()) * DAY)
                t_res = t_open + 300 + int((targets[priority] * 0.95 - 300) * rand())
                resolved = fmt(t_res)
                resolved_by = assigned
                updated = resolved
                if state == "7":
                    closed = updated = fmt(t_res + HOUR + int(71 * HOUR * rand()))
                    closed_by = assigned
                close_notes = validated[int(rand() * len(validated))]
                x = rand()
                if x < 0.12 and n_lp:
                    close_code = "Resolved by problem"
                    problem = linkable_p[int(rand() * n_lp)]
                elif x < 0.2 and all_c:
                    close_code = "Resolved by change"
                    rfc = all_c[int(rand() * len(all_c))]
                else:
                    close_code = plain_codes[int(rand() * len(plain_codes))]
                if priority == "1":
                    if not problem:
                        problem = linkable_p[int(rand() * n_lp)]
                    if rand() < 0.5:
                        major = "accepted"
                opened = fmt(t_open)
            elif state == "8":
                t_open = A - int((1 + 399 * rand()) * DAY)
                opened = fmt(t_open)
                updated = fmt(min(t_open + 60 + int(12 * HOUR * rand()), last))
            else:
                t_open = A - 600 - int(open_span * rand())
                opened = fmt(t_open)
                updated = fmt(t_open + int((last - t_open) * rand()))
                if state == "3":
                    hold = holds[int(rand() * 1000)]
            if not problem and n_lp and rand() < 0.06:
                problem = linkable_p[int(rand() * n_lp)]
            if linkable_c and rand() < 0.03:
                caused = linkable_c[int(rand() * len(linkable_c))]
            row = [
                f"{getbits(128):032x}", "", state, impact, urgency, priority, cat, sub, short,
                desc, caller, opened_by, group, assigned, svc, ci, contacts[int(rand() * 1000)],
                opened, updated, names[opened_by], names.get(assigned, "admin"), resolved,
                resolved_by, closed, closed_by, close_code, close_notes, problem, rfc, caused,
                hold, "0", counts[int(rand() * 3)], counts[2 + int(rand() * 12)], "true", "3",
                None,
            ]
            if hold == "4" or major:
                extra: dict[str, str] = {}
                if hold == "4":
                    extra["u_vendor_reference"] = f"VND-{self.between(100000, 999999)}"
                if major:
                    extra["major_incident_state"] = major
                row[-1] = extra
            append(row)
        self.number(INCIDENT, rows)
        return rows

    def anchor_links(self, incidents: list[Row], problems: list[Row],
                     changes: list[Row]) -> set[int]:
        """Make every non-new problem and every unsuccessful change referenced by an incident;
        return the incident positions carrying such a required link (never unlinked later)."""
        protected: set[int] = set()
        i_state, i_pid, i_cb = (INCIDENT.col("state"), INCIDENT.col("problem_id"),
                                INCIDENT.col("caused_by"))
        first_p: dict[str, int] = {}
        first_c: dict[str, int] = {}
        for i, row in enumerate(incidents):
            if row[i_pid] and row[i_pid] not in first_p:
                first_p[row[i_pid]] = i
            if row[i_cb] and row[i_cb] not in first_c:
                first_c[row[i_cb]] = i
        free = [i for i, r in enumerate(incidents) if r[i_state] != "8"]
        self.rng.shuffle(free)

        def claim(field_idx: int) -> int | None:
            while free:
                i = free.pop()
                if i not in protected and not incidents[i][field_idx]:
                    return i
            return None

        def link(ids: Iterable[str], first: dict[str, int], field_idx: int) -> None:
            """Each id gets an incident referencing it through `field_idx`."""
            for target in ids:
                if target in first:
                    protected.add(first[target])
                    continue
                claimed = claim(field_idx)
                if claimed is not None:
                    incidents[claimed][field_idx] = target
                    protected.add(claimed)

        p_state, p_id = PROBLEM.col("state"), PROBLEM.col("sys_id")
        link((p[p_id] for p in problems
              if p[p_state] != "101" and p[p_id] not in self.unlinked_problems), first_p, i_pid)
        c_code, c_id = CHANGE.col("close_code"), CHANGE.col("sys_id")
        link((c[c_id] for c in changes
              if c[c_code] == "unsuccessful" and c[c_id] not in self.unlinked_changes),
             first_c, i_cb)
        return protected

    # -- planting -------------------------------------------------------------------------
    def plant(self, sch: TableSchema, rows: list[Row], kinds: list[_Kind],
              fixup: Callable[[Row], None] | None = None) -> None:
        n = len(rows)
        if not n or self.defect_rate <= 0 or not kinds:
            return
        rng = self.rng
        budget = int(n * self.defect_rate + 0.5)
        num = sch.col("number")
        done: dict[int, list[str]] = {}
        order = list(kinds)
        rng.shuffle(order)
        coverage = order if n >= 200 else order[:budget]
        sample = rng.sample(range(n), min(n, 4000))
        for kind in coverage:
            for i in chain(sample, range(n)):
                if i not in done and kind.eligible(rows[i], i):
                    kind.apply(rows[i])
                    done[i] = [kind.rule]
                    break
        attempts = 0
        while len(done) < budget and attempts < budget * 20:
            attempts += 1
            i = int(rng.random() * n)
            if i in done:
                continue
            row = rows[i]
            first = None
            for _ in range(8):
                k = kinds[int(rng.random() * len(kinds))]
                if k.eligible(row, i):
                    first = k
                    break
            if first is None:
                eligible = [k for k in kinds if k.eligible(row, i)]
                if not eligible:
                    continue
                first = eligible[int(rng.random() * len(eligible))]
            first.apply(row)
            done[i] = [first.rule]
            if rng.random() < 0.3:
                second = [k for k in kinds if k is not first and not (k.touches & first.touches)
                          and k.eligible(row, i)]
                if second:
                    k2 = second[int(rng.random() * len(second))]
                    k2.apply(row)
                    done[i].append(k2.rule)
        for i, rules in done.items():
            if fixup is not None:
                fixup(rows[i])
            self.planted[rows[i][num]] = sorted(rules)

    def incident_kinds(self, protected: set[int], problems: list[Row]) -> list[_Kind]:
        c = INCIDENT.col
        ST, CALLER, SVC, CI = c("state"), c("caller_id"), c("business_service"), c("cmdb_ci")
        SD, CAT, SUB, PRI = c("short_description"), c("category"), c("subcategory"), c("priority")
        IMP, URG, GRP, ASG = c("impact"), c("urgency"), c("assignment_group"), c("assigned_to")
        CODE, NOTES, RES, CLO = c("close_code"), c("close_notes"), c("resolved_at"), c("closed_at")
        OPEN, UPD, PID, RFC = c("opened_at"), c("sys_updated_on"), c("problem_id"), c("rfc")
        CB, HOLD, REOPEN = c("caused_by"), c("hold_reason"), c("reopen_count")
        fmt = self.fmt
        problem_ids = {p[PROBLEM.col("sys_id")] for p in problems}
        change_ids = {r[CHANGE.col("sys_id")] for r in self.tables.get("change_request", [])}

        def active(r: Row, i: int) -> bool:
            return bool(r[ST] != "8")

        def open_(r: Row, i: int) -> bool:
            return r[ST] in ("1", "2", "3")

        def done(r: Row, i: int) -> bool:
            return r[ST] in ("6", "7")

        def free(i: int) -> bool:
            return i not in protected

        def setf(r: Row, name: str, value: str) -> None:
            INCIDENT.set(r, name, value)

        def major_state(r: Row) -> str:
            return INCIDENT.get(r, "major_incident_state")

        def bogus(existing: set[str]) -> str:
            while True:
                value = self.sid()
                if value not in existing:
                    return value

        def wrong_priority(r: Row) -> None:
            right = PRIORITY_MATRIX[(r[IMP], r[URG])]
            r[PRI] = self.pick([p for p in ("1", "2", "3", "4", "5") if p != right])

        def ordered_breach(r: Row) -> None:
            if r[ST] == "7":
                r[CLO] = fmt(_epoch(r[RES]) - self.between(60, 3600))
            else:
                r[RES] = fmt(_epoch(r[OPEN]) - self.between(60, 7200))

        def late(r: Row) -> None:
            t_res = _epoch(r[OPEN]) + RESTORE_TARGET_SECONDS[r[PRI]] + self.between(HOUR, 2 * DAY)
            r[RES] = fmt(t_res)
            if r[ST] == "7":
                r[CLO] = fmt(t_res + self.between(HOUR, DAY))

        def make_major(r: Row) -> None:
            r[IMP] = r[URG] = r[PRI] = "1"
            t_res = _epoch(r[OPEN]) + self.between(600, 3.5 * HOUR)
            r[RES] = fmt(t_res)
            if r[ST] == "7":
                r[CLO] = fmt(t_res + self.between(HOUR, DAY))
            r[PID] = ""
            if r[CODE] == "Resolved by problem":
                r[CODE] = "Solution provided"

        def aging(r: Row) -> None:
            t_open = self.ago(31, 180)
            r[OPEN] = fmt(t_open)
            r[UPD] = fmt(t_open + self.between(DAY, 20 * DAY))

        def vendor(r: Row) -> None:
            r[HOLD] = "4"
            setf(r, "u_vendor_reference", "")

        def reopened(r: Row) -> None:
            r[REOPEN] = self.pick(("1", "1", "2", "3"))

        def no_problem(r: Row) -> None:
            r[CODE], r[PID] = "Resolved by problem", ""

        def no_change(r: Row) -> None:
            r[CODE], r[RFC] = "Resolved by change", ""

        def blank(*cols: int) -> Callable[[Row], None]:
            def apply(r: Row) -> None:
                for col in cols:
                    r[col] = ""
            return apply

        return [
            _kind("incident.logging.reporter", ["caller_id"], active, blank(CALLER)),
            _kind("incident.logging.service_or_ci", ["business_service", "cmdb_ci"], active,
                  blank(SVC, CI)),
            _kind("incident.logging.description", ["short_description"], active,
                  lambda r: r.__setitem__(SD, self.pick(P.SHORT_DESCRIPTION_DEFECTS))),
            _kind("incident.logging.category", ["category", "subcategory"], open_,
                  blank(CAT, SUB)),
            _kind("incident.logging.priority", ["priority"], open_, blank(PRI)),
            _kind("incident.logging.assignment_group", ["assignment_group", "assigned_to"],
                  lambda r, i: r[ST] in ("2", "3", "6", "7"), blank(GRP, ASG)),
            _kind("incident.resolution.subcategory", ["subcategory"], done, blank(SUB)),
            _kind("incident.priority.matrix", ["priority", "impact", "urgency"],
                  lambda r, i: open_(r, i) and bool(r[IMP] and r[URG]), wrong_priority),
            _kind("incident.resolution.code", ["close_code"], done, blank(CODE)),
            _kind("incident.resolution.notes", ["close_notes"], done, blank(NOTES)),
            _kind("incident.resolution.resolved_at", ["resolved_at"], done, blank(RES)),
            _kind("incident.closure.closed_at", ["closed_at"], lambda r, i: r[ST] == "7",
                  blank(CLO)),
            _kind("incident.resolution.timestamps_ordered",
                  ["resolved_at", "closed_at", "opened_at"],
                  lambda r, i: done(r, i) and bool(r[RES] and r[OPEN]), ordered_breach),
            _kind("incident.closure.validated", ["close_notes"],
                  lambda r, i: done(r, i) and bool(r[NOTES]),
                  lambda r: r.__setitem__(NOTES, self.pick(P.UNVALIDATED_CLOSE_NOTES))),
            _kind("incident.restore.within_target",
                  ["resolved_at", "closed_at", "opened_at", "priority"],
                  lambda r, i: done(r, i) and r[PRI] in RESTORE_TARGET_SECONDS, late),
            _kind("incident.major.problem_linked",
                  ["problem_id", "priority", "impact", "urgency", "resolved_at", "closed_at",
                   "close_code", "major_incident_state"],
                  lambda r, i: done(r, i) and free(i), make_major),
            _kind("incident.vendor.reference", ["hold_reason", "u_vendor_reference"],
                  lambda r, i: r[ST] == "3", vendor),
            _kind("incident.reopen.none", ["reopen_count"], lambda r, i: True, reopened),
            _kind("incident.links.problem_exists", ["problem_id"], lambda r, i: free(i),
                  lambda r: r.__setitem__(PID, bogus(problem_ids))),
            _kind("incident.links.caused_by_exists", ["caused_by"], lambda r, i: free(i),
                  lambda r: r.__setitem__(CB, bogus(change_ids))),
            _kind("incident.links.resolved_by_problem",
                  ["close_code", "problem_id", "priority", "major_incident_state"],
                  lambda r, i: done(r, i) and free(i) and r[PRI] != "1"
                  and major_state(r) != "accepted", no_problem),
            _kind("incident.links.resolved_by_change", ["close_code", "rfc"], done, no_change),
            _kind("incident.backlog.aging", ["opened_at", "sys_updated_on"], open_, aging),
        ]

    def problem_kinds(self, changes: list[Row]) -> list[_Kind]:
        c = PROBLEM.col
        ST, CAUSE, CODE, FIX = c("state"), c("cause_notes"), c("resolution_code"), c("fix_notes")
        KE, WA, RFC, SID = c("known_error"), c("workaround"), c("rfc"), c("sys_id")
        GRP = c("assignment_group")
        c_state, c_id = CHANGE.col("state"), CHANGE.col("sys_id")
        open_changes = [r[c_id] for r in changes if r[c_state] != "3"]
        change_ids = {r[c_id] for r in changes}

        def bogus() -> str:
            while True:
                value = self.sid()
                if value not in change_ids:
                    return value

        def unlink(r: Row) -> None:
            self.unlinked_problems.add(r[SID])

        def blank(*cols: int) -> Callable[[Row], None]:
            def apply(r: Row) -> None:
                for col in cols:
                    r[col] = ""
            return apply

        def fixed(r: Row, i: int) -> bool:
            return r[CODE] == "fix_applied"  # type: ignore[no-any-return]

        def analysed(r: Row) -> bool:
            """Not closed as a duplicate or canceled: such problems have no cause or incidents,
            so neither may be taken away from them, nor their resolution code."""
            return r[CODE] not in ("duplicate", "canceled")

        def known(r: Row) -> None:
            r[KE], r[WA] = "true", ""

        return [
            _kind("problem.rca.root_cause", ["cause_notes", "state"],
                  lambda r, i: r[ST] in ("104", "106", "107") and analysed(r), blank(CAUSE)),
            _kind("problem.resolution.code", ["resolution_code", "state"],
                  lambda r, i: r[ST] in ("106", "107") and analysed(r), blank(CODE)),
            _kind("problem.resolution.fix_notes", ["fix_notes", "resolution_code"], fixed,
                  blank(FIX)),
            _kind("problem.known_error.workaround", ["known_error", "workaround"],
                  lambda r, i: True, known),
            _kind("problem.links.incidents", ["_incident_links", "state"],
                  lambda r, i: r[ST] != "101" and analysed(r), unlink),
            _kind("problem.ownership.assignment_group", ["assignment_group"],
                  lambda r, i: r[ST] != "101", blank(GRP)),
            _kind("problem.links.fix_change", ["rfc", "resolution_code"], fixed, blank(RFC)),
            _kind("problem.links.fix_change_exists", ["rfc"], lambda r, i: True,
                  lambda r: r.__setitem__(RFC, bogus())),
            _kind("problem.links.fix_change_closed", ["rfc", "resolution_code", "state"],
                  lambda r, i: r[ST] == "107" and fixed(r, i) and bool(open_changes),
                  lambda r: r.__setitem__(RFC, self.pick(open_changes))),
        ]

    def change_kinds(self) -> list[_Kind]:
        c = CHANGE.col
        ST, TYPE, APPR, RISK = c("state"), c("type"), c("approval"), c("risk")
        CI, SVC, CODE, NOTES = c("cmdb_ci"), c("business_service"), c("close_code"), c("close_notes")
        REVIEW, WS, WE, SID = c("review_date"), c("work_start"), c("work_end"), c("sys_id")
        fmt = self.fmt

        def risky(r: Row) -> bool:
            return r[TYPE] in ("normal", "emergency")

        def planned(r: Row, i: int) -> bool:
            return r[ST] in ("-3", "-2", "-1", "0", "3")  # every type: standard ones too

        def standard_planned(r: Row, i: int) -> bool:
            return r[TYPE] == "standard" and planned(r, i)

        def closed(r: Row, i: int) -> bool:
            return r[ST] == "3"  # type: ignore[no-any-return]

        def blank(*cols: int) -> Callable[[Row], None]:
            def apply(r: Row) -> None:
                for col in cols:
                    r[col] = ""
            return apply

        def failed(r: Row) -> None:
            r[CODE] = "unsuccessful"
            r[NOTES] = P.CHANGE_CLOSE_NOTES["unsuccessful"]
            self.unlinked_changes.add(r[SID])

        def bad_actuals(r: Row) -> None:
            if self.rng.random() < 0.5 or not r[WS]:
                r[WE] = ""
            else:
                r[WE] = fmt(_epoch(r[WS]) - self.between(600, 4 * HOUR))

        return [
            _kind("change.approval.before_implementation", ["approval", "type", "state"],
                  lambda r, i: risky(r) and r[ST] in ("-1", "0", "3"),
                  lambda r: r.__setitem__(APPR, self.pick(("requested", "not requested",
                                                           "rejected")))),
            _kind("change.risk.assessed", ["risk", "state"],
                  lambda r, i: r[ST] not in ("-5", "4"), blank(RISK)),
            _kind("change.plan.implementation", ["implementation_plan", "type", "state"],
                  planned, blank(c("implementation_plan"))),
            _kind("change.plan.backout", ["backout_plan", "type", "state"], planned,
                  blank(c("backout_plan"))),
            _kind("change.plan.test", ["test_plan", "type", "state"], planned,
                  blank(c("test_plan"))),
            # a standard change raised without its template's plan
            _kind("change.plan.implementation", ["implementation_plan", "type", "state"],
                  standard_planned, blank(c("implementation_plan"))),
            _kind("change.ci.named", ["cmdb_ci", "business_service", "state"],
                  lambda r, i: r[ST] not in ("-5", "4"), blank(CI, SVC)),
            _kind("change.closure.code", ["close_code", "state"], closed, blank(CODE)),
            _kind("change.closure.notes", ["close_notes", "state"], closed, blank(NOTES)),
            _kind("change.failed.incidents_linked", ["close_code", "close_notes",
                                                     "_incident_links", "state"],
                  closed, failed),
            _kind("change.emergency.reviewed", ["review_date", "type", "state"],
                  lambda r, i: r[TYPE] == "emergency" and r[ST] == "3", blank(REVIEW)),
            _kind("change.schedule.actuals", ["work_start", "work_end", "state"], closed,
                  bad_actuals),
        ]

    # -- service requests -----------------------------------------------------------------
    def service_requests(self) -> None:
        """The catalogue, requests and requested items with their planted defects, drawn from
        a random stream of their own: the incidents, problems and changes stay as they were."""
        saved, self.rng = self.rng, random.Random(f"sc_req_item:{self.seed}")
        try:
            items = self.requested_items()
            self.plant(SC_REQ_ITEM, items, self.request_kinds(), self.refresh_updated(SC_REQ_ITEM))
        finally:
            self.rng = saved
        self.tables["sc_req_item"] = items

    def catalogue(self) -> list[Row]:
        rows: list[Row] = []
        for name, category, days, approval, *_ in P.CATALOG_ITEMS:
            ts = self.fmt(self.ago(400, 900))
            rows.append([self.sid(), name, category, f"1970-01-{days + 1:02d} 00:00:00",
                         "true" if approval else "false", ts, ts, None])
        return rows

    def requested_items(self) -> list[Row]:
        fmt, A = self.fmt, self.A
        catalogue = self.catalogue()
        self.tables["sc_cat_item"] = catalogue
        states = (("-5", .06), ("1", .08), ("2", .12), ("3", .62), ("4", .08), ("7", .04))
        stages = {"-5": "waiting_for_approval", "1": "fulfillment", "2": "fulfillment",
                  "3": "complete", "4": "Request Cancelled", "7": "Request Cancelled"}
        requests: list[Row] = []
        items: list[Row] = []
        for _ in range(self.n_req):
            k = int(self.rng.random() * len(P.CATALOG_ITEMS))
            _, _, days, needs, gi, short, note = P.CATALOG_ITEMS[k]
            state = self.weighted(states)
            if state == "-5" and not needs:
                state = "1"
            approval = ("not requested" if not needs else "requested" if state == "-5"
                        else "rejected" if state == "4" else "approved")
            closed = state in ("3", "4", "7")
            opened = self.ago(days + 2, 365) if closed else self.ago(0.1, max(0.5, days * 0.8))
            due = ((opened + days * DAY) // DAY + 1) * DAY  # midnight UTC after the delivery time
            requester = self.pick(self.users)
            group = self.groups[gi] if state != "-5" else ""
            assigned = self.member(gi) if state not in ("-5", "1") else ""
            t_close, notes, closed_by = 0, "", ""
            if state == "3":
                t_close = opened + self.between(HOUR, due - opened - HOUR)
                notes, closed_by = note, assigned
            elif closed:
                t_close = opened + self.between(HOUR, 3 * DAY)
                notes = ("Rejected by the approver: not within the requester's entitlement."
                         if approval == "rejected" else "Withdrawn by the requester.")
                closed_by = assigned
            t_close = min(t_close, A - 60) if t_close else 0
            updated = t_close or opened + self.between(60, max(120, (A - opened) // 2))
            request_id = self.sid()
            request_state = {"-5": "requested", "3": "closed_complete",
                             "4": "closed_rejected" if approval == "rejected"
                             else "closed_incomplete", "7": "closed_incomplete"}.get(
                                 state, "in_process")
            requests.append([
                request_id, "", {"3": "3", "4": "4", "7": "4"}.get(state, "1"), request_state,
                requester, requester, fmt(opened), fmt(min(updated, A - 1)),
                fmt(t_close) if t_close else "", "0", None])
            items.append([
                self.sid(), "", state, stages[state], approval, request_id, catalogue[k][0], "1",
                "3", "3", self.weighted((("4", .75), ("3", .2), ("2", .05))), short,
                f"{short}. Requested through the service portal.", requester, group, assigned,
                self.pick(self.services) if self.rng.random() < 0.3 else "", "", fmt(due),
                fmt(opened), fmt(min(updated, A - 1)), self.user_names[requester],
                self.user_names.get(assigned, "admin"), fmt(t_close) if t_close else "",
                closed_by, notes, "true" if needs else "false", str(self.between(1, 8)), None,
            ])
        self.number(SC_REQUEST, requests)
        self.number(SC_REQ_ITEM, items)
        self.tables["sc_request"] = requests
        return items

    def request_kinds(self) -> list[_Kind]:
        c = SC_REQ_ITEM.col
        ST, APPR, REQ, CAT = c("state"), c("approval"), c("request"), c("cat_item")
        GRP, ASG = c("assignment_group"), c("assigned_to")
        SD, DUE = c("short_description"), c("due_date")
        CLO, NOTES, NEEDS = c("closed_at"), c("close_notes"), c("u_approval_required")
        r_id, r_for = SC_REQUEST.col("sys_id"), SC_REQUEST.col("requested_for")
        requests = {r[r_id]: r for r in self.tables["sc_request"]}
        fmt, last = self.fmt, self.A - 60

        def live(r: Row, i: int) -> bool:
            return r[ST] not in ("4", "7")

        def fulfilled(r: Row, i: int) -> bool:
            return r[ST] == "3"  # type: ignore[no-any-return]

        def no_requester(r: Row) -> None:
            requests[r[REQ]][r_for] = ""

        def set_(col: int, value: Callable[[], str]) -> Callable[[Row], None]:
            def apply(r: Row) -> None:
                r[col] = value()
            return apply

        def unassign(r: Row) -> None:
            r[GRP] = r[ASG] = ""

        def late(r: Row) -> None:
            r[CLO] = fmt(min(_epoch(r[DUE]) + self.between(HOUR, 3 * DAY), last))

        return [
            _kind("request.logging.requester", ["requested_for"], live, no_requester),
            _kind("request.logging.catalog_item", ["cat_item"], live, set_(CAT, lambda: "")),
            _kind("request.logging.assignment_group", ["assignment_group", "assigned_to"],
                  lambda r, i: r[ST] in ("2", "3"),
                  unassign),
            _kind("request.approval.before_fulfilment", ["approval"],
                  lambda r, i: r[NEEDS] == "true" and r[ST] in ("2", "3"),
                  set_(APPR, lambda: self.pick(("requested", "rejected")))),
            _kind("request.fulfilment.within_target", ["closed_at"],
                  lambda r, i: fulfilled(r, i) and _epoch(r[DUE]) + 4 * DAY < last, late),
            _kind("request.closure.notes", ["close_notes"], fulfilled,
                  set_(NOTES, lambda: self.pick((*P.BOILERPLATE_FULFILMENT_NOTES, "")))),
            _kind("request.classification.not_incident", ["short_description"], live,
                  set_(SD, lambda: self.pick(P.INCIDENT_LIKE_REQUESTS))),
        ]

    def refresh_updated(self, sch: TableSchema) -> Callable[[Row], None]:
        cols = [sch.col(f) for f in ("opened_at", "resolved_at", "closed_at", "work_start",
                                     "work_end", "review_date") if f in sch.index]
        upd = sch.col("sys_updated_on")
        limit = self.fmt(self.A - 1)

        def fix(row: Row) -> None:
            latest = max([row[upd]] + [row[c] for c in cols if row[c]])
            row[upd] = min(latest, limit)

        return fix

    # -- driver ---------------------------------------------------------------------------
    def run(self) -> Dataset:
        self.reference_tables()
        changes = self.changes()
        self.tables["change_request"] = changes
        self.plant(CHANGE, changes, self.change_kinds(), self.refresh_updated(CHANGE))
        problems = self.problems(changes)
        self.plant(PROBLEM, problems, self.problem_kinds(changes),
                   self.refresh_updated(PROBLEM))
        incidents = self.incidents(problems, changes)
        protected = self.anchor_links(incidents, problems, changes)
        self.plant(INCIDENT, incidents, self.incident_kinds(protected, problems),
                   self.refresh_updated(INCIDENT))
        self.tables["problem"] = problems
        self.tables["incident"] = incidents
        self.service_requests()
        for name in ("incident_task", "problem_task", "change_task", "sc_task"):
            self.tables[name] = []
        for rows in self.tables.values():
            rows.sort(key=lambda r: r[0])
        created = self.fmt(self.A - 900 * DAY)
        self.tables["contract_sla"] = sorted([*definitions(created), *request_definitions(created)],
                                             key=lambda r: str(r[0]))
        self.tables["task_sla"] = sorted([
            *SlaGenerator(self.seed, self.A, self.fmt, self.defect_rate).run(
                incidents, self.planted),
            *RequestSlaGenerator(self.seed, self.A, self.fmt, self.defect_rate).run(
                self.tables["sc_req_item"], self.planted)], key=lambda r: str(r[0]))
        CmdbDefects(self.seed, self.defect_rate, self.fmt, self.A, self.groups).run(
            self.tables, self.planted)
        plant_misfiled_requests(self.seed, self.defect_rate, incidents, self.planted)
        return Dataset(seed=0, anchor=self.anchor, tables=self.tables, planted=self.planted)


CACHE_ENV = "SMS_SANDBOX_CACHE_DIR"


def _cache_file(cache_dir: Path, records: int, seed: int, defect_rate: float,
                anchor: datetime) -> Path:
    """Cache file name: parameters plus a digest of the generator's own source."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("dataset.py", "pools.py", "schema.py", "slas.py", "cmdb.py"):  # the whole generator
        digest.update((here / name).read_bytes())
    digest.update(repr((records, seed, defect_rate, anchor.isoformat())).encode())
    return cache_dir / f"sandbox-{records}-{seed}-{digest.hexdigest()[:16]}.marshal"


def generate(records: int = 2000, seed: int = 7, defect_rate: float = 0.2,
             anchor: datetime = DEFAULT_ANCHOR, cache_dir: str | Path | None = None) -> Dataset:
    """Generate a dataset: ``records`` incidents, 15 % problems, 25 % changes, references.

    With ``cache_dir`` (or ``$SMS_SANDBOX_CACHE_DIR``) the result is stored there with marshal
    and reloaded on the next call with the same parameters and generator source (about 4x
    faster than generating; opt-in, for benchmarks that restart large sandboxes).
    """
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError("defect_rate must be between 0 and 1")
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=timezone.utc)
    cache = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV) or None
    path = _cache_file(Path(cache), records, seed, defect_rate, anchor) if cache else None
    if path is not None and path.exists():
        gc.disable()
        try:
            tables, planted = marshal.loads(path.read_bytes())
        finally:
            gc.enable()
        gc.freeze()
        return Dataset(seed=seed, anchor=anchor, tables=tables, planted=planted,
                       records=records, defect_rate=defect_rate)
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small lists: the cyclic collector would rescan them repeatedly
    try:
        data = _Generator(records, seed, defect_rate, anchor).run()
    finally:
        if was_enabled:
            gc.enable()
    gc.freeze()  # long-lived rows: keep them out of later collections
    data.seed, data.records, data.defect_rate = seed, records, defect_rate
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps((data.tables, data.planted)))
        os.replace(tmp, path)
    return data


__all__ = ["DEFAULT_ANCHOR", "Dataset", "day_anchor", "generate"]
