"""Atlassian Document Format (Jira Cloud v3 rich text) <-> plain text.

Rules read plain text: a document is flattened block by block, one line per paragraph (hard
breaks and list items give lines too), within limits of depth and size (AdfError past them).
Write-back writes plain text as one paragraph per line, which flattens back to exactly the
same text.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
# Inline nodes whose text is in an attribute, and that attribute.
_INLINE_ATTR = {"mention": "text", "emoji": "text", "status": "text", "inlineCard": "url",
                "date": "timestamp"}
_LIST_ITEMS = ("listItem", "taskItem", "decisionItem")


def is_adf(value: object) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc"


class AdfError(ValueError):
    """A document too deep or too large to read: the field is unreadable, not empty."""


# Real documents nest a few levels (a list in a table cell); a site that sends hundreds is
# hostile or broken. Jira keeps at most 32,767 characters in a text field.
MAX_DEPTH = 100
MAX_NODES = 100_000
MAX_CHARS = 1_000_000


def flatten(doc: Json, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES,
            max_chars: int = MAX_CHARS) -> str:
    """The plain text of a document: blocks joined by newlines, marks dropped.

    Walked with a stack of its own, not by recursion: however deep the document, no
    RecursionError; past `max_depth` levels, `max_nodes` nodes or `max_chars` characters of
    text it raises AdfError (memory and time stay bounded whatever the site sends)."""
    budget = _Budget(max_nodes, max_chars)
    stack = [_Frame(doc)]
    while True:
        frame = stack[-1]
        child = frame.next_child()
        if child is not None:
            budget.node()
            if frame.mode == _INLINE and _inline_leaf(child, frame, budget):
                continue
            if len(stack) >= max_depth:
                raise AdfError(f"rich text nested deeper than {max_depth} levels")
            stack.append(_Frame(child))
            continue
        stack.pop()
        lines = frame.lines()
        if not stack:
            return "\n".join(lines)
        stack[-1].take(lines)


_BLOCK, _INLINE, _ROW = 0, 1, 2


class _Budget:
    def __init__(self, nodes: int, chars: int) -> None:
        self.max_nodes, self.max_chars = nodes, chars
        self.nodes, self.chars = nodes, chars

    def node(self) -> None:
        self.nodes -= 1
        if self.nodes < 0:
            raise AdfError(f"rich text of more than {self.max_nodes:,} nodes")

    def text(self, text: str) -> str:
        self.chars -= len(text)
        if self.chars < 0:
            raise AdfError(f"rich text of more than {self.max_chars:,} characters")
        return text


class _Frame:
    """One node being flattened: its children in turn, then its lines."""

    __slots__ = ("children", "at", "mode", "parts")

    def __init__(self, node: Json) -> None:
        content = node.get("content")
        self.children: list[Any] = content if isinstance(content, list) else []
        self.at = 0
        kind = node.get("type")
        if kind in ("paragraph", "heading", "codeBlock") or _is_inline_parent(self.children):
            self.mode = _INLINE
        else:
            self.mode = _ROW if kind == "tableRow" else _BLOCK
        self.parts: list[str] = []

    def next_child(self) -> Json | None:
        while self.at < len(self.children):
            child = self.children[self.at]
            self.at += 1
            if isinstance(child, dict):
                return child
        return None

    def take(self, lines: list[str]) -> None:
        """A child's lines: a cell or an unknown inline node gives one line, a block many."""
        if self.mode == _BLOCK:
            self.parts.extend(lines)
        else:
            self.parts.append(" ".join(lines))

    def lines(self) -> list[str]:
        if self.mode == _INLINE:
            return "".join(self.parts).split("\n")
        if self.mode == _ROW:
            return ["\t".join(self.parts)]
        return self.parts


def _inline_leaf(child: Json, frame: _Frame, budget: _Budget) -> bool:
    """Adds the text of an inline leaf (text, hard break, mention...) to `frame`; False for an
    inline node this reader does not know, whose nested text is flattened as a block."""
    kind = child.get("type")
    if kind == "text":
        frame.parts.append(budget.text(str(child.get("text", ""))))
    elif kind == "hardBreak":
        frame.parts.append("\n")
    elif kind in _INLINE_ATTR:
        attrs = child.get("attrs")
        frame.parts.append(budget.text(
            str(attrs.get(_INLINE_ATTR[kind], "")) if isinstance(attrs, dict) else ""))
    else:
        return False
    return True


def _is_inline_parent(children: list[Any]) -> bool:
    return bool(children) and all(
        isinstance(c, dict) and (c.get("type") in ("text", "hardBreak") or c.get("type")
                                 in _INLINE_ATTR) for c in children)


def document(text: str) -> Json:
    """Plain text as a document of paragraphs, one per line (an empty line, an empty one)."""
    if not text:
        return {"type": "doc", "version": 1, "content": []}
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]}
