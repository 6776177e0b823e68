"""Checks that a Jira site can serve a scan and write-back: auth, project access, issue types,
custom fields found by name, fields hidden from the user, link types, a done status for tasks.
Pure diagnosis: returns findings (the ServiceNow doctor's type), prints nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sms_conformance.connectors.base import NotRead
from sms_conformance.connectors.capabilities import Finding
from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.jira import jql
from sms_conformance.connectors.jira.assets import AssetsReader
from sms_conformance.connectors.jira.fieldmap import ProcessBinding
from sms_conformance.connectors.jira.search import SearchStats
from sms_conformance.connectors.jira.site import Site
from sms_conformance.connectors.jira.task_settings import JiraTaskSettings
from sms_conformance.model.errors import ConfigError, SourceError
from sms_conformance.model.records import Process
from sms_conformance.model.schema import target
from sms_conformance.model.slas import DERIVED as SLA_DERIVED
from sms_conformance.rules.fields import linked_conditions, rule_fields
from sms_conformance.rules.model import Rule

CHECKED = (ConfigError, SourceError)


class AssetsSite(Site, Protocol):
    """A site with its Assets reader (the configuration items the rules look up)."""

    assets: AssetsReader


def check(connector: AssetsSite, rules: Sequence[Rule],
          settings: Mapping[str, Any]) -> list[Finding]:
    """The Doctor capability: the site as the rules and `write_back.jira` need it."""
    tasks = JiraTaskSettings.from_settings(settings)
    fields = {p.value: set().union(*(rule_fields(r) for r in rules if r.process == p))
              for p in Process if any(r.process == p for r in rules)}
    readers: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        for name in sorted(rule_fields(rule)):
            readers.setdefault((rule.process.value, name), []).append(rule.id)
    findings = diagnose(connector, fields, task_types=(tasks.issue_type,),
                        task_link=tasks.link_type, readers=readers)
    if findings[0].level == "ok":  # authenticated
        findings.extend(_assets(connector, rules))
    return findings


def _assets(connector: AssetsSite, rules: Sequence[Rule]) -> list[Finding]:
    """Whether the Assets objects that the rules' `linked` checks look up (CIs, by the field
    map's `assets:`) can be read: a site without Assets, or refusing them, leaves those rules
    unknown, never failed."""
    readers: dict[str, list[str]] = {}
    for rule in rules:
        for linked in linked_conditions(rule.check):
            kind = target(rule.process, linked.field)
            if kind is not None and connector.assets.reads_kind(kind):
                readers.setdefault(kind, []).append(rule.id)
    findings: list[Finding] = []
    for kind, ids in readers.items():
        try:
            workspace = connector.assets.workspace(kind)
        except NotRead as exc:
            findings.append(Finding(
                "warn", f"Assets: {exc.reason}; {', '.join(sorted(set(ids)))} will be unknown",
                "enable Assets on the site and grant the user the Assets role that reads "
                "objects, or leave these rules off (disabled_rules)"))
        except CHECKED as exc:
            findings.append(Finding("fail", f"Assets cannot be read ({exc})",
                                    "check the site's Assets and the network path"))
        else:
            findings.append(Finding("ok", f"Assets workspace {workspace} readable ({kind})"))
    return findings


def diagnose(
    connector: Site,
    process_fields: Mapping[str, Iterable[str]],
    *,
    task_types: tuple[str, ...] = ("Task", "Sub-task"),
    task_link: str = "Relates",
    sample: int = 20,
    readers: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[Finding]:
    """Findings in order; stops after auth fails (nothing else can be known).
    `process_fields`: process -> canonical fields the rules read; `readers`: (process, field)
    -> the rules reading it (named where a field cannot be read)."""
    try:
        me = connector.who()
    except HTTPAuthError as exc:
        return [Finding("fail", f"authentication refused: {exc}", "check JIRA_EMAIL and "
                        "JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center)")]
    except SourceError as exc:
        return [Finding("fail", f"cannot read {connector.instance}: {exc}",
                        "check the site URL and the network path")]
    name = me.get("emailAddress") or me.get("displayName") or me.get("name") or "?"
    where = "Data Center, REST v2" if connector.api == "2" else "Cloud, REST v3"
    findings = [Finding("ok", f"authenticated at {connector.instance} as {name} ({where})")]
    wanted_types = {p.value: m.issue_types for p, m in connector.fieldmap.processes.items()}
    for key in connector.fieldmap.projects:
        findings.extend(_project(connector, key, wanted_types, task_types))
    findings.extend(_custom_fields(connector, readers or {}))
    if not any(f.level == "fail" and "fields cannot be listed" in f.message for f in findings):
        for process, fields in process_fields.items():
            findings.extend(_hidden(connector, Process(process), set(fields), sample))
    findings.extend(_link_types(connector, task_link))
    return findings


def _project(connector: Site, key: str, wanted_types: Mapping[str, tuple[str, ...]],
             task_types: tuple[str, ...]) -> list[Finding]:
    api = connector.api
    try:
        project = connector.client.get(f"/rest/api/{api}/project/{jql.project_key(key)}")
    except CHECKED as exc:
        return [Finding("fail", f"project {key}: cannot be read ({exc})",
                        "grant the user Browse projects on it")]
    if not isinstance(project, dict):
        return [Finding("fail", f"project {key} not found, or the user may not browse it",
                        "fix projects: in the Jira field map, or grant Browse projects")]
    types = {str(t.get("name", "")).casefold(): t for t in project.get("issueTypes") or []
             if isinstance(t, dict)}
    findings = [Finding("ok", f"project {key} ({project.get('name', '')}) readable")]
    for process, names in wanted_types.items():
        found = [t for t in names if t.casefold() in types]
        if found:
            findings.append(Finding("ok", f"project {key}: {process} issue type {found[0]}"))
        else:  # as a scan does: the process is skipped, not a stop
            findings.append(Finding(
                "warn", f"project {key}: no {process} issue type ({', '.join(names)}): a scan "
                f"skips {process} (its rules have no evidence)",
                "name the site's issue types under issue_types: in the Jira field map"))
    absent_tasks = [t for t in task_types if t.casefold() not in types]
    if absent_tasks:
        findings.append(Finding("warn", f"project {key}: no {', '.join(absent_tasks)} issue type "
                                "for remediation tasks", "add it to the project's scheme"))
    findings.extend(_done_status(connector, key, task_types))
    return findings


def _done_status(connector: Site, key: str, task_types: tuple[str, ...]
                 ) -> list[Finding]:
    """Whether the task types' workflow reaches a status in the done category."""
    try:
        statuses = connector.client.get(f"/rest/api/{connector.api}/project/{key}/statuses")
    except CHECKED as exc:
        return [Finding("warn", f"project {key}: statuses cannot be read ({exc})")]
    findings: list[Finding] = []
    for item in statuses if isinstance(statuses, list) else []:
        if not isinstance(item, dict) or str(item.get("name", "")).casefold() not in {
                t.casefold() for t in task_types}:
            continue
        done = [s.get("name") for s in item.get("statuses") or [] if isinstance(s, dict)
                and isinstance(s.get("statusCategory"), dict)
                and s["statusCategory"].get("key") == "done"]
        if done:
            findings.append(Finding("ok", f"{key} {item['name']}: done status {done[0]} for "
                                    "closing tasks"))
        else:
            findings.append(Finding("fail", f"{key} {item['name']}: no status in the done "
                                    "category: tasks cannot be closed",
                                    "add a Done status to the task workflow"))
    return findings


