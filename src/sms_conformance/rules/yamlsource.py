"""YAML loading that keeps line numbers and rejects duplicate keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sms_conformance.errors import RuleError


@dataclass(frozen=True)
class SourceDoc:
    """A parsed YAML document plus the node tree, to point errors at a line."""

    path: Path
    data: Any
    root: yaml.Node

    def line(self, location: Sequence[str | int]) -> int:
        """1-based line of the deepest node reachable along `location`."""
        node = self.root
        for step in location:
            child = _child(node, step)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(step):
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]  # type: ignore[no-any-return]
    return None


def _check_duplicates(node: yaml.Node, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise RuleError(
                    f"duplicate key {key.value!r}", path=path, line=key.start_mark.line + 1
                )
            seen.add(key.value)
            _check_duplicates(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, path)


def load_yaml(path: Path) -> SourceDoc:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(f"malformed YAML: {problem}", path=path, line=line) from None
    if root is None:
        raise RuleError("empty file", path=path)
    _check_duplicates(root, path)
    return SourceDoc(path=path, data=data, root=root)
