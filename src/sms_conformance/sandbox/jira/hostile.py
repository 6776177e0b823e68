"""Named misbehaviours of a hostile or broken Jira site, one per case the client must survive.

    JiraSandbox(hostile="empty-task-search,transition-500")

Unlike the random faults (sandbox.faults), each mode is deterministic: it changes every answer
of one kind, so a test sees exactly the case it names. Modes:
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

MODES = {
    "empty-task-search": 'searches for this tool\'s tasks answer 200 {"issues": []}',
    "empty-task-search-errors": 'the same, with errorMessages: {"errorMessages": [...], '
                                '"issues": []}',
    "transition-500": "every transition (POST .../transitions) answers 500",
    "transition-400": "every transition answers 400, as a workflow condition refusing it",
    "deep-adf": "the first issue of every record search has its rich text nested 500 deep",
    "too-deep-json": "the same, 1,100 deep: deeper than JSON parsers allow",
    "wide-adf": "the same, one paragraph of 2,000,000 text nodes (a 56 MB body)",
    "escapes": "short summaries of records, group names and error messages carry terminal "
               "escape sequences",
}
__doc__ = (__doc__ or "") + "".join(f"\n- ``{name}``: {what}." for name, what in MODES.items())

TITLE = "\x1b]0;x\x07"  # sets the window title
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\"
_TASK_SEARCH = re.compile(r'labels\s*=\s*"?sms-conformance"?')
DEEP, TOO_DEEP = 500, 1100
WIDE = 2_000_000


_DEEP_MARK = "\x00deep-document\x00"


def deep_document(depth: int) -> bytes:
    """An ADF document of nested bullet lists `depth` levels deep, one word at the bottom, as
    JSON text (no encoder writes that deep: built as text)."""
    head = b'{"type":"bulletList","content":['
    leaf = b'{"type":"paragraph","content":[{"type":"text","text":"deep"}]}'
    return (b'{"type":"doc","version":1,"content":[' + head * depth + leaf + b"]}" * depth
            + b"]}")


def wide_document(nodes: int) -> bytes:
    """An ADF document of one paragraph of `nodes` text nodes (27 bytes each), as JSON text."""
    text = b'{"type":"text","text":"ab"}'
    return (b'{"type":"doc","version":1,"content":[{"type":"paragraph","content":['
            + b",".join([text] * nodes) + b"]}]}")


@dataclass(frozen=True)
class Hostile:
    """The modes in force; each method is one hook of the server (None: answer normally)."""

    modes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, spec: str | Iterable[str] | None) -> Hostile:
        names = ([n.strip() for n in spec.split(",")] if isinstance(spec, str)
                 else list(spec or ()))
        unknown = sorted(n for n in names if n and n not in MODES)
        if unknown:
            raise ValueError(f"unknown hostile mode(s) {', '.join(unknown)}: "
                             f"known are {', '.join(MODES)}")
        return cls(frozenset(n for n in names if n))

    def __str__(self) -> str:
        return ",".join(sorted(self.modes))

    def search(self, jql: str, answer: dict[str, Any]) -> bytes:
        """A search answer as the mode sends it (task searches, record searches), encoded."""
        if _TASK_SEARCH.search(jql):
            if "empty-task-search-errors" in self.modes:
                answer = {"errorMessages": ["The search index is being rebuilt."], "issues": [],
                          "isLast": True}
            elif "empty-task-search" in self.modes:
                answer = {"issues": [], "isLast": True}
            return orjson.dumps(answer)
        if "escapes" in self.modes:  # short summaries (a rule fails them) retitle the window
            for issue in answer.get("issues") or ():
                fields = issue.get("fields") if isinstance(issue, dict) else None
                summary = fields.get("summary") if isinstance(fields, dict) else None
                if isinstance(summary, str) and len(summary) < 10:
                    fields["summary"] = f"{summary[:3]}{TITLE}"  # type: ignore[index]
        rich_text = (deep_document(TOO_DEEP) if "too-deep-json" in self.modes
                     else deep_document(DEEP) if "deep-adf" in self.modes
                     else wide_document(WIDE) if "wide-adf" in self.modes else b"")
        issues = answer.get("issues")
        if not (rich_text and isinstance(issues, list) and issues):
            return orjson.dumps(answer)
        fields = issues[0].get("fields") or {}
        rich = [k for k, v in fields.items() if isinstance(v, dict) and v.get("type") == "doc"]
        if "wide-adf" in self.modes:  # one field: the body stays under the response size cap
            rich = rich[:1]
        for name in rich or ["description"]:
            fields[name] = _DEEP_MARK
        return orjson.dumps(answer).replace(orjson.dumps(_DEEP_MARK), rich_text)

    def transition(self) -> tuple[int, dict[str, Any]] | None:
        """The error a transition answers with, if the mode refuses or fails them."""
        if "transition-500" in self.modes:
            return 500, {"errorMessages": ["Internal server error"], "errors": {}}
        if "transition-400" in self.modes:
            return 400, {"errorMessages": ["You cannot transition this issue: the workflow "
                                           "condition 'Approver only' is not met."], "errors": {}}
        return None

    def error(self, body: Any) -> Any:
        """An error body, with escape sequences in its message under `escapes`."""
        if "escapes" in self.modes and isinstance(body, dict):
            messages = body.get("errorMessages")
            return {**body, "errorMessages": [f"{ESCAPES}{m}" for m in messages or ["error"]]}
        return body

    def group_names(self, groups: dict[str, str]) -> None:
        """Group names as the mode shows them (changed in place, before serving)."""
        if "escapes" in self.modes:
            for group_id, name in groups.items():
                groups[group_id] = f"{name}{ESCAPES}"