def _custom_fields(connector: Site, readers: Mapping[tuple[str, str], Sequence[str]]
                   ) -> list[Finding]:
    """Fields found by name (the first candidate the site has), and per field not read (a name
    the site lacks, one declared absent) the rules it blinds: a warning, as a scan goes on with
    those results unknown."""
    try:
        bindings = connector.bindings()
    except CHECKED as exc:
        return [Finding("fail", f"fields cannot be listed ({exc})")]
    findings = []
    found = 0
    for process, binding in bindings.items():
        found += sum(1 for c in binding.field_ids if binding.pmap.fields[c].name is not None)
        for canonical, reason in sorted(binding.unbound.items()):
            blinded = readers.get((process.value, canonical), ())
            effect = (f"unknown results for {', '.join(blinded)}" if blinded
                      else "no rule selected reads it")
            findings.append(Finding("warn", f"{reason}: {effect}"))
        findings.extend(_sla_fields(process, binding, readers))
    return [Finding("ok", f"{found} custom fields found by name"), *findings]


def _sla_fields(process: Process, binding: ProcessBinding,
                readers: Mapping[tuple[str, str], Sequence[str]]) -> list[Finding]:
    """The SLA fields the map lists (`slas:`) as the site has them, when a rule reads them."""
    blinded = sorted({r for (p, f), ids in readers.items() if p == process.value
                      and f in SLA_DERIVED for r in ids})
    if not binding.pmap.slas or not blinded:
        return []
    if binding.slas_unbound:
        return [Finding("warn", f"{binding.slas_unbound} ({', '.join(blinded)})",
                        "name the site's SLA fields under slas: in the Jira field map")]
    found = [name for name, _ in binding.sla_fields]
    missing = [n for n in binding.pmap.slas if n not in found]
    return [Finding("ok" if not missing else "warn",
                    f"{process.value}: SLA fields {', '.join(found)} found"
                    + (f"; not on the site: {', '.join(missing)}" if missing else ""))]


