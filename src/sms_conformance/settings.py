"""Organisation settings: rule parameters (targets, matrices, phrases) and switched-off rules."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sms_conformance.errors import ConfigError


def load_settings(override: Path | None = None) -> dict[str, Any]:
    """Shipped defaults with config/settings.yaml merged over them, key by key."""
    text = resources.files("sms_conformance").joinpath("defaults/settings.yaml").read_text()
    settings: dict[str, Any] = yaml.safe_load(text)
    if override is not None and override.exists():
        try:
            extra = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{override}: not valid YAML: {exc}") from None
        if not isinstance(extra, Mapping):
            raise ConfigError(f"{override}: expected a mapping of setting names to values")
        settings = _merge(settings, extra)
    return settings


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings merge key by key (`write_back: {max_new_tasks: 500}` keeps the rest)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def substitute(data: Any, settings: Mapping[str, Any], missing: list[str]) -> Any:
    """Replace every `{setting: NAME}` mapping in rule data by the setting's value."""
    if isinstance(data, Mapping):
        if set(data) == {"setting"}:
            name = data["setting"]
            if name not in settings:
                missing.append(str(name))
                return data
            return settings[name]
        return {key: substitute(value, settings, missing) for key, value in data.items()}
    if isinstance(data, list):
        return [substitute(item, settings, missing) for item in data]
    return data
