"""The one place that knows the platforms: per platform its field map, per `--source` how to
open a reading connector. Entries name their code by import path and are imported only when
used, so a platform's package (and its dependencies) loads only for a run that reads it.

A platform package provides (see docs/connectors.md):
- `load_field_map(override: Path | None) -> PlatformMap`: its shipped map, with the file
  `PlatformEntry.override_file` of the config directory merged over it;
- per source, an opener `(SourceOptions, PlatformMap) -> AbstractContextManager[Reads]`;
- connector classes declaring their `capabilities` (Reads, WritesTasks, Doctor);
- optionally, its part of settings' `write_back` (the keys `PlatformEntry.write_back_keys`,
  checked by its task port), and per source that connects with a profile the profile's model
  (`SourceEntry.profile`, a pydantic model of the keys a profiles.yaml entry may hold).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from sms_conformance.connectors.capabilities import Reads
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.schema import PlatformMap
from sms_conformance.support.limits import Limits


@dataclass(frozen=True)
class SourceOptions:
    """What the command line says about where to read (each opener takes what it needs)."""

    argument: str = ""  # after the colon: file:DIR gives DIR
    instance: str | None = None  # --instance (ServiceNow), --site (Jira)
    profile: Mapping[str, Any] | None = None
    records: int = 2000  # sandbox: incidents to seed
    seed: int = 7
    # sandbox: its records are dated back from the day of this moment (--as-of; None: today)
    as_of: datetime | None = None
    port: int = 0  # sandbox: loopback port (0: a free one)
    quiet: bool = False
    limits: Limits | None = None
    # Whether the opener checks that the source can serve before yielding (a failure then
    # writes nothing); `doctor` turns it off to report every problem itself.
    preflight: bool = True


Opener = Callable[[SourceOptions, PlatformMap], AbstractContextManager[Reads]]


@dataclass(frozen=True)
class PlatformEntry:
    name: str
    title: str  # as people call it
    package: str  # the connector package; its `fieldmap` module has load_field_map
    override_file: str  # the organisation's field map in the config directory
    site_env: str = ""  # the environment variable naming its instance or site, if any
    site_noun: str = "instance"  # what its users call a deployment; also the option naming one
    # Keys of settings.yaml's `write_back` that are this platform's: checked by its package when
    # a run writes there, so settings load without importing it.
    write_back_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceEntry:
    name: str  # as --source spells it
    platform: str
    opener: str  # "module:function"
    argument: str = ""  # what follows NAME: on the command line, e.g. "DIR"; "" takes none
    profile: str = ""  # "module:Model" of the profiles.yaml entries it reads; "" takes none


PLATFORMS: dict[str, PlatformEntry] = {p.name: p for p in (
    PlatformEntry("servicenow", "ServiceNow", "sms_conformance.connectors.servicenow",
                  "fieldmap.yaml", "SERVICENOW_INSTANCE",
                  write_back_keys=("targets", "custom_task_tables", "states")),
    PlatformEntry("jira", "Jira Service Management", "sms_conformance.connectors.jira",
                  "jira_fieldmap.yaml", "JIRA_SITE", site_noun="site", write_back_keys=("jira",)),
)}
_SN = "sms_conformance.connectors.servicenow.source"
SOURCES: dict[str, SourceEntry] = {s.name: s for s in (
    SourceEntry("servicenow", "servicenow", f"{_SN}:open_instance",
                profile="sms_conformance.connectors.servicenow.settings:Profile"),
    SourceEntry("sandbox", "servicenow", "sms_conformance.app.sandbox_source:open_sandbox"),
    SourceEntry("file", "servicenow", f"{_SN}:open_exports", argument="DIR"),
    SourceEntry("jira", "jira", "sms_conformance.connectors.jira.source:open_site",
                profile="sms_conformance.connectors.jira.settings:JiraProfile"),
)}
# A profile that names no source connects to this one (profiles predate the other platforms).
DEFAULT_PROFILE_SOURCE = "servicenow"
# Sources of the same name on another platform, chosen by `--platform` (or by what is there).
OTHER_PLATFORM_SOURCES: dict[tuple[str, str], SourceEntry] = {(s.name, s.platform): s for s in (
    SourceEntry("file", "jira", "sms_conformance.connectors.jira.source:open_exports",
                argument="DIR"),
)}
DEFAULT_PLATFORM = "servicenow"


def source_entry(source: str, platform: str | None = None) -> tuple[SourceEntry, str]:
    """The entry of `--source NAME[:ARG]` and its argument; `platform` (`--platform`) picks
    among sources of one name, else an export directory's contents do (Jira's exports)."""
    name, colon, argument = source.partition(":")
    entry = SOURCES.get(name)
    if entry is None or bool(colon) != bool(entry.argument) or (colon and not argument):
        raise ConfigError(f"--source {source!r}: use {_spelled()}")
    if platform is None and name == "file" and holds_jira_exports(Path(argument)):
        platform = "jira"
    if platform is not None and platform != entry.platform:
        other = OTHER_PLATFORM_SOURCES.get((name, platform))
        if other is None:
            platform_entry(platform)  # an unknown platform says so
            raise ConfigError(f"--source {name} reads {PLATFORMS[entry.platform].title}, not "
                              f"--platform {platform}")
        entry = other
    return entry, argument


def holds_jira_exports(directory: Path) -> bool:
    """Whether an export directory holds Jira's exports rather than ServiceNow's (told here,
    without importing either package): the site's field list (field.json), or a CSV whose
    header has Jira's "Issue key" column."""
    if (directory / "field.json").is_file():
        return True
    for path in sorted(directory.glob("*.csv")) if directory.is_dir() else ():
        try:
            with path.open(encoding="utf-8-sig") as handle:
                if "Issue key" in handle.readline():
                    return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def _spelled() -> str:
    """The sources per platform: "servicenow, sandbox or file:DIR (ServiceNow); jira or
    file:DIR (...)"."""
    groups = []
    for platform in PLATFORMS.values():
        entries = [*SOURCES.values(), *OTHER_PLATFORM_SOURCES.values()]
        names = [f"{s.name}:{s.argument}" if s.argument else s.name
                 for s in entries if s.platform == platform.name]
        listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        groups.append(f"{listed} ({platform.title})")
    return "; ".join(groups)


