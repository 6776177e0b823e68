"""What produced a scan: tool version, filters, and digests of the rule pack and config used.

Stored with the scan in the history store, so that a report rendered from it, now or later,
says how to reproduce it. Digests are sha256 over canonical text, so the same rules and config
give the same digests on any machine, whatever the key order or comments of their files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel

from sms_conformance import __version__
from sms_conformance.engine.waivers import Waivers
from sms_conformance.rules.model import Rule

# libyaml's parser where PyYAML has it: the same data as the pure-Python one, several times
# faster; the dump stays pure Python, so the canonical text (and digest) is the same either way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Provenance:
    tool_version: str = __version__
    filters: Mapping[str, Any] = field(default_factory=dict)  # options that chose what was read
    rules_digest: str = ""  # sha256 over the active rules' canonical YAML
    config_digest: str = ""  # sha256 over settings, field map and waivers as used


def canonical_rule(rule: Rule) -> str:
    """The rule's source document as YAML with sorted keys (comments and layout dropped); a rule
    built in code, without a file, by its repr."""
    if rule.source is not None and rule.source.is_file():
        data = yaml.load(rule.source.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
        return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, default_flow_style=False)
    return repr(rule)


def rules_digest(rules: Iterable[Rule]) -> str:
    digest = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: r.id):
        text = canonical_rule(rule).encode()
        # Length-prefixed: no two different packs concatenate to the same bytes.
        digest.update(f"{rule.id}\n{len(text)}\n".encode() + text)
    return digest.hexdigest()


def config_digest(settings: Mapping[str, Any], fieldmap: Any, waivers: Waivers) -> str:
    """`fieldmap`: the platform's field map (a pydantic model, or by its repr)."""
    doc = {
        "settings": settings,
        "fieldmap": (fieldmap.model_dump(mode="json") if isinstance(fieldmap, BaseModel)
                     else repr(fieldmap)),
        "waivers": [w.model_dump(mode="json") for w in waivers.waivers],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
