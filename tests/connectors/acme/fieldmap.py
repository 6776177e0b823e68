"""Acme's field map: the few canonical incident fields it fills."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sms_conformance.model.schema import Process

MAPPED = {Process.INCIDENT: frozenset({
    "number", "state", "impact", "urgency", "priority", "opened_at", "updated_at",
    "short_description"})}


class AcmeMap:
    platform = "acme"

    def maps(self, process: Process, field: str) -> bool:
        return field in MAPPED.get(process, frozenset())

    def off_reason(self, process: Process, fields: Sequence[str]) -> str:
        return f"off: Acme has no {', '.join(fields)}"

    def where(self, process: Process) -> str:
        return f"acme/{process.value}"


def load_field_map(override: Path | None) -> AcmeMap:
    return AcmeMap()
