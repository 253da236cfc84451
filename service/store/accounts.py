"""Users and their browser sessions: rows in, rows out. Only hashes of passwords and session tokens
are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import asyncpg
import msgspec

from service.domain.principal import Role


class User(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    tenant_id: str
    name: str
    role: Role
    provider_id: str | None
    password_hash: str
    created_at: datetime
    password_at: datetime
    disabled_at: datetime | None


class Session(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    csrf: str
    created_at: datetime
    idle_seconds: float  # since the session's last request, by the database's clock


_USER = ", ".join(User.__struct_fields__)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _user(row: asyncpg.Record | None) -> User | None:
    return User(**{f: row[f] for f in User.__struct_fields__}) if row else None


async def create_user(
    conn: asyncpg.Connection,
    *,
    username: str,
    tenant_id: str,
    name: str,
    role: Role,
    provider_id: str | None,
    password_hash: str,
) -> User | None:
    """The new user; None if the username is taken."""
    row = await conn.fetchrow(
        f"""INSERT INTO users (username, tenant_id, name, role, provider_id, password_hash)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING RETURNING {_USER}""",
        username,
        tenant_id,
        name,
        role,
        provider_id,
        password_hash,
    )
    return _user(row)


async def get_user(conn: asyncpg.Connection, username: str) -> User | None:
    return _user(await conn.fetchrow(f"SELECT {_USER} FROM users WHERE username = $1", username))


async def list_users(conn: asyncpg.Connection, tenant_id: str) -> list[User]:
    rows = await conn.fetch(f"SELECT {_USER} FROM users WHERE tenant_id = $1 ORDER BY username", tenant_id)
    return [User(**dict(r)) for r in rows]


async def disable_user(conn: asyncpg.Connection, tenant_id: str, username: str) -> User | None:
    row = await conn.fetchrow(
        f"""UPDATE users SET disabled_at = coalesce(disabled_at, now())
            WHERE tenant_id = $1 AND username = $2 RETURNING {_USER}""",
        tenant_id,
        username,
    )
    return _user(row)


async def set_password(
    conn: asyncpg.Connection, tenant_id: str, username: str, password_hash: str
) -> User | None:
    row = await conn.fetchrow(
        f"""UPDATE users SET password_hash = $3, password_at = now()
            WHERE tenant_id = $1 AND username = $2 RETURNING {_USER}""",
        tenant_id,
        username,
        password_hash,
    )
    return _user(row)


async def start_session(conn: asyncpg.Connection, username: str) -> tuple[str, str]:
    """A new session of this user: its token (for the browser's cookie, never stored) and CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO web_sessions (tenant_id, token_hash, username, csrf)
           SELECT tenant_id, $1, username, $3 FROM users WHERE username = $2""",
        token_hash(token),
        username,
        csrf,
    )
    return token, csrf


async def find_session(conn: asyncpg.Connection, token: str) -> Session | None:
    """The open session with this token, with its user, and how long it has been idle."""
    row = await conn.fetchrow(
        f"""SELECT {", ".join(f"u.{f}" for f in User.__struct_fields__)}, s.csrf,
                   s.created_at AS session_created_at,
                   extract(epoch FROM now() - s.last_seen)::float8 AS idle_seconds
            FROM web_sessions s JOIN users u USING (tenant_id, username)
            WHERE s.token_hash = $1 AND s.ended_at IS NULL""",
        token_hash(token),
    )
    if row is None:
        return None
    return Session(
        user=_user(row),  # type: ignore[arg-type]
        csrf=row["csrf"],
        created_at=row["session_created_at"],
        idle_seconds=row["idle_seconds"],
    )


async def touch_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("UPDATE web_sessions SET last_seen = now() WHERE token_hash = $1", token_hash(token))


async def end_session(conn: asyncpg.Connection, token: str, why: str) -> bool:
    """End an open session; False if it was not open."""
    ended = await conn.fetchval(
        """UPDATE web_sessions SET ended_at = now(), ended_why = $2
           WHERE token_hash = $1 AND ended_at IS NULL RETURNING true""",
        token_hash(token),
        why,
    )
    return bool(ended)


async def end_sessions_of(conn: asyncpg.Connection, username: str, why: str) -> int:
    """End every open session of a user (disabled, or a new password); how many were open."""
    result = await conn.execute(
        "UPDATE web_sessions SET ended_at = now(), ended_why = $2 WHERE username = $1 AND ended_at IS NULL",
        username,
        why,
    )
    return int(result.split()[-1])
