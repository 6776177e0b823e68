"""Which instance a run talks to: what the platform says it is, not the URL it was reached by.

The history store (scans, hidden-field baselines, watermarks, tasks, trends) and the one-writer
lock are keyed by this identity, so a second URL of the same instance (a custom domain, a proxy,
a port change) finds what the first one left. `instance_id:` in settings pins it (and must
agree with what the platform says); `aliases:` lists other URLs of the same instance: history
written under any of them, before identities, is claimed by the identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sms_conformance.model.errors import ConfigError

PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")  # a site may answer anything: only plain ids


@dataclass(frozen=True)
class Told:
    """What the platform said about its identity: `value`, or None with `why` not."""

    value: str | None
    how: str  # "sys_properties instance_id", "/_edge/tenant_info cloudId", or why it did not

    @classmethod
    def first(cls, answers: Mapping[str, Any], refused: str) -> Told:
        """The first of `answers` (source -> value) that is a plain id, else Told(None, refused)."""
        for how, value in answers.items():
            if isinstance(value, str) and PLAIN_ID.fullmatch(value):
                return cls(value, how)
        return cls(None, refused)


@dataclass(frozen=True)
class Identity:
    key: str  # "servicenow:<instance id>", "jira:<cloudId>"; "<platform>:url:<url>" as fallback
    source: str  # where the key comes from, for doctor and the notice
    urls: tuple[str, ...]  # the URL of this run and the aliases, normalised
    notice: str = ""  # set when the platform did not say and the URL stands in

    @property
    def stand_ins(self) -> tuple[str, ...]:
        """The keys this instance had while it did not say what it is (one per URL)."""
        platform = self.key.split(":", 1)[0]
        return tuple(f"{platform}:url:{url}" for url in self.urls)

    def describe(self) -> str:
        return f"instance identity {self.key} ({self.source})"


def normal_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def resolve_identity(connector: Any, settings: Mapping[str, Any],
                     identify: Callable[[], Told | None] | None = None) -> Identity:
    """The identity of the instance behind `connector`: settings' `instance_id` when pinned,
    else the platform's answer (`identify`: the read begun beside the other start reads,
    else the connector's own), else (said in a notice) the URL and its aliases."""
    platform: str = connector.platform
    pinned = str(settings.get("instance_id") or "").strip()
    urls = tuple(dict.fromkeys(normal_url(u) for u in (connector.instance,
                                                      *settings.get("aliases", ()))))
    answer: Told | None = (identify or connector.identify)()  # None: export files have none
    asks = answer is not None
    told = answer if answer is not None else Told(None, "a source with no identity to ask")
    if pinned:
        if told.value is not None and told.value != pinned:
            raise ConfigError(
                f"settings instance_id: {pinned!r}, but {connector.instance} says it is "
                f"{told.value!r} ({told.how}): another instance (a clone?) behind this URL; "
                "nothing was read or written. Fix instance_id in config/settings.yaml if the "
                "instance was meant")
        return Identity(f"{platform}:{pinned}", "instance_id in settings", urls)
    if told.value is not None:
        return Identity(f"{platform}:{told.value}", told.how, urls)
    # min(): every URL of the instance listed in aliases gives the same key.
    fallback = min(urls)
    if not asks:
        return Identity(f"{platform}:url:{fallback}", "its location", urls)
    return Identity(
        f"{platform}:url:{fallback}", "its URL: the platform did not say", urls,
        notice=(f"{connector.instance} did not say which instance it is ({told.how}): history, "
                "watermarks and the lock are keyed by its URL"
                f"{' and aliases' if len(urls) > 1 else ''}; another URL of the same instance "
                "starts afresh unless it is listed in aliases: or instance_id: pins the "
                "identity in config/settings.yaml"))
