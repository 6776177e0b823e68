"""What operators see on stderr: plain lines, or (--log-format json) one JSON object per line
with ts, level, event and fields; and --quiet, which keeps a run silent unless it failed.

JSON mode turns every stderr line into an object, whoever wrote it (click messages, log
records, errors), so a log shipper never meets a line it cannot parse. Values of fields named
like a secret, and `password=...`-style text, are redacted; the tool never puts secrets on
stderr in the first place, this is the second line of defence.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TextIO

from sms_conformance.support.redaction import scrub

EVENTS = logging.getLogger("sms_conformance.events")
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authori[sz]ation|cookie|api_?key|credential",
                         re.IGNORECASE)
_SECRET_TEXT = re.compile(
    r"((?:pass(?:word)?|secret|token|api_?key|authorization)[\"']?\s*[=:]\s*)[^\s,;&\"']+",
    re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
REDACTED = "[redacted]"  # as sms_conformance.support.redaction writes it
_HANDLER = "sms-conformance"


def redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_TEXT.sub(rf"\1{REDACTED}", scrub(value))
    return value


def json_line(level: str, event: str, fields: Mapping[str, Any]) -> str:
    now = datetime.now(timezone.utc)
    return json.dumps({
        "ts": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "level": level, "event": event, "fields": redact(fields),
    }, default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """Log records as JSON lines: an event's name and fields, or the logger and message."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        fields = dict(getattr(record, "fields", None) or {})
        if event is None:
            event = record.name
            fields["message"] = record.getMessage()
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(record.levelname.lower(), event, fields)


class _Scrubbed(logging.Formatter):
    """Plain log lines without this run's credentials (sms_conformance.support.redaction)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _LineStream(io.TextIOBase):
    """A stand-in for stderr that hands each complete line to `_emit`; never a terminal, so
    no progress line and no colours are written to it."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self.pending = ""

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def _emit(self, line: str) -> None:
        raise NotImplementedError


class JsonLines(_LineStream):
    """A stderr that writes each complete line as a JSON object (event `message`; level from
    an `error:` or `warning:` prefix)."""

    def _emit(self, line: str) -> None:
        line = _ANSI.sub("", line).replace("\r", "").strip()
        if not line:
            return
        level = next((lv for lv in ("error", "warning") if line.startswith(f"{lv}:")), "info")
        if level != "info":
            line = line.split(":", 1)[1].strip()
        self.target.write(json_line(level, level if level != "info" else "message",
                                    {"message": line}) + "\n")
        self.target.flush()


def setup(log_format: str, verbose: bool) -> None:
    """Logging for the run; in JSON mode, stderr itself becomes JSON lines."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "name", None) == _HANDLER]:
        root.removeHandler(old)  # ours from an earlier run in this process (tests)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # Events (scan started, finished) are INFO: shown in JSON, not among the plain lines.
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        sys.stderr = JsonLines(sys.stderr)
    else:
        handler.setFormatter(_Scrubbed("%(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.addHandler(handler)


def json_log() -> bool:
    """Whether stderr is a JSON log (--log-format json)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers
               if getattr(h, "name", None) == _HANDLER)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """A structured event: a JSON line in JSON mode, nothing among the plain lines."""
    EVENTS.log(level, name, extra={"event": name, "fields": fields})


class _Silent(_LineStream):
    """A stderr that passes on error lines only (the one line a failed run owes its reader)."""

    def _emit(self, line: str) -> None:
        if _ANSI.sub("", line).startswith("error:"):
            self.target.write(line + "\n")


@contextmanager
def quiet_stderr(quiet: bool) -> Iterator[TextIO]:
    """Within the block, with --quiet, stderr keeps only `error:` lines and logging only
    warnings and errors; yields the stream the summary line goes to."""
    original = sys.stderr
    if not quiet:
        yield original
        return
    root = logging.getLogger()
    level, events = root.level, EVENTS.level
    sys.stderr = _Silent(original)
    root.setLevel(max(level, logging.WARNING))  # no retry notes either
    if json_log():  # --quiet silences the human text: a JSON log keeps its events
        EVENTS.setLevel(logging.INFO)
    try:
        yield original
    finally:
        sys.stderr = original
        root.setLevel(level)
        EVENTS.setLevel(events)
