"""Tariff versions (role invoice_admin loads and activates; domain.md 5 and 7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

TariffStatus = Literal["pending", "active", "superseded", "simulation"]


class TariffLoad(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    source: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=1_000_000,
            description="the tariff file (TOML), as in tariffs/kson-2024.toml",
            extra={"free_text": True},
        ),
    ]


class Tariff(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    title: str
    valid_from: date
    valid_to: Annotated[
        date | None,
        msgspec.Meta(
            description="inclusive; a later version ends an open-ended one the day before it starts"
        ),
    ]
    status: Annotated[
        TariffStatus,
        msgspec.Meta(
            description="pending until a second invoice_admin activates it; only active versions price runs"
        ),
    ]
    content_hash: Annotated[str, msgspec.Meta(description="SHA-256 of the decoded file's canonical form")]
    loaded_by: str
    loaded_at: datetime
    activated_by: str | None
    activated_at: datetime | None
    superseded_by: str | None


class TariffComponent(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    title: str
    area: str
    basis: str
    unit: str
    account: str


class TariffDetail(Tariff, kw_only=True, frozen=True):
    file_valid_to: Annotated[date | None, msgspec.Meta(description="valid_to as written in the file")]
    components: list[TariffComponent]
    source: str
