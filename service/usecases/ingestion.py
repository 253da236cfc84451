"""What the ingestion use cases (registry, provider records, visits, claims) share: collecting every
bad field of a request before answering (domain.md 6: "every bad field of a row, not only the
first"), keyset pages, and the audit entry of a write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg

from service.domain.errors import Invalid, NotFound
from service.domain.identity import InvalidIdentity, parse_personnummer
from service.domain.principal import Principal
from service.store import audit
from service.store.records import Key

T = TypeVar("T")


def invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": field, "message": message}])


class Checks:
    """Collects the field problems of one request; `done()` raises them together as a 422."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def pnr(self, text: str | None, field: str = "customer") -> str:
        """The canonical 12-digit number; a malformed one is recorded (and "" returned)."""
        if text is None:
            self.add(field, "a personnummer or samordningsnummer is required")
            return ""
        try:
            return parse_personnummer(text).number
        except InvalidIdentity as err:
            self.add(field, str(err))
            return ""

    def span(self, start: date, end: date | None, field: str = "to") -> None:
        if end is not None and end < start:
            self.add(field, "must not be before `from` (both are inclusive)")

    def positive(self, value: Decimal, field: str) -> None:
        if not value.is_finite() or value <= 0:
            self.add(field, "must be a positive number")

    def own_provider(self, given: str | None, who: Principal) -> None:
        # The provider is the API key's; a body naming another one is refused, never trusted.
        if given is not None and given != who.provider_id:
            self.add("provider", "must be absent or the API key's own provider id")

    def done(self) -> None:
        if self.errors:
            raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in self.errors), errors=self.errors)


def found(row: T | None, message: str) -> T:
    """The row looked up, or a 404 saying `message`."""
    if row is None:
        raise NotFound(message)
    return row


def page(rows: Sequence[T], limit: int, cursor: Callable[[T], str]) -> tuple[list[T], str | None]:
    """Keyset paging over `limit + 1` fetched rows: the first `limit`, and the cursor of the last
    shown when there are more."""
    shown = list(rows[:limit])
    return shown, (cursor(shown[-1]) if len(rows) > limit else None)


# Provider records (executions ... visits, claims) are keyed by (tenant, provider, external id); a
# provider reaches only its own, and their lists page on by `provider:external_id`.


def own(who: Principal, external_id: str) -> Key:
    return who.tenant_id, who.provider_id, external_id


def after_record(after: str) -> tuple[str, str]:
    provider, _, external_id = after.partition(":")
    return provider, external_id


def record_page(rows: Sequence[T], limit: int) -> tuple[list[T], str | None]:
    return page(rows, limit, lambda x: f"{x.provider_id}:{x.external_id}")  # type: ignore[attr-defined]


async def audit_write(
    conn: asyncpg.Connection,
    who: Principal,
    action: str,
    ids: list[str],
    payload: bytes | None,
    *,
    before: Any = None,
    after: Any = None,
    kind: str | None = None,
    reason: str | None = None,
) -> None:
    """Audit one write of a record; its entity kind is the action's first word unless given."""
    await audit.record(
        conn,
        who,
        action=action,
        entity_kind=kind or action.split(".", 1)[0],
        entity_ids=ids,
        payload=payload,
        reason=reason,
        before=before,
        after=after,
    )
