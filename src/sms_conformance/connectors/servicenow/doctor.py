"""Checks that a ServiceNow instance can serve a scan: reachability, auth, table and field access,
clock skew. Pure diagnosis: returns findings, prints nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from sms_conformance.connectors.capabilities import Finding
from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.servicenow.client import Page, TableClient
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.connectors.servicenow.paging import BASE_PARAMS, text
from sms_conformance.connectors.servicenow.query import check_field, condition
from sms_conformance.connectors.servicenow.writeback import ServiceNowTaskSettings
from sms_conformance.model.errors import ConfigError, SourceError
from sms_conformance.model.schema import Process, target
from sms_conformance.model.slas import reads_slas
from sms_conformance.rules.fields import condition_fields, linked_conditions, rule_fields
from sms_conformance.rules.model import Rule

__all__ = ["Finding", "check", "diagnose", "task_tables"]
MAX_SKEW = 60.0


class Instance(Protocol):
    """What the doctor reads through: the connector's client, its URL and field map."""

    client: TableClient
    instance: str
    fieldmap: FieldMap




def check(connector: Instance, rules: Sequence[Rule],
          settings: Mapping[str, Any]) -> list[Finding]:
    """The Doctor capability: the tables and fields the rules read, then (once reached and
    authenticated) that every write-back table extends task."""
    needed: dict[str, set[str]] = {}
    for process in Process:
        chosen = [r for r in rules if r.process == process]
        if chosen:
            pmap = connector.fieldmap.for_process(process)
            fields = set().union(*(rule_fields(r) for r in chosen))
            needed[pmap.table] = set(pmap.platform_fields(fields))
            if pmap.slas is not None and reads_slas(fields):  # the SLA records (task_sla)
                needed.setdefault(pmap.slas.table, set()).update(pmap.slas.platform_fields())
            # the table a dot-walked field is read through, checked beside the table read
            for walked, (_, through, tail) in pmap.walked().items():
                if walked in needed[pmap.table]:
                    needed.setdefault(through, set()).add(tail)
    for table, fields in referenced_reads(connector.fieldmap, rules).items():
        needed.setdefault(table, set()).update(fields)
    findings = diagnose(connector, needed)
    if findings[0].level == "ok":  # reached and authenticated
        targets = ServiceNowTaskSettings.from_settings(settings).targets.values()
        findings += task_tables(connector, [t.table for t in targets])
    return findings


def referenced_reads(fieldmap: FieldMap, rules: Sequence[Rule]) -> dict[str, set[str]]:
    """The tables of referenced records (CIs, services: `referenced:` in the field map) that
    the rules' `linked` checks look up, with the platform fields their `where` reads and the
    name the findings show."""
    reads: dict[str, set[str]] = {}
    for rule in rules:
        for linked in linked_conditions(rule.check):
            kind = target(rule.process, linked.field)
            kmap = fieldmap.referenced.get(kind) if kind is not None else None
            if kmap is None:
                continue
            wanted = {"name"}.union(*(condition_fields(where) for where in linked.where))
            reads.setdefault(kmap.table, set()).update(
                kmap.fields[name].field for name in wanted if name in kmap.fields)
    return reads


