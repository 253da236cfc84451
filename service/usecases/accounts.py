"""Personal accounts (workplace.md): users made and changed at the command line (audited), and the
workplace's sessions: log in (Argon2id, limited, audited), resume on each request (idle logout), log
out (audited).

A user is a person. A session acts as its user (`principal`): the user's tenant and role, and the
username as the name that four eyes compares, so that one person cannot both prepare and attest a
settlement, whatever mix of session and key (made for the user, named after them) they use.
"""

from __future__ import annotations

import asyncio
import re
from typing import Literal

import asyncpg
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from service.domain.errors import Conflict, Invalid, NotFound, TooManyRequests
from service.domain.principal import Principal, Role
from service.settings import Settings
from service.store import accounts, audit, tenants
from service.store.accounts import User
from service.usecases import limits

__all__ = ["Login", "Resumed", "User", "create", "disable", "list_users", "log_in", "log_out", "resume"]

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 12  # characters; long passwords over composition rules (NIST SP 800-63B)
MAX_PASSWORD = 1024  # hashing a huge input is a cheap way to make the server work

# argon2-cffi's defaults: Argon2id, RFC 9106's second recommended profile (64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified against when the user is unknown, so that an unknown name takes as long as a wrong password.
_NOBODY = _hasher.hash("no such user, never a password")


def principal(user: User) -> Principal:
    """Who a session of this user acts as."""
    return Principal(
        tenant_id=user.tenant_id, role=user.role, name=user.username, provider_id=user.provider_id
    )


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        message = f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        raise Invalid(message, [{"field": "password", "message": message}])


