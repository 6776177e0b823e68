"""One writer per (instance, history store): an OS file lock beside the history store.

The lock is the operating system's (flock / LockFileEx, through `filelock`), so it dies with
its process: a run killed with -9 leaves no lock behind, only a stale holder note that the next
holder overwrites. Who holds the lock is written to a sidecar file, because the lock file itself
cannot be read while held on Windows.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from sms_conformance.model.errors import ConfigError, LockHeld
from sms_conformance.support.safe_files import refuse_symlink, write_text

POLL_SECONDS = 0.25


_DEFAULT_PORTS = {"http": 80, "https": 443}


def instance_identity(instance: str) -> str:
    """One spelling per instance: scheme and host lower-cased, the default port and trailing
    slashes dropped. Two cron entries naming one instance differently (`https://ACME.service-now.com/`,
    `https://acme.service-now.com:443`) must share one lock, or both write the same tasks."""
    parts = urlsplit(instance.strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return instance  # a file source's `file:` path and the like: already one spelling
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a port: leave the text as it is
        return instance
    netloc = parts.hostname if port in (None, _DEFAULT_PORTS[scheme]) else f"{parts.hostname}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def lock_path(history: Path, instance: str) -> Path:
    """`history.sqlite.<instance hash>.lock`, beside the history store."""
    digest = hashlib.sha256(instance_identity(instance).encode()).hexdigest()[:12]
    return history.with_name(f"{history.name}.{digest}.lock")


def holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder")


@contextmanager
def writer_lock(history: Path, instance: str, wait: float,
                waiting: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold the lock of (instance, history store) for the block; wait up to `wait` seconds,
    telling `waiting` who holds it when it is taken.

    Raises LockHeld (exit 4) naming the holder when it cannot be had in time.
    """
    path = lock_path(history, instance)
    # The lock is opened with O_TRUNC: through a planted link it would truncate its target.
    refuse_symlink(path, "lock")
    refuse_symlink(holder_path(path))
    # No soft fallback: a marker file would outlive a killed run; flock cannot.
    lock = FileLock(path, fallback_to_soft=False)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if wait <= 0:
                raise
            waiting(f"waiting up to {wait:g} s for the write-back lock ({describe_holder(path)})")
            lock.acquire(timeout=wait, poll_interval=POLL_SECONDS)
    except Timeout:
        raise LockHeld(
            f"another run holds the write-back lock for {instance} ({describe_holder(path)}; "
            f"lock {path}); rerun with --wait 30m to wait for it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot take the write-back lock: {exc}") from None
    try:
        _write_holder(holder_path(path), instance)
        yield
    finally:
        holder_path(path).unlink(missing_ok=True)
        lock.release()


def _write_holder(path: Path, instance: str) -> None:
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    note = {"pid": os.getpid(), "host": socket.gethostname(), "since": since, "instance": instance}
    # A reader sees the old note or the new one, never half of one; the temporary name is
    # unpredictable (mkstemp), so no one can plant a link there beforehand.
    write_text(path, json.dumps(note), mode=0o644)


def describe_holder(lock: Path) -> str:
    """`pid 123 on host a since 2026-11-26T02:00:00Z`, or why that is not known."""
    try:
        note = json.loads(holder_path(lock).read_text(encoding="utf-8"))
        return f"pid {int(note['pid'])} on host {note['host']} since {note['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder not recorded yet"
