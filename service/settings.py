"""Configuration: read from the environment once, when the app or a command is created."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal, get_args, get_type_hints

import msgspec
import platformdirs

# Environment variable -> Settings field. Every KUNDVAL_* name must be listed here: an unknown one is a
# typo that would otherwise be silently ignored.
ENV = {
    "DATABASE_URL": "database_url",
    "KUNDVAL_MIGRATION_URL": "migration_url",
    "KUNDVAL_DATA_DIR": "data_dir",
    "KUNDVAL_HOST": "host",
    "KUNDVAL_PORT": "port",
    "KUNDVAL_LOG_LEVEL": "log_level",
    "KUNDVAL_LOG_FORMAT": "log_format",
    "KUNDVAL_MAX_BODY_BYTES": "max_body_bytes",
    "KUNDVAL_POOL_MIN": "pool_min",
    "KUNDVAL_POOL_MAX": "pool_max",
    "KUNDVAL_DEFAULT_TENANT": "default_tenant",
    "KUNDVAL_HEADER_TIMEOUT": "header_timeout",
    "KUNDVAL_BODY_TIMEOUT": "body_timeout",
    "KUNDVAL_RATE_WINDOW": "rate_window",
    "KUNDVAL_RATE_FAILED_AUTH": "rate_failed_auth",
    "KUNDVAL_RATE_WRITES_PER_KEY": "rate_writes_per_key",
    "KUNDVAL_RATE_WRITES_PER_ADDRESS": "rate_writes_per_address",
    "KUNDVAL_RATE_LOGINS_PER_USER": "rate_logins_per_user",
    "KUNDVAL_SESSION_IDLE": "session_idle",
}
FIELD_ENV = {field: name for name, field in ENV.items()}


class ConfigError(Exception):
    """A malformed or unknown configuration value; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # None: run an embedded PostgreSQL whose data lives under data_dir. Otherwise the service's role:
    # one that owns no table and is no superuser (the start refuses any other).
    database_url: str | None = None
    # The owner's URL, for migrations; None: apply none (a pending one stops the start).
    migration_url: str | None = None
    data_dir: str = msgspec.field(default_factory=lambda: platformdirs.user_data_dir("kundval"))
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # auto: JSON unless stderr is a terminal.
    log_format: Literal["auto", "json", "console"] = "auto"
    # Largest accepted request body; a 10 000-visit batch is about 4 MB.
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 * 1024 * 1024
    pool_min: Annotated[int, msgspec.Meta(ge=1)] = 2
    pool_max: Annotated[int, msgspec.Meta(ge=1)] = 10
    default_tenant: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{1,62}$")] = "kson"
    # Seconds a connection may take to send a request's head, and may leave a body waiting between
    # two reads (a slow client holds a connection no longer).
    header_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    body_timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    # Rate limits (domain.md 7b), counted in PostgreSQL per fixed window of rate_window seconds; 0 is
    # no limit. Failed authentications per client address; writes per API key and per address.
    rate_window: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 60
    rate_failed_auth: Annotated[int, msgspec.Meta(ge=0)] = 100
    rate_writes_per_key: Annotated[int, msgspec.Meta(ge=0)] = 3000
    rate_writes_per_address: Annotated[int, msgspec.Meta(ge=0)] = 30000
    # Attempts to log in to one account per window (counted before the password is checked, so a
    # guesser learns nothing once over it); failed logins also count as failed authentications.
    rate_logins_per_user: Annotated[int, msgspec.Meta(ge=0)] = 10
    # Seconds a workplace session may stay unused before it ends (workplace.md: 30 minutes).
    session_idle: Annotated[int, msgspec.Meta(ge=1)] = 30 * 60

    def __post_init__(self) -> None:
        if self.pool_min > self.pool_max:
            raise ConfigError("KUNDVAL_POOL_MIN must not exceed KUNDVAL_POOL_MAX")
        for field in ("database_url", "migration_url"):
            url = getattr(self, field)
            if url is not None and not url.startswith(("postgresql://", "postgres://")):
                raise ConfigError(f"{FIELD_ENV[field]} must be a postgresql:// URL")
        if self.migration_url and not self.database_url:
            raise ConfigError(
                "KUNDVAL_MIGRATION_URL needs DATABASE_URL (without it the embedded server has its own roles)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from the environment (and explicit overrides such as command-line flags)."""
        environ = os.environ if environ is None else environ
        unknown = sorted(n for n in environ if n.startswith("KUNDVAL_") and n not in ENV)
        if unknown:
            raise ConfigError(f"unknown configuration variable {unknown[0]} (known: {', '.join(ENV)})")
        raw: dict[str, object] = {ENV[n]: v for n, v in environ.items() if n in ENV and v != ""}
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as err:
            raise ConfigError(_name_variable(str(err))) from None


def _name_variable(message: str) -> str:
    """Rewrite msgspec's `$.field` path into the environment variable's name, and name the allowed
    values of a field that has a fixed set of them."""
    match = re.search(r"\s*-\s*at\s*`\$\.(\w+)`", message)
    if not match:
        return message
    field = match.group(1)
    text = f"{FIELD_ENV.get(field, field)}: {message[: match.start()]}"
    allowed = get_args(get_type_hints(Settings).get(field))
    if allowed and all(isinstance(a, str) for a in allowed):
        text += f" (allowed: {', '.join(allowed)})"
    return text
