"""Who `write_back.fallback_owner` names on a Jira site: an accountId (a person: the task's
assignee) or a group, by name or groupId (the task's group field). Asked of the site, two GETs
at most, once a run: GET /user?accountId= (404 when no such user) and GET /group/bulk with
groupName, then groupId (Cloud's group look-up; its `values` list the groups found).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.model.errors import ConfigError

# An accountId (Cloud: 24 hex digits, or "<number>:<uuid>"; any letters, digits, ':' and '-');
# a Data Center user is named by login. A group name has no such bound.
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.@-]{0,127}")


def account_id(value: str) -> str:
    """`value` as the accountId (or login) of a task's assignee; ConfigError when it is not one."""
    if not _ACCOUNT.fullmatch(value):
        raise ConfigError(f"invalid accountId {value!r}")
    return value


@dataclass(frozen=True)
class Owner:
    kind: str  # person | group
    id: str  # accountId (Data Center: the login), or groupId
    name: str  # displayName, or the group's name


def find_owner(client: JiraClient, api: str, setting: str) -> Owner | None:
    """The person or group `setting` names on the site; None when it names neither."""
    if _ACCOUNT.fullmatch(setting):
        key = "accountId" if api == "3" else "username"
        user = client.get(f"/rest/api/{api}/user", {key: setting})
        if isinstance(user, dict) and user.get("active", True) is not False:
            found = str(user.get("accountId") or user.get("name") or "")
            if found:
                return Owner("person", found, str(user.get("displayName") or found))
    for key in ("groupName", "groupId"):
        group = _one_group(client.get(f"/rest/api/{api}/group/bulk", {key: setting}), setting)
        if group is not None:
            return group
    return None


def _one_group(body: Any, setting: str) -> Owner | None:
    values = body.get("values") if isinstance(body, dict) else None
    wanted = setting.casefold()
    for item in values if isinstance(values, list) else ():
        if not isinstance(item, dict):
            continue
        name, group_id = str(item.get("name") or ""), str(item.get("groupId") or "")
        if group_id and wanted in (name.casefold(), group_id.casefold()):
            return Owner("group", group_id, name or group_id)
    return None
