"""Where configuration lives and what it holds: config/ directory, history path, as-of time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from sms_conformance.app.profiles import ConnectionProfile, load_connection_profile
from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.registry import DEFAULT_PLATFORM, load_platform_map
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.schema import PlatformMap
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.rules.model import Rule


def default_history_path() -> Path:
    if env := os.environ.get("SMS_CONFORMANCE_HISTORY"):
        return Path(env)
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "sms-conformance" / "history.sqlite"


@dataclass(frozen=True)
class ConfigDir:
    """An organisation's config/: settings.yaml, fieldmap.yaml, waivers.yaml, rules/."""

    path: Path | None

    @classmethod
    def find(cls, given: Path | None) -> ConfigDir:
        if given is not None:
            if not given.is_dir():
                raise ConfigError(f"{given}: no such config directory")
            return cls(given)
        default = Path("config")
        return cls(default if default.is_dir() else None)

    def file(self, name: str) -> Path | None:
        return self.path / name if self.path is not None else None

    def profile(self, name: str | None) -> ConnectionProfile | None:
        """A connection profile from profiles.yaml (`profiles: {NAME: {...}}`), checked by
        the model of the source it connects to."""
        if name is None:
            return None
        path = self.file("profiles.yaml")
        if path is None or not path.exists():
            raise ConfigError(f"--profile {name}: no profiles.yaml in the config directory")
        return load_connection_profile(path, name)

    def settings(self) -> dict[str, Any]:
        return self._settings

    def fieldmap(self, platform: str = DEFAULT_PLATFORM) -> PlatformMap:
        """The field map of `platform` (the source's: cli.sources.source_platform)."""
        if platform not in self._fieldmaps:
            self._fieldmaps[platform] = load_platform_map(platform, self.path)
        return self._fieldmaps[platform]

    # Each file is read and validated once per command, however many steps ask for it.
    @cached_property
    def _settings(self) -> dict[str, Any]:
        return load_settings(self.file("settings.yaml"))

    @cached_property
    def _fieldmaps(self) -> dict[str, PlatformMap]:
        return {}

    @cached_property
    def _rules(self) -> dict[tuple[tuple[Path, ...], str], list[Rule]]:
        return {}

    def rules(self, extra: Path | None = None, only: tuple[str, ...] = (), *,
              include_off: bool = False, platform: str = DEFAULT_PLATFORM) -> list[Rule]:
        """Built-in pack, then config/rules/, then --rules PATH; later ids replace earlier.
        Rules off for a field `platform` does not map only with `include_off` (`rules list`,
        `doctor`)."""
        paths = [builtin_pack_dir()]
        org = self.file("rules")
        if org is not None and org.is_dir():
            paths.append(org)
        if extra is not None:
            paths.append(extra)
        key = (tuple(paths), platform)
        if key not in self._rules:  # the run's rules and every_rule: the files read once
            self._rules[key] = load_rules(paths, self.fieldmap(platform), self.settings(),
                                          include_off=True)
        rules = [r for r in self._rules[key] if include_off or not r.off_reason]
        if only:
            rules = [r for r in rules if any(r.matches_id(p) for p in only)]
            if not rules:
                raise ConfigError(f"--only {', '.join(only)} matches no rule")
        return rules


def parse_as_of(text: str | None) -> datetime:
    """The evaluation moment: an ISO date or datetime, or today ("now", or not given)."""
    if not text or text.strip().lower() == "now":
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--as-of {text!r}: expected an ISO date or datetime") from None
    if not 1970 <= moment.year <= 2200:  # dates computed from it must stay representable
        raise ConfigError(f"--as-of {text!r}: expected a year from 1970 to 2200")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