async def _hash(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def create(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    username: str,
    role: Role,
    name: str,
    password: str,
    provider: str | None = None,
) -> User:
    """A new user of `who`'s tenant; a provider's user names its provider, and only it does."""
    errors = []
    if not USERNAME.match(username):
        errors.append({"field": "username", "message": "2-63 of a-z 0-9 . _ -, starting with a letter"})
    if not name.strip():
        errors.append({"field": "name", "message": "the person's full name is required"})
    if (role == "provider") != (provider is not None):
        errors.append({"field": "provider", "message": "required for role provider and only for it"})
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors.append({"field": "password", "message": f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"})
    if errors:
        raise Invalid("the user cannot be created", errors)
    if not await tenants.exists(conn, who.tenant_id):
        raise NotFound(f"unknown tenant {who.tenant_id}")
    if provider is not None and not await tenants.has_provider(conn, who.tenant_id, provider):
        message = f"unknown provider {provider} in tenant {who.tenant_id}; register it first"
        raise Invalid(message, [{"field": "provider", "message": message}])
    user = await accounts.create_user(
        conn,
        username=username,
        tenant_id=who.tenant_id,
        name=name.strip(),
        role=role,
        provider_id=provider,
        password_hash=await _hash(password),
    )
    if user is None:
        raise Conflict(f"the username {username} is taken")
    await audit.record(
        conn,
        who,
        action="user.create",
        entity_kind="user",
        entity_ids=[username],
        after={"name": user.name, "role": user.role, "provider": user.provider_id},
    )
    return user


async def list_users(conn: asyncpg.Connection, who: Principal) -> list[User]:
    return await accounts.list_users(conn, who.tenant_id)


async def disable(conn: asyncpg.Connection, who: Principal, username: str) -> User:
    """Disable a user for good; their open sessions end at once."""
    user = await accounts.disable_user(conn, who.tenant_id, username)
    return await _sessions_ended(conn, who, user, username, "disabled", action="user.disable")


async def set_password(conn: asyncpg.Connection, who: Principal, username: str, password: str) -> User:
    """A new password; the user's open sessions end (whoever held the old one is logged out)."""
    _check_password(password)
    user = await accounts.set_password(conn, who.tenant_id, username, await _hash(password))
    return await _sessions_ended(conn, who, user, username, "password", action="user.password")


async def _sessions_ended(
    conn: asyncpg.Connection, who: Principal, user: User | None, username: str, why: str, *, action: str
) -> User:
    """After a change to a user's access: end their open sessions and audit the change."""
    if user is None:
        raise NotFound(f"no user {username} in tenant {who.tenant_id}")
    ended = await accounts.end_sessions_of(conn, username, why)
    await audit.record(
        conn, who, action=action, entity_kind="user", entity_ids=[username], after={"sessions_ended": ended}
    )
    return user


class Login(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a login: a session (token for the cookie, CSRF token) or why there is none."""

    outcome: Literal["ok", "refused", "limited"]
    user: User | None = None
    token: str | None = None
    csrf: str | None = None
    retry_after: int | None = None


async def _verify(user: User | None, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, user.password_hash if user else _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return False


async def log_in(
    conn: asyncpg.Connection, settings: Settings, username: str, password: str, address: str
) -> Login:
    """Check a username and password; on success start a session. `conn` is in no transaction: each
    step commits on its own, so that a refusal is counted and audited whatever follows.

    Every attempt on an account counts towards its limit before the password is checked; a failure
    counts as a failed authentication of the address too (the API's limit, shared). A refused login
    is audited under the account it named (or, for an unknown name, without it); one refused by a
    limit is logged but not audited, so that a flood cannot fill the audit log."""
    try:
        await limits.login_attempt(conn, settings, username[:64])
    except TooManyRequests as err:
        return Login(outcome="limited", retry_after=err.retry_after)
    user = await accounts.get_user(conn, username) if USERNAME.match(username) else None
    good = len(password) <= MAX_PASSWORD and await _verify(user, password)
    if user is None or not good or user.disabled_at is not None:
        why = "unknown user" if user is None else "disabled" if user.disabled_at else "wrong password"
        who = (
            principal(user)
            if user
            else Principal(tenant_id=settings.default_tenant, role="operator", name="web:unknown-user")
        )
        async with conn.transaction():
            await audit.record(
                conn,
                who,
                action="session.login_failed",
                entity_kind="user",
                entity_ids=[user.username] if user else [],
                after={"address": address, "why": why},
            )
        try:
            await limits.failed_authentication(conn, settings, address)
        except TooManyRequests as err:
            return Login(outcome="limited", retry_after=err.retry_after)
        return Login(outcome="refused")
    async with conn.transaction():
        token, csrf = await accounts.start_session(conn, user.username)
        await audit.record(
            conn,
            principal(user),
            action="session.login",
            entity_kind="user",
            entity_ids=[user.username],
            after={"address": address},
        )
    return Login(outcome="ok", user=user, token=token, csrf=csrf)


class Resumed(msgspec.Struct, frozen=True, kw_only=True):
    """A session that is still open: who it acts as, and its CSRF token; or, if it just ended by
    idling, `expired`."""

    who: Principal | None = None
    user: User | None = None
    csrf: str | None = None
    expired: bool = False


async def resume(conn: asyncpg.Connection, settings: Settings, token: str) -> Resumed:
    """The session of a request: open and not idle longer than allowed (then its clock restarts).
    One idle too long ends here, audited as a logout of its user."""
    found = await accounts.find_session(conn, token) if token else None
    if found is None:
        return Resumed()
    if found.user.disabled_at is not None:  # its sessions were ended when it was; this is a race
        await accounts.end_session(conn, token, "disabled")
        return Resumed()
    if found.idle_seconds > settings.session_idle:
        if await accounts.end_session(conn, token, "idle"):
            await audit.record(
                conn,
                principal(found.user),
                action="session.logout",
                entity_kind="user",
                entity_ids=[found.user.username],
                after={"why": "idle", "idle_seconds": int(found.idle_seconds)},
            )
        return Resumed(expired=True)
    await accounts.touch_session(conn, token)
    return Resumed(who=principal(found.user), user=found.user, csrf=found.csrf)


async def log_out(conn: asyncpg.Connection, token: str) -> bool:
    """End the session of this token (audited); False if it was not open."""
    found = await accounts.find_session(conn, token) if token else None
    if found is None or not await accounts.end_session(conn, token, "logout"):
        return False
    await audit.record(
        conn,
        principal(found.user),
        action="session.logout",
        entity_kind="user",
        entity_ids=[found.user.username],
        after={"why": "logout"},
    )
    return True
