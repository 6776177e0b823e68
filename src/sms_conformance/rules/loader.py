"""Loads rule files into validated Rule objects; errors name file, line and rule id."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sms_conformance.model.errors import ConfigFileError, RuleError
from sms_conformance.model.schema import LIFECYCLE_STATES, PlatformMap, unmapped_fields
from sms_conformance.rules.checks import FIELD_OPERATORS
from sms_conformance.rules.examples import SETTINGS
from sms_conformance.rules.fields import optional_fields, rule_fields
from sms_conformance.rules.model import (
    AllOf,
    AnyOf,
    Condition,
    FieldCheck,
    Not,
    Rule,
    RuleSpec,
    SettingIs,
)
from sms_conformance.rules.parse import CheckSyntaxError, ConditionParser
from sms_conformance.support.strict_yaml import MAX_BYTES, SourceDoc, load_yaml

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def builtin_pack_dir() -> Path:
    return Path(str(resources.files("sms_conformance").joinpath("rules/iso20000")))


def rule_files(path: Path) -> list[Path]:
    """A rule file, or every *.yaml / *.yml under a directory, in a stable order."""
    if not path.exists():
        raise RuleError("no such file or directory", path=path)
    if path.is_file():
        return [path]
    return sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")])


_ID_LINE = re.compile(r"^id:\s*[\"']?([A-Za-z0-9_.]+)", re.MULTILINE)


def _id_from_text(path: Path) -> str:
    """The rule id of a file YAML cannot parse: its `id:` line, else the file stem."""
    try:
        with path.open("rb") as handle:
            head = handle.read(MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        head = ""
    match = _ID_LINE.search(head)
    return match.group(1) if match else path.stem


def _setting_line(node: yaml.Node, name: str) -> int | None:
    """Line of the first `{setting: name}` mapping in the YAML node tree."""
    if isinstance(node, yaml.MappingNode):
        if len(node.value) == 1 and node.value[0][0].value == "setting" \
                and getattr(node.value[0][1], "value", None) == name:
            return int(node.start_mark.line) + 1
        children = [value for _, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        return None
    for child in children:
        if (line := _setting_line(child, name)) is not None:
            return line
    return None


def load_rule(path: Path, platform_map: PlatformMap, settings: Mapping[str, Any]) -> Rule:
    try:
        doc = load_yaml(path)
    except ConfigFileError as exc:
        raise RuleError(
            exc.problem, path=exc.path, line=exc.line, rule_id=_id_from_text(path)
        ) from None
    if doc.root is None:
        raise RuleError("empty file", path=path, rule_id=path.stem)
    if not isinstance(doc.data, Mapping):
        raise RuleError(
            "a rule file holds one mapping (one rule per file)", path=path, line=1,
            rule_id=path.stem,
        )
    rule_id = str(doc.data.get("id", "")) or path.stem
    missing: list[str] = []
    data = substitute(doc.data, settings, missing)
    if missing:
        raise RuleError(
            f"unknown setting {missing[0]!r}", path=path,
            line=_setting_line(doc.root, missing[0]) or 1, rule_id=rule_id,
        )
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        located = doc.error(exc)
        raise RuleError(
            f"{located.key}: {located.problem}" if located.key else located.problem,
            path=path, line=located.line, rule_id=rule_id,
        ) from None
    return _build(spec, doc, platform_map, settings)


def _build(spec: RuleSpec, doc: SourceDoc, platform_map: PlatformMap,
           settings: Mapping[str, Any]) -> Rule:
    def fail(problem: str, location: tuple[str | int, ...]) -> RuleError:
        return RuleError(problem, path=doc.path, line=doc.line(location), rule_id=spec.id)

    if doc.path.stem != spec.id and doc.path.suffix in (".yaml", ".yml"):
        raise fail(f"file name must be the rule id ({spec.id}.yaml)", ("id",))
    parser = ConditionParser(spec.process, settings)
    try:
        check = tuple(_fold(parser.parse(item, ("check", i))) for i, item in enumerate(spec.check))
    except CheckSyntaxError as exc:
        raise fail(str(exc), exc.location) from None
    scope: dict[str, tuple[Any, ...]] = {}
    for name, value in spec.scope.items():
        try:
            parser.field_name(name, ("scope", name))
        except CheckSyntaxError as exc:
            raise fail(str(exc), exc.location) from None
        values = tuple(value) if isinstance(value, list) else (value,)
        states = LIFECYCLE_STATES[spec.process]
        if name == "state" and (bad := [v for v in values if v not in states]):
            raise fail(f"unknown {spec.process.value} state {bad[0]!r}; one of {states}", ("scope", name))
        scope[name] = values
    for match in PLACEHOLDER.finditer(spec.message):
        field = match.group(1)
        try:
            parser.field_name(field, ("message",))
        except CheckSyntaxError:
            raise fail(f"message placeholder {{{field}}} is not a canonical field", ("message",)) from None
    rule = Rule(
        id=spec.id, title=spec.title, clause=spec.clause, process=spec.process,
        severity=spec.severity, scope=scope, check=check, message=spec.message,
        remediation=spec.remediation.strip(), why=spec.why.strip(), aliases=tuple(spec.aliases),
        enabled=spec.enabled, examples=spec.examples, source=doc.path,
        optional=tuple(spec.optional),
    )
    for i, name in enumerate(spec.optional):
        try:
            parser.field_name(name, ("optional", i))
        except CheckSyntaxError as exc:
            raise fail(str(exc), exc.location) from None
    for kind, examples in (("pass", spec.examples.pass_), ("fail", spec.examples.fail)):
        for i, example in enumerate(examples):
            given = example.get(SETTINGS, {})
            if not isinstance(given, Mapping) or (bad := [k for k in given if k not in settings]):
                where = ("examples", kind, i, SETTINGS)
                raise fail(f"{SETTINGS}: unknown setting {bad[0]!r}" if isinstance(
                    given, Mapping) else f"{SETTINGS} must map setting names to values", where)
    lacking = set(unmapped_fields(platform_map, spec.process, spec.optional))
    if lacking:
        rule = dataclasses.replace(rule, check=tuple(_absent(c, lacking) for c in rule.check))
    # Valid on every platform; off on this one while it does not fill a field the rule reads.
    unmapped = unmapped_fields(platform_map, spec.process, rule_fields(rule) - optional_fields(rule))
    if unmapped:
        rule = dataclasses.replace(
            rule, off_reason=platform_map.off_reason(spec.process, unmapped))
    elif all(c.when is not None and _never(c.when) for c in rule.check):
        # No record can fail it: its settings leave only optional fields this platform lacks
        # (major incidents by a flag the field map declares absent), or nothing at all.
        reason = (platform_map.off_reason(spec.process, sorted(lacking)) if lacking else
                  "off: with these settings no check of it can apply")
        rule = dataclasses.replace(rule, off_reason=reason)
    return rule


def _fold(c: Condition) -> Condition:
    """`c` with its `setting:` tests decided: an `all` holding a false one is that test, an
    `any` holding a true one that test; the decided others drop out of the junction."""
    when = _fold(c.when) if c.when is not None else None
    if isinstance(c, (AllOf, AnyOf)):
        items = tuple(_fold(i) for i in c.items)
        decisive = isinstance(c, AnyOf)
        settled = [i for i in items if isinstance(i, SettingIs) and i.when is None]
        if deciding := next((i for i in settled if i.holds is decisive), None):
            return dataclasses.replace(deciding, when=when)
        kept = tuple(i for i in items if not any(i is d for d in settled))
        if not kept:
            return dataclasses.replace(settled[-1], when=when)
        if len(kept) == 1 and kept[0].when is None:
            return dataclasses.replace(kept[0], when=when)
        return dataclasses.replace(c, items=kept, when=when)
    if isinstance(c, Not):
        return dataclasses.replace(c, item=_fold(c.item), when=when)
    return dataclasses.replace(c, when=when) if when is not c.when else c


def _never(c: Condition) -> bool:
    """Whether `c` cannot hold on any record: a false `setting:` test, a check of an absent
    field that empty does not pass, and junctions of them."""
    if c.when is not None:
        return False
    if isinstance(c, SettingIs):
        return not c.holds
    if isinstance(c, FieldCheck) and c.absent:
        return not FIELD_OPERATORS[c.op].test(None, c.arg)
    if isinstance(c, AllOf):
        return any(_never(i) for i in c.items)
    if isinstance(c, AnyOf):
        return all(_never(i) for i in c.items)
    return False


def _absent(c: Condition, names: set[str]) -> Condition:
    """`c` with its checks on `names` (optional fields the platform lacks) reading empty."""
    when = _absent(c.when, names) if c.when is not None else None
    if isinstance(c, FieldCheck) and c.field in names:
        return dataclasses.replace(c, absent=True, when=when)
    if isinstance(c, (AllOf, AnyOf)):
        return dataclasses.replace(c, items=tuple(_absent(i, names) for i in c.items), when=when)
    if isinstance(c, Not):
        return dataclasses.replace(c, item=_absent(c.item, names), when=when)
    return dataclasses.replace(c, when=when) if when is not c.when else c


def load_rules(
    paths: Iterable[Path], platform_map: PlatformMap, settings: Mapping[str, Any], *,
    include_off: bool = False,
) -> list[Rule]:
    """Rules from each path in order; a later rule with the same id (or alias) replaces it.
    Rules that are off (a field they read is not mapped on this platform) only with
    `include_off`."""
    by_id: dict[str, Rule] = {}
    for path in paths:
        seen_here: dict[str, Path] = {}
        for file in rule_files(path):
            rule = load_rule(file, platform_map, settings)
            if rule.id in seen_here:
                raise RuleError(
                    f"duplicate rule id (also in {seen_here[rule.id]})", path=file, rule_id=rule.id
                )
            seen_here[rule.id] = file
            for old in (rule.id, *rule.aliases):
                by_id.pop(old, None)
            by_id[rule.id] = rule
    disabled = [str(p) for p in settings.get("disabled_rules", [])]
    return [
        rule for rule in by_id.values()
        if rule.enabled and not any(fnmatch.fnmatch(rule.id, pat) for pat in disabled)
        and (include_off or not rule.off_reason)
    ]


def render_message(rule: Rule, values: Mapping[str, Any]) -> str:
    """Fill `{field}` placeholders with plain text; nothing in record data is executed."""
    return PLACEHOLDER.sub(lambda m: _text(values.get(m.group(1)), m.group(1)), rule.message)


def _text(value: Any, name: str = "") -> str:
    if value is None or value == "":
        return "(empty)"
    if name == "state" and isinstance(value, str):
        return state_label(value)
    return str(getattr(value, "id", value))


def state_label(state: str) -> str:
    """A canonical state as people read it: `in_progress` -> `In Progress`, `assess` -> `Assess`."""
    return state.replace("_", " ").title()


def substitute(data: Any, settings: Mapping[str, Any], missing: list[str]) -> Any:
    """Replace every `{setting: NAME}` mapping in rule data by the setting's value."""
    if isinstance(data, Mapping):
        if set(data) == {"setting"}:
            name = data["setting"]
            if not isinstance(name, str) or name not in settings:
                missing.append(str(name))
                return data
            return settings[name]
        return {key: substitute(value, settings, missing) for key, value in data.items()}
    if isinstance(data, list):
        return [substitute(item, settings, missing) for item in data]
    return data
