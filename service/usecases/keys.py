"""API keys: who a key stands for, and keys made and revoked at the command line (audited)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.domain.errors import Invalid, NotFound
from service.domain.principal import Principal, Role
from service.store import accounts, apikeys, audit, tenants
from service.store.apikeys import ApiKey

__all__ = ["ApiKey", "create", "list_keys", "revoke"]


async def create(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    role: Role,
    name: str | None = None,
    provider: str | None = None,
    user: str | None = None,
) -> tuple[ApiKey, str]:
    """A key of `who`'s tenant; returns its record and the key itself (shown once, never stored). A
    provider key acts for one registered provider; no other key names one. A key made for a user
    (workplace.md) is named after them and has their role, so that four eyes, which compares names,
    sees one person in their key and their session; no other key may take a user's name."""
    if (role == "provider") != (provider is not None):
        raise Invalid(
            "a provider key names its provider, and only a provider key does",
            [{"field": "provider", "message": "required for role provider and only for it"}],
        )
    if not await tenants.exists(conn, who.tenant_id):
        raise NotFound(f"unknown tenant {who.tenant_id}")
    if user is not None:
        person = await accounts.get_user(conn, user)
        if person is None or person.tenant_id != who.tenant_id or person.disabled_at is not None:
            raise Invalid(f"no active user {user}", [{"field": "user", "message": f"no active user {user}"}])
        if person.role != role or person.provider_id != provider:
            message = f"user {user} is {person.role}: their key has their role (and provider)"
            raise Invalid(message, [{"field": "role", "message": message}])
        name = user
    elif name is not None and await accounts.get_user(conn, name) is not None:
        message = f"{name} is a user's name: make their key with --user {name}"
        raise Invalid(message, [{"field": "name", "message": message}])
    if provider is not None and not await tenants.has_provider(conn, who.tenant_id, provider):
        message = f"unknown provider {provider} in tenant {who.tenant_id}; register it first"
        raise Invalid(message, [{"field": "provider", "message": message}])
    record, key = await apikeys.create(
        conn,
        tenant_id=who.tenant_id,
        role=role,
        name=name or f"{role}{':' + provider if provider else ''}",
        provider_id=provider,
    )
    await audit.record(
        conn,
        who,
        action="apikey.create",
        entity_kind="api_key",
        entity_ids=[str(record.id)],
        after={"role": record.role, "provider": record.provider_id, "name": record.name, "user": user},
    )
    return record, key


async def list_keys(conn: asyncpg.Connection, who: Principal) -> list[ApiKey]:
    return await apikeys.list_keys(conn, who.tenant_id)


async def revoke(conn: asyncpg.Connection, who: Principal, key_id: UUID) -> ApiKey:
    record = await apikeys.revoke(conn, who.tenant_id, key_id)
    if record is None:
        raise NotFound(f"no key {key_id} in tenant {who.tenant_id}")
    await audit.record(conn, who, action="apikey.revoke", entity_kind="api_key", entity_ids=[str(record.id)])
    return record
