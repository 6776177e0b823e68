"""What `doctor` can and cannot check on a directory of Jira exports: the shape and issues read,
per process the fields the rules read that the export does not carry (their results unknown)
or leaves empty, references given by name, and what only a live site can answer. Pure
diagnosis: returns findings, prints nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.capabilities import Finding, Reads
from sms_conformance.connectors.jira.export_model import JiraExport
from sms_conformance.connectors.jira.fieldmap import ProcessBinding
from sms_conformance.engine.coverage import coverage
from sms_conformance.model.records import NamedRef, Process
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.model import Rule

SOURCES = {"rest": "saved REST search pages", "csv": "Jira's CSV export"}
FIELD_NAMES = {True: "field.json", False: "the export's own field names"}


class ExportSource(Reads, Protocol):
    """The file connector as its doctor reads it (the connector imports this module)."""

    export: JiraExport
    bindings: dict[Process, ProcessBinding]


def check(connector: ExportSource, rules: Sequence[Rule]) -> list[Finding]:
    export = connector.export
    has_fields = (export.directory / "field.json").is_file()
    findings = [Finding("ok", f"{export.directory}: {SOURCES[export.shape]}, "
                              f"{len(export.issues)} issues in {len(export.files)} file(s); "
                              f"custom fields found by name through {FIELD_NAMES[has_fields]}")]
    if export.dates:
        findings.append(Finding("ok", f"dates without a zone read {export.dates}; minutes, no "
                                      "seconds (as the export shows them)"))
    findings += [Finding("warn", notice) for notice in connector.notices]
    del connector.notices[:]  # said here; the coverage pass below adds its own
    for cov in coverage(connector, rules):
        if not cov.records:
            findings.append(Finding(
                "warn", f"no {cov.process} issues in the export: its rules have no evidence, "
                        f"links into {cov.process} issues are unknown"))
            continue
        findings.append(Finding("ok", f"{cov.process}: {cov.records} issues"))
        for name, reason in sorted(cov.not_provided.items()):
            findings.append(Finding("warn", f"{cov.process}.{name}: {reason}; results unknown "
                                            f"for {', '.join(sorted(cov.blinded[name]))}"))
        for name in sorted(cov.always_empty):
            findings.append(Finding("warn", f"{cov.process}.{name}: empty on every issue "
                                            "(unused, or left out of the export); rules "
                                            f"reading it: {', '.join(sorted(cov.blinded[name]))}"))
    findings += _named(connector, rules)
    findings.append(Finding(
        "warn", "an export cannot show: the credentials, the site's clock, issues the export "
                "left out (links to them read as links to issues that are not there), or "
                "where write-back tasks would go: run doctor on the site for those"))
    del connector.notices[:]
    return findings


def _named(connector: ExportSource, rules: Sequence[Rule]) -> list[Finding]:
    """References the export gives by display name (a CSV's groups, services, CIs)."""
    findings = []
    for process in Process:
        fields = frozenset(set().union(*(rule_fields(r) for r in rules if r.process == process)))
        if not fields or process not in connector.bindings:
            continue
        examples: dict[str, str] = {}
        for record in connector.fetch(FetchRequest(process, (), fields)):
            for name, value in record.fields.items():
                if isinstance(value, NamedRef) and name not in examples:
                    examples[name] = value.id
        if examples:
            listed = ", ".join(f"{n} (e.g. {v!r})" for n, v in sorted(examples.items()))
            findings.append(Finding(
                "warn", f"{process.value}: the export gives {listed} by name, not id: they "
                        "count as set, but the records they name cannot be looked up"))
    return findings
