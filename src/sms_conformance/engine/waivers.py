"""Waivers: an approved, reasoned, expiring exception for a rule on a record or a scope."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from sms_conformance.model.errors import ConfigFileError
from sms_conformance.model.records import NamedRef, Record, Ref, Unknown
from sms_conformance.model.schema import PlatformMap, field_of
from sms_conformance.rules.model import Rule
from sms_conformance.support.strict_yaml import SourceDoc, load_yaml, validate

Scalar = str | int | bool


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    rule: str = Field(min_length=1, max_length=200, description="rule id, alias or glob")
    record: str | None = Field(default=None, max_length=100, description="record number")
    scope: dict[str, Scalar | list[Scalar]] | None = None
    reason: str = Field(min_length=3)
    approver: str = Field(min_length=2)
    expires: Annotated[date, Strict(False)]  # a quoted "2027-01-31" is a date too

    @model_validator(mode="after")
    def _record_or_scope(self) -> Waiver:
        if (self.record is None) == (self.scope is None):
            raise ValueError("give exactly one of record or scope")
        return self

    def covers(self, rule: Rule, record: Record) -> bool:
        if not self.names(rule):
            return False
        if self.record is not None:
            return record.number == self.record
        return all(_matches(record.get(k), v) for k, v in (self.scope or {}).items())

    def open_fields(self, rule: Rule, record: Record) -> list[str]:
        """Scope fields the source did not provide (unknown, or a reference exported as a name
        that is not the one asked for) when the rest of the scope matches: whether the waiver
        covers the record cannot be told."""
        if self.scope is None or not self.names(rule):
            return []
        fields = []
        for name, wanted in self.scope.items():
            value = record.get(name)
            if _matches(value, wanted):
                continue
            if not isinstance(value, (Unknown, NamedRef)):
                return []
            fields.append(name)
        return fields

    def names(self, rule: Rule) -> bool:
        return any(fnmatch.fnmatch(name, self.rule) for name in (rule.id, *rule.aliases))

    def expired(self, today: date) -> bool:
        return self.expires < today


def _matches(value: Any, wanted: Any) -> bool:
    plain = value.id if isinstance(value, Ref) else value
    return plain in wanted if isinstance(wanted, list) else plain == wanted


class Waivers:
    """Finds the waiver for a result; remembers which expired waivers were hit."""

    def __init__(self, waivers: list[Waiver], today: date, stale: list[str] | None = None) -> None:
        self.waivers = waivers
        self.today = today
        self.expired_hits: dict[int, Waiver] = {}
        self.stale = stale or []  # waivers already expired when the file was loaded

    def find(self, rule: Rule, record: Record) -> Waiver | None:
        for index, waiver in enumerate(self.waivers):
            if not waiver.covers(rule, record):
                continue
            if waiver.expired(self.today):
                self.expired_hits[index] = waiver
                continue
            return waiver
        return None

    def open_fields(self, rule: Rule, record: Record) -> list[str]:
        """Fields that leave open whether a live waiver covers the result (Waiver.open_fields)."""
        return sorted({f for w in self.waivers if not w.expired(self.today)
                       for f in w.open_fields(rule, record)})

    def notices(self) -> list[str]:
        return [*self.stale, *(
            f"waiver for {w.rule} on {w.record or w.scope} expired {w.expires} "
            f"(approved by {w.approver}): its records are findings again"
            for w in self.expired_hits.values()
        )]


class WaiversFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    waivers: list[Waiver] = []


def load_waivers(path: Path | None, now: datetime, rules: Sequence[Rule] = (),
                 fieldmap: PlatformMap | None = None) -> Waivers:
    """config/waivers.yaml: `waivers:` and a list of waivers. With `rules` (every rule of the
    platform, not only those a run selects) each waiver is checked as settings are: one that
    names no rule, or scopes on a field its rules cannot read, never applies (ConfigFileError);
    one already expired is only stale (a notice naming its line)."""
    if path is None or not path.exists():
        return Waivers([], now.date())
    doc = load_yaml(path)
    parsed = validate(WaiversFile, {} if doc.data is None else doc.data, doc)
    stale = []
    for index, waiver in enumerate(parsed.waivers):
        if rules:
            check_waiver(waiver, rules, fieldmap, doc, index)
        if waiver.expired(now.date()):
            stale.append(f"{path}:{doc.line(['waivers', index, 'expires'])}: waiver for "
                         f"{waiver.rule} expired {waiver.expires}: it waives nothing; renew or "
                         "remove it")
    return Waivers(parsed.waivers, now.date(), stale)


def check_waiver(waiver: Waiver, rules: Sequence[Rule], fieldmap: PlatformMap | None,
                 doc: SourceDoc, index: int) -> None:
    named = [r for r in rules if waiver.names(r)]
    if not named:
        raise ConfigFileError(
            f"no rule has the id or alias {waiver.rule!r}: the waiver would never apply "
            "(`sms-conformance rules list` shows the ids)",
            path=doc.path, line=doc.line(["waivers", index, "rule"]), key=f"waivers.{index}.rule")
    for name in waiver.scope or {}:
        if not any(_readable(rule, name, fieldmap) for rule in named):
            processes = ", ".join(sorted({r.process.value for r in named}))
            raise ConfigFileError(
                f"{name!r} is not a field {waiver.rule} can read on {processes} records (not a "
                "canonical field, or one the field map does not fill): the waiver would never "
                "apply", path=doc.path, line=doc.line(["waivers", index, "scope", name]),
                key=f"waivers.{index}.scope.{name}")


def _readable(rule: Rule, name: str, fieldmap: PlatformMap | None) -> bool:
    if field_of(rule.process, name) is None:
        return False
    return fieldmap is None or fieldmap.maps(rule.process, name)
