"""Shared helpers for the rule tests: the built-in pack, a frozen clock, ad-hoc rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, load_field_map
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.engine.results import RuleResult
from sms_conformance.model.records import Process
from sms_conformance.rules.checks import Context
from sms_conformance.rules.examples import build_example, example_settings
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.rules.model import Rule, Severity
from sms_conformance.rules.parse import ConditionParser

FROZEN_NOW = datetime(2026, 11, 1, 0, 0, 0, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def fieldmap() -> FieldMap:
    return load_field_map()


@lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    return load_settings()


@lru_cache(maxsize=1)
def pack() -> tuple[Rule, ...]:
    """The built-in ISO/IEC 20000-1 pack with the shipped field map and settings."""
    return tuple(load_rules([builtin_pack_dir()], fieldmap(), settings(), include_off=True))


@lru_cache(maxsize=8)
def pack_with(given: tuple[tuple[str, Any], ...] = ()) -> tuple[Rule, ...]:
    """The pack loaded with these settings over the shipped ones (an example's `_settings`)."""
    if not given:
        return pack()
    return tuple(load_rules([builtin_pack_dir()], fieldmap(), {**settings(), **dict(given)},
                            include_off=True))


def rule_for(rule: Rule, example: Mapping[str, Any]) -> Rule:
    """`rule` as its example is run: loaded again with the example's `_settings`, if any."""
    given = tuple(sorted(example_settings(example).items()))
    return next(r for r in pack_with(given) if r.id == rule.id) if given else rule


def run_example(rule: Rule, example: Mapping[str, Any]) -> RuleResult:
    rule = rule_for(rule, example)
    record, links = build_example(rule, example)
    return evaluate_one(rule, record, Context(now=FROZEN_NOW, links=links))


def make_rule(check: list[dict[str, Any]], process: str = "incident") -> Rule:
    """A throwaway rule around `check`, parsed exactly as the loader parses rule files."""
    parser = ConditionParser(Process(process))
    return Rule(
        id="test.adhoc", title="ad hoc", clause="8.6.1", process=Process(process),
        severity=Severity.LOW, scope={},
        check=tuple(parser.parse(item, ("check", i)) for i, item in enumerate(check)),
        message="{number}", remediation="none",
    )


def status_of(check: dict[str, Any], example: Mapping[str, Any], process: str = "incident") -> str:
    """pass / fail / error of one condition on one example record."""
    return run_example(make_rule([check], process), example).status.value
