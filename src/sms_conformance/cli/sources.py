"""Opens the connector a command reads from, through the registry of connectors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sms_conformance.app.profiles import ConnectionProfile
from sms_conformance.connectors.capabilities import Reads
from sms_conformance.connectors.registry import SourceOptions, opener, source_entry
from sms_conformance.model.schema import PlatformMap
from sms_conformance.support.limits import Limits


def source_platform(source: str, profile: ConnectionProfile | None = None,
                    platform: str | None = None) -> str:
    """The platform read (whose field map and rules apply): the profile's source's, else
    `--source`'s; ConfigError if unknown. `platform`: `--platform`, for a source name more than
    one platform has (file:DIR)."""
    return source_entry(profile.source if profile else source, platform)[0].platform


@contextmanager
def open_source(
    source: str, *, instance: str | None, fieldmap: PlatformMap, records: int, seed: int,
    quiet: bool = False, profile: ConnectionProfile | None = None, limits: Limits | None = None,
    preflight: bool = True, as_of: datetime | None = None, port: int = 0,
    platform: str | None = None,
) -> Iterator[Reads]:
    """Yields a connector; a sandbox source runs a sandbox on a loopback port (`port`, 0: a free
    one) meanwhile, its records dated back from the day of `as_of` (None: today).
    `fieldmap` is the map of the source's platform (source_platform); a profile connects to
    the source it names."""
    entry, argument = source_entry(profile.source if profile is not None else source, platform)
    options = SourceOptions(argument=argument, instance=instance,
                            profile=profile.settings if profile is not None else None,
                            records=records, seed=seed, quiet=quiet, limits=limits,
                            preflight=preflight, as_of=as_of, port=port)
    with opener(entry)(options, fieldmap) as connector:
        yield connector