def diagnose(
    connector: Instance,
    tables_and_fields: Mapping[str, Iterable[str]],
    *,
    sample: int = 100,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> list[Finding]:
    """Findings in order; stops after reachability or auth fails (nothing else can be known)."""
    findings: list[Finding] = []
    tables = {table: sorted(set(fields)) for table, fields in tables_and_fields.items()}
    first = next(iter(tables), "sys_user")
    try:
        page = _read(connector, first, ["sys_id"], 1)
    except HTTPAuthError as exc:
        if exc.status == 401:
            return [Finding("fail", f"authentication refused: {exc}",
                            "check the credentials in the environment (SERVICENOW_*)")]
        page = None  # 403 on this table: reported per table below
    except SourceError as exc:
        return [Finding("fail", f"cannot read {connector.instance}: {exc}",
                        "check the instance URL, the network path and that it is awake")]
    findings.append(Finding("ok", f"reached {connector.instance} and authenticated"))
    if page is not None:
        findings.append(_clock(page, now()))
    for table, fields in tables.items():
        findings.extend(_table(connector, table, fields, sample))
    return findings


def _read(connector: Instance, table: str, fields: list[str], limit: int,
          query: str = "") -> Page:
    return connector.client.list(check_field(table), {
        **BASE_PARAMS,
        "sysparm_fields": ",".join(sorted({"sys_id", *fields})),
        "sysparm_limit": str(limit),
        "sysparm_no_count": "true",
        **({"sysparm_query": query} if query else {}),
    })


def task_tables(connector: Instance, tables: Iterable[str]) -> list[Finding]:
    """Each write-back table must extend `task` (sys_db_object.super_class, followed upwards):
    the tool only ever writes remediation tasks."""
    findings: list[Finding] = []
    for table in sorted(set(tables)):
        try:
            lineage = _lineage(connector, table)
        except (HTTPAuthError, SourceError) as exc:
            findings.append(Finding(
                "warn", f"{table}: cannot read sys_db_object to check it extends task ({exc})",
                "grant the integration user read access to sys_db_object, or check by hand"))
            continue
        if not lineage:
            findings.append(Finding("fail", f"write-back table {table} does not exist",
                                    "fix write_back.targets in config/settings.yaml"))
        elif "task" in lineage[1:]:
            findings.append(Finding("ok", f"write-back table {table} extends task "
                                    f"({' -> '.join(lineage)})"))
        else:
            findings.append(Finding(
                "fail", f"write-back table {table} does not extend task ({' -> '.join(lineage)})",
                "write-back writes only task tables: name one that extends task in "
                "write_back.targets and write_back.custom_task_tables"))
    return findings


def _lineage(connector: Instance, table: str, depth: int = 10) -> list[str]:
    """[table, its super class, that one's ...]; empty when the table is unknown."""
    names: list[str] = []
    query = condition("name", [table])
    while query and len(names) < depth:
        rows = _read(connector, "sys_db_object", ["name", "super_class"], 1, query).rows
        if not rows:
            break
        names.append(text(rows[0].get("name")))
        parent = text(rows[0].get("super_class"))
        query = condition("sys_id", [parent]) if parent else ""
    return names


def _clock(page: Page, local: datetime) -> Finding:
    header = page.headers.get("Date")
    if not header:
        return Finding("warn", "the instance sent no Date header: clock skew unknown")
    try:
        remote = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return Finding("warn", f"unreadable Date header {header!r}: clock skew unknown")
    if remote.tzinfo is None:
        remote = remote.replace(tzinfo=timezone.utc)
    skew = (local - remote).total_seconds()
    if abs(skew) > MAX_SKEW:
        return Finding(
            "warn", f"local clock is {skew:+.0f} s off the instance's",
            "sync this machine's clock (NTP): --since windows and ages depend on it",
        )
    return Finding("ok", f"clock skew {skew:+.0f} s")


def _table(
    connector: Instance, table: str, fields: list[str], sample: int
) -> list[Finding]:
    try:
        for name in fields:
            check_field(name)
        page = _read(connector, table, fields, sample)
    except ConfigError as exc:
        return [Finding("fail", f"{table}: {exc}", "fix the field map or the rule")]
    except HTTPAuthError as exc:
        return [Finding("fail", f"{table}: no read access ({exc})",
                        f"grant the integration user a role that reads {table} (e.g. itil)")]
    except SourceError as exc:
        return [Finding("fail", f"{table}: cannot be read: {exc}",
                        "check the table name in the field map")]
    if not page.rows:
        return [Finding("warn", f"{table}: no readable rows (empty, or hidden by ACLs); "
                        "field checks skipped", f"check the read ACLs on {table}")]
    seen = {key for row in page.rows for key in row}
    unknown = [f for f in fields if f not in seen]
    empty = [f for f in fields if f in seen and not any(text(r.get(f)) for r in page.rows)]
    findings = [Finding("ok", f"{table}: readable ({len(page.rows)} sampled rows)")]
    if unknown:
        findings.append(Finding(
            "fail", f"{table}: unknown field(s) {', '.join(unknown)} (ServiceNow silently "
            "ignores unknown fields, so rules would see them as always empty)",
            "map the canonical field to the instance's field in config/fieldmap.yaml",
        ))
    hidden = [f for f in empty if _hidden(connector, table, f)]
    if hidden:
        findings.append(Finding(
            "fail", f"{table}: field(s) {', '.join(hidden)} hidden from the integration user "
            "(the instance finds records where they are not empty, and returns them empty): "
            "rules reading them give unknown results, and no task is created or closed on them",
            f"grant the integration user read access to {', '.join(hidden)} (field ACLs)",
        ))
    empty = [f for f in empty if f not in hidden]
    if empty:
        findings.append(Finding(
            "warn", f"{table}: field(s) {', '.join(empty)} empty on all {len(page.rows)} "
            "sampled rows: unused, or hidden from the integration user by a field ACL",
            "check the field ACLs for the integration user",
        ))
    return findings


def _hidden(connector: Instance, table: str, field: str) -> bool:
    """A record the instance selects as `field` not empty but returns with `field` empty is
    hidden by a field ACL. An instance that also refuses queries on the field returns no row:
    then this cannot tell, and the scan's comparison with the last complete scan decides."""
    try:
        page = connector.client.list(check_field(table), {
            **BASE_PARAMS, "sysparm_query": f"{check_field(field)}ISNOTEMPTY",
            "sysparm_fields": f"sys_id,{field}", "sysparm_limit": "1", "sysparm_no_count": "true",
        })
    except SourceError:
        return False
    return any(not text(row.get(field)) for row in page.rows)
