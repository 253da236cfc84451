"""The workplace's people in the browser tests: accounts made as `kundval user create` makes them."""

from __future__ import annotations

from service.domain.principal import Principal
from service.usecases import accounts

PASSWORD = "correct horse battery staple"


async def create_user(conn, username: str, role: str, name: str | None = None) -> None:
    """An account of tenant kson with PASSWORD, named `name` (or its username)."""
    async with conn.transaction():
        await accounts.create(
            conn,
            Principal.cli("kson", "test"),
            username=username,
            role=role,
            name=name or username,
            password=PASSWORD,
        )
