"""The Jira part of `write_back` in settings.yaml (`write_back.jira`), checked strictly:

    write_back:
      jira:
        project: ITSM            # where remediation tasks are created
        issue_type: Task         # Task (linked to its record) or Sub-task (of its record)
        link_type: Relates       # the link between a Task and its record
        done_transition: ""      # a transition name; "" takes any to a done status
        owner_field: ""          # a group picker field for the owner group; "" the field map's
                                 # assignment_group field (found by name), "none" writes none
        owner_first: group       # group: the record's group, else its assignee; assignee:
                                 # the record's assignee, else its group
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sms_conformance.model.errors import ConfigError

# Go into JQL and request bodies: names as Jira spells them, nothing that could end a clause.
_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _./-]*$"


class JiraTaskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    project: str = Field("ITSM", pattern=r"^[A-Z][A-Z0-9_]+$", max_length=20)
    issue_type: Literal["Task", "Sub-task"] = "Task"
    link_type: str = Field("Relates", pattern=_NAME, max_length=60)
    done_transition: str = Field("", pattern=r"^$|" + _NAME, max_length=60)
    owner_field: str = Field("", pattern=r"^$|^none$|^customfield_[0-9]{1,9}$")
    owner_first: Literal["group", "assignee"] = "group"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> JiraTaskSettings:
        block = settings.get("write_back", {}).get("jira") or {}
        if not isinstance(block, Mapping):
            raise ConfigError("settings write_back.jira: expected a mapping (project, "
                              "issue_type, link_type, done_transition, owner_field, owner_first)")
        try:
            return cls.model_validate(dict(block))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(step) for step in ("write_back", "jira", *err["loc"]))
            raise ConfigError(f"settings {where}: {err['msg']}") from None