def _hidden(connector: Site, process: Process, fields: set[str], sample: int
            ) -> list[Finding]:
    """Fields asked for and never returned on sampled issues: hidden from the user (field
    security, a field not on the issue type's screens); rules reading them are unknown."""
    try:
        binding = connector.binding(process)
        if connector.missing_types(binding) is not None:
            return []  # said with the project: the process is skipped
        query = connector.query(binding, (), None)
        asked = binding.platform_fields(fields & binding.mapped())
        issues = []
        stats = SearchStats()
        for issue in connector.search(query or "", asked, stats):
            issues.append(issue)
            if len(issues) >= sample:
                break
    except CHECKED as exc:
        return [Finding("fail", f"{process.value}: issues cannot be searched ({exc})")]
    if not issues:
        return [Finding("warn", f"{process.value}: no issues to sample; hidden fields not checked")]
    returned = {k for issue in issues if isinstance(issue.get("fields"), dict)
                for k in issue["fields"]}
    hidden = sorted(set(asked) - returned)
    if hidden:
        names = [c for c, f in binding.field_ids.items() if f in hidden]
        return [Finding(
            "fail", f"{process.value}: field(s) {', '.join(hidden)} ({', '.join(sorted(names))}) "
            f"never returned on {len(issues)} sampled issues: hidden from the user or not on the "
            "issue type's screens; rules reading them give unknown results",
            "grant the user access to the fields, or add them to the screens")]
    return [Finding("ok", f"{process.value}: all {len(asked)} fields returned on "
                    f"{len(issues)} sampled issues")]


def _link_types(connector: Site, task_link: str) -> list[Finding]:
    try:
        body: Any = connector.client.get(f"/rest/api/{connector.api}/issueLinkType")
    except CHECKED as exc:
        return [Finding("fail", f"link types cannot be listed ({exc})")]
    present = {str(t.get("name", "")).casefold() for t in (body or {}).get("issueLinkTypes") or []
               if isinstance(t, dict)}
    wanted = sorted({s.link for p in connector.fieldmap.processes.values()
                     for s in p.fields.values() if s.link} | {task_link})
    missing = [n for n in wanted if n.casefold() not in present]
    if missing:
        return [Finding("fail", f"link type(s) {', '.join(missing)} not on the site",
                        "create them (Settings -> Issues -> Issue linking) or map the links "
                        "to the site's names")]
    return [Finding("ok", f"link types {', '.join(wanted)} present")]
