"""Settlements of provider-periods, their export and the change feed for finance systems."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from schemas.reconcile import Customer, Money, Period, ProviderId

SettlementStatus = Literal["prepared", "settled", "superseded"]
FeedKind = Literal["settlement", "adjustment"]


class SettlementIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    provider: ProviderId
    period: Period


class AuditHead(msgspec.Struct, kw_only=True, frozen=True):
    seq: int
    hash: str


class SettlementLine(msgspec.Struct, kw_only=True, frozen=True):
    kind: Literal["line", "reduction", "adjustment"]
    component: str
    account: str
    area: str
    tariff: str
    customer: Customer
    zone: str | None
    unit: str | None
    quantity: str | None
    unit_price: Money | None
    amount: Money
    original_period: Annotated[
        str | None, msgspec.Meta(description="for an adjustment: the period it corrects")
    ]


class Settlement(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    provider: str
    period: str
    status: SettlementStatus
    run: UUID
    prepared_by: str
    prepared_at: datetime
    attested_by: str | None
    attested_at: datetime | None
    tariffs: list[str]
    total: Money
    totals: dict[str, Decimal]
    totals_by_area: dict[str, Decimal]
    accounts: Annotated[dict[str, Decimal], msgspec.Meta(description="totals per booking account")]
    sha256: Annotated[
        str | None, msgspec.Meta(description="SHA-256 of the settled document's canonical JSON")
    ]
    audit_head: AuditHead | None
    lines: list[SettlementLine] | None = None


class SettlementPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[Settlement]
    next_after: str | None


class FeedEntry(msgspec.Struct, kw_only=True, frozen=True):
    position: int
    kind: FeedKind
    settlement: UUID
    provider: str
    period: str
    original_period: str | None
    amount: Money
    at: datetime


class FeedPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[FeedEntry]
    # Pass as `after` next time; equal to the request's `after` when nothing new has been settled.
    next_after: int
