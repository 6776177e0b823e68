"""The strict YAML loader has two builds: libyaml's scanner and parser (where PyYAML has it, as
its wheels do) and PyYAML's pure-Python ones. Both give the same data for every shipped file,
and the same refusal, at the same line, for what configuration must not contain."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from sms_conformance.model.errors import ConfigFileError
from sms_conformance.support import strict_yaml

LOADERS = [strict_yaml._PythonLoader]
if strict_yaml._LIBYAML:
    LOADERS.append(strict_yaml._LibyamlLoader)
SHIPPED = sorted(Path(str(resources.files("sms_conformance"))).rglob("*.yaml"))
REFUSED = {
    "alias": ("a: &x 1\nb: *x\n", 1, "anchors and aliases"),
    "tag": ('a: !!python/object/apply:os.system ["true"]\n', 1, "YAML tags"),
    "duplicate": ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
    "deep": ("a: " + "[" * 40 + "]" * 40 + "\n", 1, "nested deeper than 32 levels"),
    "complex key": ("? [1, 2]\n: x\n", 1, "a key must be a plain value"),
    "bad date": ("when: 2027-02-30\n", 1, "cannot read this value"),
    "control character": ("a: 1\nb: x\x00\n", 2, "character #x0000 is not allowed"),
    "malformed": ("a: [1, 2\nb: 3\n", 2, "malformed YAML"),
}


def parsed(loader: type, raw: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(strict_yaml, "_StrictLoader", loader)
    return strict_yaml.parse_config(raw, Path("config.yaml")).data


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    assert strict_yaml._StrictLoader is LOADERS[-1]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_both_builds_read_every_shipped_file_alike(path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    first, *others = (parsed(loader, raw, monkeypatch) for loader in LOADERS)
    assert first is not None and all(other == first for other in others)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_both_builds_refuse_alike(loader: type, case: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    text, line, problem = REFUSED[case]
    with pytest.raises(ConfigFileError) as refused:
        parsed(loader, text.encode(), monkeypatch)
    assert problem in str(refused.value)
    assert refused.value.line == line