def platform_entry(platform: str) -> PlatformEntry:
    entry = PLATFORMS.get(platform)
    if entry is None:
        raise ConfigError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    return entry


def load_platform_map(platform: str, config_dir: Path | None) -> PlatformMap:
    """The field map of `platform`, with the organisation's file in `config_dir` merged over."""
    entry = platform_entry(platform)
    override = config_dir / entry.override_file if config_dir is not None else None
    loader = _attribute(f"{entry.package}.fieldmap:load_field_map", platform)
    return cast(PlatformMap, loader(override))


def opener(entry: SourceEntry) -> Opener:
    return cast(Opener, _attribute(entry.opener, entry.platform))


def profile_model(source: str) -> type[BaseModel]:
    """The model of a profile that connects to `source`; ConfigError if it takes none."""
    entry = SOURCES.get(source)
    if entry is None or not entry.profile:
        takes = ", ".join(s.name for s in SOURCES.values() if s.profile)
        raise ConfigError(f"a profile connects to {takes}, not {source!r}")
    return cast(type[BaseModel], _attribute(entry.profile, entry.platform))


def write_back_keys() -> frozenset[str]:
    """The keys of `write_back` some platform owns (each checks its own)."""
    return frozenset(key for p in PLATFORMS.values() for key in p.write_back_keys)


def _attribute(path: str, platform: str) -> Any:
    """`module:name`, imported now; a platform whose package is not there is a config error."""
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the platform's own package missing is "not available"; a missing dependency of
        # an installed package is a real error and keeps its traceback.
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        raise ConfigError(f"the {PLATFORMS[platform].title} connector is not available in this "
                          f"installation (no module {exc.name})") from None
    return getattr(module, name)
