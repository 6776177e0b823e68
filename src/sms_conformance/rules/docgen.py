"""Markdown reference of a rule pack, generated from the rules themselves (docs/rules.md)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import yaml

from sms_conformance.rules import model as m

CLAUSE_TITLES = {
    "4.4": "Service management system",
    "8.2.6": "Configuration management",
    "8.3.3": "Service level management",
    "8.5.1": "Change management",
    "8.5.3": "Release and deployment management",
    "8.6.1": "Incident management",
    "8.6.2": "Service request management",
    "8.6.3": "Problem management",
    "10.1": "Nonconformity and corrective action",
}

_COMPARE_WORDS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=", "ne": "!="}
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def render_reference(rules: Iterable[m.Rule]) -> str:
    """The whole reference: a summary table, then every rule grouped by clause."""
    ordered = sorted(rules, key=lambda r: (_clause_key(r.clause), r.id))
    lines = [
        "# Rule reference",
        "",
        "<!-- Generated from the rule pack by `sms-conformance rules docs --output docs/rules.md`;",
        "     do not edit by hand. -->",
        "",
        f"{len(ordered)} rules. A rule looks only at the records in its scope; every check listed",
        "must hold, and a check with a condition (\"only when ...\") holds when the condition does",
        "not. Field names are the canonical names of the field map, values are canonical values.",
        "In the examples, a reference written as a mapping is a linked record that exists (with",
        "those fields), written as text it is an id that resolves to nothing; `_referenced_by`",
        "says how many records of another process point at this one; `_settings` runs the",
        "example with those settings (the checks shown are those of the shipped settings).",
        "",
        "| Rule | Clause | Severity | Title |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r.id}` | {r.clause} | {r.severity.value} | {_cell(r.title)} |" for r in ordered
    ]
    clause = None
    for rule in ordered:
        if rule.clause != clause:
            clause = rule.clause
            title = CLAUSE_TITLES.get(clause)
            lines += ["", f"## Clause {clause}" + (f": {title}" if title else "")]
        lines += ["", *render_rule(rule)]
    return "\n".join(lines) + "\n"


def render_rule(rule: m.Rule) -> list[str]:
    lines = [
        f"### `{rule.id}`",
        "",
        f"**{rule.title}**",
        "",
        f"- Clause: {rule.clause}",
        f"- Process: {rule.process.value}",
        f"- Severity: {rule.severity.value}",
        f"- Scope: {describe_scope(rule.scope)}",
    ]
    if rule.aliases:
        lines.append("- Formerly: " + ", ".join(f"`{a}`" for a in rule.aliases))
    if rule.off_reason:
        lines.append(f"- Off by default: {rule.off_reason}")
    lines += ["", "Checks (every one must hold):", ""]
    lines += [f"- {_bare(c)}" for c in rule.check]
    lines += ["", f"Message: `{rule.message}`"]
    if rule.why:
        lines += ["", f"Why: {_prose(rule.why)}"]
    lines += ["", f"Remediation: {_prose(rule.remediation)}"]
    examples = [("pass", e) for e in rule.examples.pass_] + [("fail", e) for e in rule.examples.fail]
    if examples:
        lines += ["", "Examples:", ""]
        lines += [f"- {kind}: `{_flow(example)}`" for kind, example in examples]
    return lines


def describe_scope(scope: Mapping[str, tuple[Any, ...]]) -> str:
    if not scope:
        return "every record of the process"
    parts = []
    for name, values in scope.items():
        if len(values) == 1:
            parts.append(f"`{name}` is {_value(values[0])}")
        else:
            parts.append(f"`{name}` is one of {_values(values)}")
    return "; ".join(parts)


def describe(condition: m.Condition) -> str:
    """One readable sentence for a condition, its `when` included."""
    text = _describe(condition)
    if condition.when is not None:
        text += f" (only when {_bare(condition.when)})"
    return text


def _bare(condition: m.Condition) -> str:
    """A condition without the parentheses around a top-level `all` / `any`."""
    text = describe(condition)
    if isinstance(condition, (m.AllOf, m.AnyOf)) and condition.when is None:
        return text[1:-1]
    return text


def _describe(c: m.Condition) -> str:
    if isinstance(c, m.FieldCheck):
        return _field_check(c)
    if isinstance(c, m.Compare):
        other = f"`{c.other_field}`" if c.other_field else _value(c.value)
        return f"`{c.field}` {_COMPARE_WORDS[c.op]} {other}"
    if isinstance(c, m.Matrix):
        cells = ", ".join(
            f"({row}, {col}) -> {result}"
            for row, cols in sorted(c.table.items())
            for col, result in sorted(cols.items())
        )
        lookup = ("the instance's priority lookup where the scan can read it (ServiceNow "
                  "dl_u_priority), else " if c.lookup else "")
        return f"`{c.field}` equals {lookup}the lookup of (`{c.row}`, `{c.column}`): {cells}"
    if isinstance(c, m.Within) and c.outcome:
        return (f"`{c.outcome}` is true where the record carries the platform's own outcome; "
                f"otherwise {_describe(dataclasses.replace(c, outcome=None))}")
    if isinstance(c, m.Within):
        if c.by is None:
            target = _duration(next(iter(c.targets.values())))
            return f"time from `{c.start}` to `{c.end}` is at most {target}"
        targets = ", ".join(
            f"{key}: {_duration(value)}" for key, value in sorted(c.targets.items(), key=_key)
        )
        return (
            f"time from `{c.start}` to `{c.end}` is at most the target for `{c.by}` ({targets})"
        )
    if isinstance(c, m.OlderThan):
        return f"`{c.field}` is more than {_duration(c.age)} before now"
    if isinstance(c, m.Linked):
        target = c.target_process.value if c.target_process else "linked"
        text = f"`{c.field}` points at an existing {target} record"
        if c.where:
            text += " whose " + " and ".join(describe(w) for w in c.where)
        return text
    if isinstance(c, m.ReferencedBy):
        noun = "record" if c.min == 1 else "records"
        return (
            f"at least {c.min} {c.process.value} {noun} reference{'s' if c.min == 1 else ''}"
            f" this one through `{c.field}`"
        )
    if isinstance(c, m.SettingIs):
        return f"the setting `{c.name}` is one of {_values(c.values)}"
    if isinstance(c, m.AllOf):
        return "(" + " and ".join(describe(i) for i in c.items) + ")"
    if isinstance(c, m.AnyOf):
        return "(" + " or ".join(describe(i) for i in c.items) + ")"
    if isinstance(c, m.Not):
        return f"not: {describe(c.item)}"
    raise TypeError(f"no description for {type(c).__name__}")


def _field_check(c: m.FieldCheck) -> str:
    name = f"`{c.field}`"
    arg = c.arg
    if c.op in ("present", "absent"):
        is_set = arg if c.op == "present" else not arg
        return f"{name} is {'set' if is_set else 'empty'}"
    if c.op == "equals":
        return f"{name} equals {_value(arg)}"
    if c.op == "not_equals":
        return f"{name} does not equal {_value(arg)} (or is empty)"
    if c.op == "in":
        return f"{name} is one of {_values(sorted(arg, key=_key))}"
    if c.op == "not_in":
        return f"{name} is none of {_values(sorted(arg, key=_key))} (or is empty)"
    if c.op == "matches":
        return f"{name} matches `{arg.pattern}`"
    if c.op == "not_matches":
        return f"{name} does not match `{arg.pattern}` (or is empty)"
    if c.op == "min_length":
        return f"{name} has at least {arg} characters (leading and trailing spaces ignored)"
    return f"{name} {c.op} {_value(arg)}"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in _UNITS:
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{value.total_seconds():g}s"


def _key(item: Any) -> tuple[str, str]:
    value = item[0] if isinstance(item, tuple) else item
    return (type(value).__name__, f"{value:>12}" if isinstance(value, int) else str(value))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    return f"`{value}`"


def _values(values: Iterable[Any]) -> str:
    return ", ".join(_value(v) for v in values)


def _flow(example: Mapping[str, Any]) -> str:
    text = yaml.safe_dump(
        dict(example), default_flow_style=True, sort_keys=False, width=10**6, allow_unicode=True
    )
    return text.strip()


def _prose(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _clause_key(clause: str) -> tuple[int, ...]:
    return tuple(int(part) for part in clause.split(".") if part.isdigit())
