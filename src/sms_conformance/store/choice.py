"""Which stored scan `--scan ID|latest` means: `latest` is per instance.

A history store may hold the scans of several instances (a production instance, a test one, the
demo's sandbox). An instance is its identity (history.instance_key), whatever URL reached it:
`--instance` names it by any URL one of its scans went through (or by its identity key).
`latest` is the latest scan of the instance named, or of the one instance the store holds;
across several instances it is ambiguous, and the error lists them with their latest scans
instead of picking one. Runs that read nothing (failed starts) are never `latest`: they hold no
evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sms_conformance.model.errors import ConfigError
from sms_conformance.store.history import History, instance_key

Scan = dict[str, Any]


def same_instance(a: str | None, b: str | None) -> bool:
    return (a or "").rstrip("/").casefold() == (b or "").rstrip("/").casefold()


def instance_keys(scans: Sequence[Scan], instance: str) -> set[str]:
    """The identities `instance` names among `scans`: that of every scan reached through the
    URL `instance`, or `instance` itself when it is an identity key."""
    return {instance_key(s) for s in scans
            if same_instance(s["instance"], instance) or instance_key(s) == instance}


def of_instance(scans: Sequence[Scan], instance: str,
                every: Sequence[Scan] | None = None) -> list[Scan]:
    """The scans of the instance `instance` names, through whatever URL (`every`: the scans the
    name is looked up in, by default `scans`)."""
    keys = instance_keys(scans if every is None else every, instance)
    return [s for s in scans if instance_key(s) in keys]


def choose_scan(history: History, spec: str, instance: str | None = None, *,
                usable: Callable[[Scan], bool] = lambda scan: True,
                what: str = "scan") -> Scan:
    """The scan `spec` names (an id, or `latest` of `instance`); `usable` narrows what `latest`
    may pick (e.g. complete full scans only) and `what` says so in errors."""
    if spec != "latest":
        if not (spec.isdigit() and int(spec) > 0):
            raise ConfigError(f"--scan {spec}: expected a scan id or 'latest'")
        scan = history.scan(int(spec))
        if scan is None:
            ids = history.scan_ids()
            held = f"it holds scans {ids[0]} to {ids[-1]}" if ids else "it holds no scan yet"
            raise ConfigError(f"--scan {spec}: no such scan in {history.path} ({held})")
        if instance and instance_key(scan) not in instance_keys(history.scans(), instance):
            raise ConfigError(f"--scan {spec} is a scan of {scan['instance']}, not {instance}")
        return scan
    scans = [s for s in history.scans(failed_starts=False) if usable(s)]
    if instance:
        mine = of_instance(scans, instance, history.scans())
        if not mine:
            held = f"; it holds scans of {_held(scans)}" if scans else ""
            raise ConfigError(f"{history.path}: no {what} of {instance} in this history store"
                              + held)
        return mine[-1]
    if not scans:
        raise ConfigError(f"{history.path}: history store holds no {what} yet: run "
                          "`sms-conformance scan` first (or pass --history PATH)")
    latest = latest_per_instance(scans)
    if len(latest) > 1:
        raise ConfigError(f"--scan latest is ambiguous: this history store holds scans of "
                          f"{len(latest)} instances: {_held(scans)}; pass --instance URL (--site "
                          "on Jira) or --scan ID")
    return scans[-1]


def latest_per_instance(scans: Sequence[Scan]) -> dict[str, Scan]:
    """Instance identity -> its latest scan, latest first."""
    latest: dict[str, Scan] = {}
    for scan in scans:
        latest[instance_key(scan)] = scan
    return dict(sorted(latest.items(), key=lambda kv: -int(kv[1]["id"])))


def _held(scans: Sequence[Scan]) -> str:
    """Each instance by the URL its latest scan went through."""
    latest = latest_per_instance(scans)
    return "; ".join(f"{(scan['instance'] or '').rstrip('/') or '(no instance)'} (latest scan "
                     f"{scan['id']}, {scan['started_at']})" for scan in latest.values())
