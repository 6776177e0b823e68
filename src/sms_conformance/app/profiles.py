"""config/profiles.yaml: connection profiles by name, each in the terms of the source it opens.

    profiles:
      prod: {instance: https://acme.service-now.com, username_env: ACME_SN_USER, ...}
      jsm: {source: jira, site: https://acme.atlassian.net, email_env: ACME_JIRA_EMAIL, ...}

Here: the file's shape, the source a profile connects to (`source:`, default servicenow) and
the rule every profile keeps whatever its platform: it names environment variables, never holds
a secret. The rest of a profile's keys are checked by its source's model (the registry's
`SourceEntry.profile`), errors pointing into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sms_conformance.connectors.registry import DEFAULT_PROFILE_SOURCE, profile_model
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.strict_yaml import load_yaml, validate
from sms_conformance.support.validation import refuse_secrets

ProfileBody = Annotated[dict[str, Any], BeforeValidator(refuse_secrets)]


class ProfilesFile(BaseModel):
    """config/profiles.yaml: `profiles:` and a profile by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    profiles: dict[Annotated[str, Field(max_length=100)], ProfileBody] = {}


@dataclass(frozen=True)
class ConnectionProfile:
    name: str
    source: str  # the registry's source it connects to
    settings: Mapping[str, Any]  # the rest of its keys, valid for that source's model


def load_connection_profile(path: Path, name: str) -> ConnectionProfile:
    """Profile `name` of the file at `path`, checked by the model of the source it names."""
    doc = load_yaml(path)
    profiles = validate(ProfilesFile, {} if doc.data is None else doc.data, doc).profiles
    if name not in profiles:
        raise ConfigError(f"--profile {name}: not in {path} (have: {', '.join(profiles) or 'none'})")
    body = dict(profiles[name])
    source = body.pop("source", DEFAULT_PROFILE_SOURCE)
    if not isinstance(source, str):
        raise ConfigError(f"{path}: profiles.{name}.source: expected text")
    try:
        model = profile_model(source)
    except ConfigError as exc:
        raise ConfigError(f"{path}: profiles.{name}.source: {exc}") from None
    validate(model, body, doc, within=("profiles", name))
    return ConnectionProfile(name, source, body)
