"""What a rule reads: record fields, references to follow, referrer counts to fetch."""

from __future__ import annotations

from collections.abc import Iterator

from sms_conformance.rules import model as m


def walk(condition: m.Condition) -> Iterator[m.Condition]:
    """The condition, its `when` and every nested condition on the same record."""
    yield condition
    if condition.when is not None:
        yield from walk(condition.when)
    if isinstance(condition, (m.AllOf, m.AnyOf)):
        for item in condition.items:
            yield from walk(item)
    elif isinstance(condition, m.Not):
        yield from walk(condition.item)


def condition_fields(condition: m.Condition) -> set[str]:
    """Canonical fields of the record itself that the condition reads."""
    names: set[str] = set()
    for c in walk(condition):
        if isinstance(c, (m.FieldCheck, m.OlderThan, m.Linked)):
            names.add(c.field)
        elif isinstance(c, m.Compare):
            names.update(n for n in (c.field, c.other_field) if n)
        elif isinstance(c, m.Matrix):
            names.update((c.field, c.row, c.column))
        elif isinstance(c, m.Within):
            names.update(n for n in (c.start, c.end, c.by, c.outcome) if n)
    return names


def optional_fields(rule: m.Rule) -> set[str]:
    """Fields a rule reads where a platform fills them and does without otherwise (a
    `within` check's `outcome`): they never turn the rule off."""
    return {c.outcome for top in rule.check for c in walk(top)
            if isinstance(c, m.Within) and c.outcome} | set(rule.optional)


def rule_fields(rule: m.Rule) -> set[str]:
    names = set(rule.scope)
    for condition in rule.check:
        names |= condition_fields(condition)
    return {n for n in names if not n.startswith("raw.") and n != "number"}


def linked_conditions(conditions: tuple[m.Condition, ...]) -> list[m.Linked]:
    return [c for top in conditions for c in walk(top) if isinstance(c, m.Linked)]


def referrer_needs(conditions: tuple[m.Condition, ...]) -> list[m.ReferencedBy]:
    return [c for top in conditions for c in walk(top) if isinstance(c, m.ReferencedBy)]
