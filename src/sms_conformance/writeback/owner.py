"""The owner of tasks that have none: `write_back.fallback_owner`, a group id or name (a
ServiceNow sys_id; on Jira a group's name or groupId, or a person's accountId).

A task goes to its record's assignment group (on Jira, or its assignee: write_back.jira
owner_first), else to the process's `owner_groups` entry, else to the fallback owner, else
nobody. A name is matched (case-insensitively) against the assignment groups of the records this
scan read, so no extra request is made; else a platform that can look owners up (Jira: `lookup`)
is asked; a setting that names none (or several) leaves those tasks unassigned, with a notice
saying so. Pure, but for `lookup`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sms_conformance.model.schema import Process
from sms_conformance.writeback.plan import WriteBackSettings

# How to name a group unambiguously, per platform.
BY_ID = {"servicenow": "give the group's sys_id instead",
         "jira": "give a person's accountId, or a group's name exactly as Jira shows it, or its "
                 "groupId"}
GROUP_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Fallback:
    setting: str  # as written in settings, "" when not set
    group_id: str = ""  # id the tasks are assigned to, "" = they stay unassigned
    name: str = ""
    notice: str = ""
    kind: str = "group"  # group | person (a Jira accountId: the tasks' assignee)

    def describe(self) -> str:
        """What happens to tasks without an owner, for the plan."""
        if self.group_id:
            return f"assigned to the fallback owner {self.name or self.group_id}"
        if self.setting:
            return f"unassigned (write_back.fallback_owner {self.setting!r} was not found)"
        return "unassigned (write_back.fallback_owner is not set)"


# (kind, id, name) of the person or group a setting names on the platform, None for neither.
Lookup = Callable[[str], tuple[str, str, str] | None]


def resolve_fallback(setting: str, groups: Mapping[str, str], platform: str = "servicenow",
                     lookup: Lookup | None = None) -> Fallback:
    """`groups`: assignment group id -> name, as this scan read them."""
    setting = setting.strip()
    if not setting:
        return Fallback("")
    matches = sorted(gid for gid, name in groups.items() if name.casefold() == setting.casefold())
    if len(matches) == 1:
        return Fallback(setting, matches[0], groups[matches[0]])
    if setting in groups:
        return Fallback(setting, setting, groups[setting])
    if lookup is not None and not matches:
        found = lookup(setting)
        if found is not None:
            kind, owner_id, name = found
            return Fallback(setting, owner_id, name, kind=kind)
        return Fallback(setting, notice=(
            f"write_back.fallback_owner {setting!r} names no person or group of this site: tasks "
            f"without an owner stay unassigned; {BY_ID.get(platform, BY_ID['servicenow'])}"))
    # An id: one the scan saw, or one shaped as platforms shape group ids (a ServiceNow sys_id,
    # a Jira group UUID), which a name never is.
    if setting in groups or (not matches and GROUP_ID.fullmatch(setting)):
        return Fallback(setting, setting, groups.get(setting, ""))
    why = "several assignment groups" if matches else "no assignment group of this scan's records"
    return Fallback(setting, notice=(
        f"write_back.fallback_owner {setting!r} names {why}: tasks without an owner stay "
        f"unassigned; {BY_ID.get(platform, BY_ID['servicenow'])}"))


def with_fallback(config: WriteBackSettings, fallback: Fallback) -> WriteBackSettings:
    """The settings with the fallback owner as the owner group of every process without one
    (task writers assign `owner_groups` to tasks whose record has no valid group)."""
    if not fallback.group_id or fallback.kind != "group":
        return config
    groups = {p.value: config.owner_groups.get(p.value) or fallback.group_id for p in Process}
    return config.model_copy(update={"owner_groups": groups})
