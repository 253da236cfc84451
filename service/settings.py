"""Configuration: read from the environment once, when the app or a command is created."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal

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
    """Rewrite msgspec's `$.field` path into the environment variable's name."""
    match = re.search(r"`\$\.(\w+)`", message)
    if not match:
        return message
    name = FIELD_ENV.get(match.group(1), match.group(1))
    return f"{name}: {message[: match.start()].rstrip(' -')}"
