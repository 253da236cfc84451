"""Request-scoped dependencies."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One connection and one transaction per request: any exception rolls everything back."""
    async with state.pool.acquire() as conn, conn.transaction():
        yield conn


# Handlers declare `conn: Conn` to receive the request's connection.
Conn = NamedDependency[asyncpg.Connection]
