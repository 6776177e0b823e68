"""Atlassian Document Format (Jira Cloud v3 rich text) <-> plain text.

Rules read plain text: a document is flattened block by block, one line per paragraph (hard
breaks and list items give lines too). Write-back writes plain text as one paragraph per line,
which flattens back to exactly the same text.
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


def flatten(doc: Json) -> str:
    """The plain text of a document: blocks joined by newlines, marks dropped."""
    return "\n".join(_block_lines(doc))


def _block_lines(node: Json) -> list[str]:
    content = node.get("content")
    children = content if isinstance(content, list) else []
    kind = node.get("type")
    if kind in ("paragraph", "heading", "codeBlock") or _is_inline_parent(children):
        return _inline_text(children).split("\n")
    if kind == "tableRow":
        return ["\t".join(" ".join(_block_lines(cell)) for cell in children
                          if isinstance(cell, dict))]
    lines: list[str] = []
    for child in children:
        if isinstance(child, dict):
            lines.extend(_block_lines(child))
    return lines


def _is_inline_parent(children: list[Any]) -> bool:
    return bool(children) and all(
        isinstance(c, dict) and (c.get("type") in ("text", "hardBreak") or c.get("type")
                                 in _INLINE_ATTR) for c in children)


def _inline_text(children: list[Any]) -> str:
    parts: list[str] = []
    for child in children:
        if not isinstance(child, dict):
            continue
        kind = child.get("type")
        if kind == "text":
            parts.append(str(child.get("text", "")))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind in _INLINE_ATTR:
            attrs = child.get("attrs")
            parts.append(str(attrs.get(_INLINE_ATTR[kind], "")) if isinstance(attrs, dict) else "")
        else:  # an inline node this reader does not know: its nested text, if any
            parts.append(" ".join(_block_lines(child)))
    return "".join(parts)


def document(text: str) -> Json:
    """Plain text as a document of paragraphs, one per line (an empty line, an empty one)."""
    if not text:
        return {"type": "doc", "version": 1, "content": []}
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]}
