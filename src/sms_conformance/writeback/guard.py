"""What write-back may copy from records into tasks: ids and capped, neutralised text.

Record values are untrusted. A value copied from a record into a task's owner or parent must look
like a platform id (each connector checks its own form again before writing it); text copied
into a title or body is capped and HTML-escaped. Where tasks may go is the connector's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import LIFECYCLE_STATES, Process

# A platform id: a ServiceNow sys_id, a Jira issue, project or group id. No punctuation that a
# query language or a script could read (^, =, :, parentheses, spaces).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# A person: as a platform id, or a Jira Cloud accountId of the "<number>:<uuid>" form.
_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}|[0-9]{1,9}:[0-9a-f-]{36}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PARTIAL_ENTITY = re.compile(r"&[a-z]*$")

OBSERVED_CAP = 500  # characters of each observed value
MESSAGE_CAP = 1000
# A task's body and title: the shortest a platform keeps (ServiceNow's task.description and
# task.short_description; Jira's summary takes 255).
DESCRIPTION_CAP = 4000
SHORT_CAP = 160


def check_owner_groups(groups: Mapping[str, str]) -> None:
    for process, group in groups.items():
        if group and not is_reference(group):
            raise ConfigError(
                f"settings write_back.owner_groups.{process}: {group!r} is not a group id")


def check_policy(policy: Mapping[str, Any]) -> None:
    """closed_states, where given, must name states of the process's lifecycle."""
    for process, one in policy.items():
        known = LIFECYCLE_STATES[Process(process)]
        if "closed_states" not in one.model_fields_set:  # the default names both, as it can
            continue
        for state in one.closed_states:
            if state not in known:
                raise ConfigError(
                    f"settings write_back.policy.{process}.closed_states: {state!r} is not a "
                    f"{process} state (one of {', '.join(known)})")


def is_reference(value: str) -> bool:
    """A value that may name a record or group in a task: a platform id, nothing more."""
    return bool(_ID.fullmatch(value))


def is_person(value: str) -> bool:
    """A value that may name the person a task is assigned to (a user's id), nothing more."""
    return bool(_PERSON.fullmatch(value))


def clip(value: str, cap: int) -> str:
    """Plain text of at most `cap` characters (plus a note of what was cut), controls removed."""
    value = _CONTROL.sub("", value)
    if len(value) <= cap:
        return value
    return f"{value[:cap]}... [{len(value) - cap} more characters cut]"


def neutralise(text: str, cap: int, cut: str = "...") -> str:
    """HTML-escaped (&, <, >), then cut to `cap` characters without splitting an entity.

    Escaped rather than stripped: no tag parser to fool, and the reader still sees what the
    record held. The platform shows these fields as text, some views and e-mails as HTML.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(escaped) <= cap:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[:cap - len(cut)]) + cut
