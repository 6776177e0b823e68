"""The credentials of this run, kept out of every output however a site echoes them.

A site's 401 may repeat what it was sent: in an HTML title, a header (`X-Seraph-LoginReason`),
a JSON message; as `user:password`, the password alone, the base64 of the Basic pair or a
bearer token. Auth objects register each credential when made (`register`); `scrub` replaces
every known form of it with `[redacted]`. The transport scrubs the errors and retry log lines it
raises and writes; the CLI's error line and log handlers scrub again (cli/logs.py), so console,
doctor, JSON logs and the reports built from those errors never carry one.
"""

from __future__ import annotations

import base64
import html
import threading
from urllib.parse import quote

REDACTED = "[redacted]"
# Shorter values are not looked for: replacing every "ab" would garble every message.
MIN_LENGTH = 4

_lock = threading.Lock()
_known: list[str] = []  # longest first, so a pair is replaced whole before its password


def _b64(text: str) -> list[str]:
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return [encoded, encoded.rstrip("=")]


def forms(secret: str, user: str | None = None) -> set[str]:
    """The ways a site may echo `secret` (with `user`: the Basic pair too)."""
    plain = {secret} | ({f"{user}:{secret}"} if user is not None else set())
    found = set(plain)
    for text in plain:
        found.update(_b64(text))
    for text in list(found):
        found.update((quote(text, safe=""), html.escape(text)))
    return {f for f in found if len(f) >= MIN_LENGTH}


def register(secret: str, user: str | None = None) -> None:
    """A credential this run uses: a password or token, with `user` for a Basic pair."""
    if not secret:
        return
    with _lock:
        _known[:] = sorted(set(_known) | forms(secret, user), key=len, reverse=True)


def forget() -> None:
    """No credential known any more: a process that opens sources one after another (the test
    suite) starts each from none, so one source's secret never garbles another's messages."""
    with _lock:
        _known.clear()


def scrub(text: str) -> str:
    """`text` with every registered credential, in every form, replaced by [redacted]."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
