"""Strict YAML for every configuration file, shipped or the organisation's.

One loader, so every file gets the same limits: at most MAX_BYTES, UTF-8 (a bad byte is named
with its offset), one document, no anchors or aliases (nothing in configuration needs them, and
refusing them rules out "billion laughs" expansion), no explicit tags, no duplicate or
non-scalar keys, at most MAX_DEPTH levels of nesting. Errors read `file:line: key: problem`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from sms_conformance.model.errors import ConfigFileError

try:
    from yaml._yaml import CParser
    _LIBYAML = True
except ImportError:  # a PyYAML built without libyaml
    _LIBYAML = False

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32

Location = Sequence[str | int]
M = TypeVar("M", bound=BaseModel)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that configuration does not accept (aliases, tags, duplicate keys ...)."""


class _StrictComposer(yaml.composer.Composer):
    """A composer that refuses, while composing, what configuration must not contain."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]  # the parser's, mixed in
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(problem="YAML anchors and aliases (&name, *name) are not allowed in "
                           "configuration: write the value out", problem_mark=event.start_mark)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            raise _Refused(problem=f"YAML tags ({tag}) are not allowed in configuration",
                           problem_mark=event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels",
                               problem_mark=event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        seen: set[str] = set()
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise _Refused(problem="a key must be a plain value, not a list or mapping",
                               problem_mark=key.start_mark)
            if key.value in seen:
                raise _Refused(problem=f"duplicate key {key.value!r}", problem_mark=key.start_mark)
            seen.add(key.value)
        return node


class _StrictConstructor(SafeConstructor):
    """SafeConstructor whose values Python cannot build are located errors."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value YAML recognises but Python cannot build (2027-02-30) is a located error."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _Refused(problem=f"cannot read this value: {exc}",
                           problem_mark=node.start_mark) from None


class _PythonLoader(Reader, Scanner, Parser, _StrictComposer, _StrictConstructor, Resolver):
    """PyYAML's own reader, scanner and parser (as yaml.SafeLoader is made), where PyYAML was
    built without libyaml."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self)
        _StrictConstructor.__init__(self)
        Resolver.__init__(self)


class _Loader(Protocol):
    def get_single_node(self) -> yaml.Node | None: ...
    def construct_document(self, node: yaml.Node) -> Any: ...
    def dispose(self) -> None: ...


_StrictLoader: Callable[[str], _Loader] = _PythonLoader
if _LIBYAML:
    class _LibyamlLoader(_StrictComposer, CParser, _StrictConstructor, Resolver):
        """libyaml scans and parses, several times faster than PyYAML's pure-Python scanner
        (the rules and maps are read at every start); the strict composer composes."""

        def __init__(self, text: str) -> None:
            Reader(text)  # refuses control characters, as the Python reader does
            CParser.__init__(self, text)
            _StrictComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)

    _StrictLoader = _LibyamlLoader


@dataclass(frozen=True)
class SourceDoc:
    """A parsed YAML document plus its node tree, to point errors at a line."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, location: Location) -> int:
        """1-based line of the deepest key (or item) reachable along `location`."""
        return self._walk(location)[1]

    def resolved(self, location: Location) -> list[str | int]:
        """The leading steps of `location` that exist in the document."""
        return self._walk(location)[0]

    def _walk(self, location: Location) -> tuple[list[str | int], int]:
        node, steps = self.root, []
        line = node.start_mark.line if node is not None else 0
        for step in location:
            found = _child(node, step) if node is not None else None
            if found is None:
                break
            key, node = found
            line = (key or node).start_mark.line
            steps.append(step)
        return steps, line + 1

    def error(self, exc: ValidationError, within: Location = ()) -> ConfigFileError:
        """The first validation problem as `file:line: key: problem`; `within`: where in the
        document the validated part lies."""
        err = exc.errors()[0]
        location = (*within, *err["loc"])
        return ConfigFileError(describe(err), path=self.path, line=self.line(location),
                               key=self.key(err, within) or None)

    def key(self, err: ErrorDetails, within: Location = ()) -> str:
        """Dotted key of a validation error (pydantic's own location steps left out)."""
        steps = self.resolved((*within, *err["loc"]))
        if err["type"] == "missing":
            steps.append(err["loc"][-1])
        return ".".join(str(step) for step in steps)


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(step):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return None, node.value[step]
    return None


_KINDS = {str: "text", int: "a number", float: "a number", bool: "true/false", list: "a list",
          dict: "a mapping", type(None): "nothing"}
_EXPECTED = {"dict_type": "a mapping", "model_type": "a mapping", "list_type": "a list",
             "string_type": "text", "int_type": "a whole number", "float_type": "a number",
             "bool_type": "true or false", "date_type": "a date (YYYY-MM-DD)"}
_PLAIN = {"extra_forbidden": "unknown key", "missing": "required, but missing"}


def describe(err: ErrorDetails) -> str:
    """A validation problem in YAML words ("expected a list, found text")."""
    kind = err["type"]
    if kind in _EXPECTED:
        found = _KINDS.get(type(err["input"]), type(err["input"]).__name__)
        return f"expected {_EXPECTED[kind]}, found {found}"
    return _PLAIN.get(kind) or err["msg"].removeprefix("Value error, ")


def parse_config(raw: bytes, path: Path) -> SourceDoc:
    """Strictly parse the bytes of one configuration file."""
    if len(raw) > MAX_BYTES:
        raise ConfigFileError(f"larger than {MAX_BYTES // 1024} KiB: not a configuration file",
                              path=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}; save the file as UTF-8",
            path=path, line=raw.count(b"\n", 0, exc.start) + 1,
        ) from None
    try:
        loader = _StrictLoader(text)  # reads the whole text: refuses control characters
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigFileError(
            f"malformed YAML: character #x{exc.character:04x} is not allowed", path=path, line=line
        ) from None
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except _Refused as exc:
        raise ConfigFileError(str(exc.problem), path=path, line=_mark_line(exc)) from None
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "cannot parse"
        raise ConfigFileError(f"malformed YAML: {problem}", path=path, line=_mark_line(exc)) from None
    finally:
        loader.dispose()
    return SourceDoc(path=path, data=data, root=root)


def _mark_line(exc: yaml.MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else None


def load_yaml(path: Path) -> SourceDoc:
    """A configuration file from disk; reads at most MAX_BYTES + 1 bytes of it."""
    try:
        if not path.is_file():
            raise ConfigFileError("not a regular file", path=path)
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigFileError(f"cannot read: {exc.strerror}", path=path) from None
    return parse_config(raw, path)


def load_shipped(name: str) -> SourceDoc:
    """A file shipped inside the package (`defaults/settings.yaml`), through the same checks."""
    resource = resources.files("sms_conformance").joinpath(name)
    return parse_config(resource.read_bytes(), Path(str(resource)))


def validate(model: type[M], data: Any, doc: SourceDoc, within: Location = ()) -> M:
    """`data` (the document's, or built from it, or its part at `within`) as `model`; errors
    point into `doc`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise doc.error(exc, within) from None
