"""API keys: only a SHA-256 of each key is stored; the key is shown once when created."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import asyncpg
import msgspec

from service.domain.principal import Role

PREFIX = "kv_"


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    tenant_id: str
    name: str
    role: Role
    provider_id: str | None
    created_at: datetime
    revoked_at: datetime | None


COLUMNS = ", ".join(ApiKey.__struct_fields__)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create(
    conn: asyncpg.Connection, *, tenant_id: str, role: Role, name: str, provider_id: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; return its record and the key itself (never retrievable again)."""
    key = PREFIX + secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (tenant_id, id, name, role, provider_id, key_hash)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING {COLUMNS}""",
        tenant_id,
        uuid.uuid4(),
        name,
        role,
        provider_id,
        key_hash(key),
    )
    return ApiKey(**dict(row)), key


async def list_keys(conn: asyncpg.Connection, tenant_id: str) -> list[ApiKey]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant_id,
    )
    return [ApiKey(**dict(r)) for r in rows]


async def revoke(conn: asyncpg.Connection, tenant_id: str, key_id: uuid.UUID) -> ApiKey | None:
    row = await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}""",
        tenant_id,
        key_id,
    )
    return ApiKey(**dict(row)) if row else None
