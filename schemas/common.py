"""Shared response shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec

# Reasons and motivations: the only text that may hold tabs and line breaks (other control characters
# are refused in every string: service/domain/validation.py).
FreeText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=4000,
        description="free text: tab and line breaks allowed, no other control characters",
        extra={"free_text": True},
    ),
]

Role = Literal["provider", "registry", "invoice_admin", "reader", "auditor"]

T = TypeVar("T", bound=type)


def published_as(name: str) -> Callable[[T], T]:
    """Keep the name the API document gives a Struct whose name in the code says more (its OpenAPI
    component and title are taken from the class's name)."""

    def rename(cls: T) -> T:
        cls.__name__ = cls.__qualname__ = name
        return cls

    return rename


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok"]


class Ready(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ready"]
    migrations: int


class Me(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    role: Role
    provider: str | None
    key_name: str


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    at: datetime
    actor: str
    actor_key: UUID | None
    role: str
    provider_id: str | None
    request_id: str | None
    action: str
    entity_kind: str
    entity_ids: list[str]
    payload_sha256: str | None
    reason: str | None
    before: Any
    after: Any
    hash: str


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEntry]
    # Pass as `after` to get the next page; null when this page is the last.
    next_after: int | None


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int
    first_broken: int | None
    problem: str | None
