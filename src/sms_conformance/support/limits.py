"""How long and how much a run may take from an instance: the `source:` settings.

A hostile or broken instance (endless pages, a trickling answer, an absurd count) must end a scan
as incomplete within these bounds instead of running forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sms_conformance.model.errors import ConfigError
from sms_conformance.support.durations import parse_duration

MIB = 1024 * 1024
MAX_OBJECTS = 1_000_000  # JSON objects in one response body (source.max_response_objects)


class Limits(BaseModel):
    """Seconds for the time limits (settings may say `2m`, `4h`), MiB and pages for the rest.

    request_timeout: one HTTP request, headers and body included (not only between bytes);
    scan_timeout: everything a run asks of the instance, from the connector's creation;
    retry_budget: time within which a failed request is retried (429, 5xx, resets, timeouts);
    max_retry_after: the longest Retry-After waited out (a site asking for more gets no request
    until then: a read ends the scan as incomplete, write-back leaves the rest for the next run);
    max_response_mb: one response body; max_response_objects: JSON objects in one body, counted
    before it is decoded (decoding costs about 300 bytes an object: a body of tiny objects
    would take some 16 times its size); max_pages: pages of one table scan, whatever the count;
    streams: key ranges of a table read at once (lowered on 429/503, never raised above it);
    min_record_share: a whole read returning fewer than this share of the records the last
    complete scan read in the same scope is taken as a failed answer (the scan is incomplete).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_timeout: float = Field(default=120.0, gt=0)
    scan_timeout: float = Field(default=4 * 3600.0, gt=0)
    retry_budget: float = Field(default=120.0, ge=0)
    max_retry_after: float = Field(default=60.0, ge=0)
    max_response_mb: float = Field(default=64.0, gt=0)
    max_response_objects: int = Field(default=MAX_OBJECTS, ge=1)
    max_pages: int = Field(default=20_000, ge=1)
    streams: int = Field(default=4, ge=1, le=16)
    min_record_share: float = Field(default=0.5, ge=0, le=1)

    @field_validator("request_timeout", "scan_timeout", "retry_budget", "max_retry_after",
                     mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value).total_seconds()

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * MIB)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        """The `source:` block of settings.yaml; unknown keys and bad values are refused."""
        data = settings.get("source") or {}
        if not isinstance(data, Mapping):
            raise ConfigError("settings source: expected a mapping (request_timeout, ...)")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"settings source: {problems}") from None
