"""Checks the settings and profile models share: no secret in a file, and one part of the
`write_back:` block validated by the model that owns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sms_conformance.model.errors import ConfigError

SECRET_KEYS = frozenset({
    "password", "client_secret", "secret", "token", "access_token", "refresh_token", "api_key",
    "apikey", "api_token", "pat",
})


def refuse_secrets(data: Any) -> Any:
    """`data` as given, unless it is a mapping holding a secret's key (ValueError)."""
    if isinstance(data, Mapping):
        secrets = sorted(SECRET_KEYS & {str(k).lower() for k in data})
        if secrets:
            raise ValueError(
                f"holds {', '.join(secrets)}: secrets come from the environment; name the "
                "variable instead (e.g. password_env: SERVICENOW_PASSWORD)"
            )
    return data


M = TypeVar("M", bound=BaseModel)


def write_back_part(model: type[M], block: Mapping[str, Any]) -> M:
    """The keys of the write_back block that `model` declares, validated; the others belong to
    another part. A ConfigError names the first fault."""
    mine = {k: v for k, v in block.items() if k in model.model_fields}
    try:
        return model.model_validate(mine)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(step) for step in ("write_back", *err["loc"]))
        raise ConfigError(f"settings {where}: {err['msg']}") from None
