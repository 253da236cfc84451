"""What a run reads: the SQL of sql/reconcile/ run in the run's snapshot, returned as plain rows.

Everything here is set-based: the per-day work (billable days, zones, tariff versions, the visit
checks) happens in PostgreSQL; unflagged visits arrive already summed per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec

from service.domain.discrepancies import LONG_VISIT_SECONDS
from service.domain.followup import LICENSED_CATEGORIES
from service.domain.periods import DayRange, Period
from service.domain.versions import TariffSpan
from service.store import changes

SQL_DIR = Path(__file__).resolve().parent.parent.parent / "sql" / "reconcile"
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.M)


@cache
def queries() -> dict[str, str]:
    """Every `-- name: x` block of sql/reconcile/*.sql, by name."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        parts = _NAME.split(path.read_text(encoding="utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            found[name] = body.strip().rstrip(";")
    return found


# The rows have slots: a city's month reads a few hundred thousand of them (a third less memory).
# Their fields are the columns of their query, in order (a record makes a row as it is), with the
# days, where a row has them, last.


@dataclass(frozen=True, slots=True)
class GrantedRow:
    provider: str
    pnr: str
    decision_id: str
    line_id: str
    category: str
    minutes: Decimal
    occasions: Decimal
    per: str
    zone: str
    tariff_id: str
    days: tuple[DayRange, ...]


@dataclass(frozen=True, slots=True)
class MarkupRow:
    provider: str
    pnr: str
    decision_id: str
    line_id: str
    minutes: Decimal
    occasions: Decimal
    per: str
    zone: str
    delegation_ids: Sequence[str]
    days: tuple[DayRange, ...]


@dataclass(frozen=True, slots=True)
class VisitLineRow:
    """Unflagged visits of one line, summed."""

    provider: str
    component: str
    tariff_id: str
    pnr: str
    zone: str | None
    seconds: Decimal
    visits: int
    ids: Sequence[str]


@dataclass(frozen=True, slots=True)
class PerformedRow:
    provider: str
    pnr: str
    tariff_id: str | None
    report_type: str
    seconds: Decimal
    visits: int


@dataclass(frozen=True, slots=True)
class LicensedRow:
    """Unflagged performed visits by licensed staff of one category."""

    provider: str
    staff_category: str
    visits: int


@dataclass(frozen=True, slots=True)
class FlaggedVisit:
    provider: str
    id: str
    pnr: str
    staff: str
    staff_category: str
    report_type: str
    day: date
    seconds: Decimal
    version: str
    tariff_id: str | None
    zone: str | None
    components: Sequence[str]
    unknown_customer: bool
    not_chosen: bool
    missing_enrolment: Sequence[str]
    pauses: Sequence[str]
    wrong_staff: bool
    overlaps: Sequence[str]
    duplicate_of: str | None
    manual: bool
    long_visit: bool
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class DeclinedRow:
    provider: str
    pnr: str
    ids: Sequence[str]


@dataclass(frozen=True, slots=True)
class ListedRow:
    provider: str
    id: str  # the enrolment
    pnr: str
    area: str
    remiss: str | None
    day: date  # the enrolment's start: its discrepancies are dated by it
    version: str
    zone: str
    tariff_id: str
    days: tuple[DayRange, ...]


@dataclass(frozen=True, slots=True)
class UnlistedRow:
    provider: str
    id: str  # the enrolment
    pnr: str
    area: str
    day: date  # the enrolment's start
    version: str
    days: tuple[DayRange, ...]


@dataclass(frozen=True, slots=True)
class ClaimRow:
    provider: str
    id: str
    type: str
    day: date
    pnr: str | None
    requested_amount: Decimal | None
    motivation: str | None
    version: str
    known_customer: bool
    chosen: bool
    enrolled_areas: Collection[str]


@dataclass
class Inputs:
    period: Period
    provider: str | None  # the run's scope; None = every provider
    spans: list[TariffSpan]
    granted: list[GrantedRow]
    markup: dict[tuple[str, str], list[MarkupRow]]  # (tariff id, component id) -> rows
    visit_lines: list[VisitLineRow]
    performed: list[PerformedRow]
    flagged: list[FlaggedVisit]
    declined: list[DeclinedRow]
    listed: list[ListedRow]
    unlisted: list[UnlistedRow]
    claims: list[ClaimRow]
    paused: frozenset[str]
    marks: dict[str, int]
    licensed: list[LicensedRow] = field(default_factory=list)


R = TypeVar("R")


def _rows(make: Callable[..., R], records: list[asyncpg.Record]) -> list[R]:
    return [make(*r) for r in records]


def _rows_with_days(make: Callable[..., R], records: list[asyncpg.Record]) -> list[R]:
    """Rows whose last column is a date multirange: the days as (first, end) pairs."""
    return [make(*r[:-1], tuple((d.lower, d.upper) for d in r[-1])) for r in records]


# The jsonb parameters below are passed as Python values: the connection's jsonb codec encodes them.


def _spans_json(spans: list[TariffSpan]) -> list[dict[str, Any]]:
    return [{"id": s.tariff.id, "valid_from": s.valid_from, "valid_to": s.valid_to} for s in spans]


def _paying_json(spans: list[TariffSpan]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for span in spans:
        for c in span.tariff.components:
            if c.basis in ("performed_time", "visit_count"):
                rows.append(
                    {
                        "tariff_id": span.tariff.id,
                        "component": c.id,
                        "report_type": c.report_type,
                        "exclude_codes": sorted(c.exclude_codes) if c.exclude_codes else None,
                        "requires_enrolment": c.requires_enrolment,
                        "category": c.category,
                    }
                )
    return rows


def _staff_json(spans: list[TariffSpan]) -> list[dict[str, Any]]:
    return [
        {"tariff_id": span.tariff.id, "report_type": report_type, "categories": sorted(categories)}
        for span in spans
        for report_type, categories in msgspec.structs.asdict(span.tariff.staff).items()
    ]


async def load(
    conn: asyncpg.Connection, tenant: str, period: Period, provider: str | None, spans: list[TariffSpan]
) -> Inputs:
    """Run the engine's SQL in the caller's (repeatable read) transaction."""
    q = queries()
    first, end = period.first, period.end
    window = (tenant, first, end)
    await conn.execute(q["settings"])
    await conn.execute(q["choices"], tenant, period.year_start, end)
    await conn.execute(q["zones"], *window)
    await conn.execute(q["pauses"], *window)
    await conn.execute(q["enrolments"], tenant, period.year_start, end)
    await conn.execute(q["context_indexes"])
    spans_json = _spans_json(spans)

    await conn.execute(q["granted"], *window, provider, spans_json)
    granted = _rows_with_days(GrantedRow, await conn.fetch(q["granted_rows"]))
    markup: dict[tuple[str, str], list[MarkupRow]] = {}
    for span in spans:
        for c in span.tariff.components:
            if c.basis == "granted_time_markup":
                rows = await conn.fetch(
                    q["markup"], tenant, span.tariff.id, c.category, sorted(c.delegation_codes or ())
                )
                markup[(span.tariff.id, c.id)] = _rows_with_days(MarkupRow, rows)

    await conn.execute(
        q["visits"],
        *window,
        provider,
        spans_json,
        _paying_json(spans),
        _staff_json(spans),
        LONG_VISIT_SECONDS,
    )
    await conn.execute(q["visits_statistics"])
    visit_lines = _rows(VisitLineRow, await conn.fetch(q["visit_lines"]))
    performed = _rows(PerformedRow, await conn.fetch(q["performed"]))
    licensed = _rows(LicensedRow, await conn.fetch(q["licensed"], list(LICENSED_CATEGORIES)))
    flagged = _rows(FlaggedVisit, await conn.fetch(q["flagged"]))
    declined = _rows(DeclinedRow, await conn.fetch(q["declined"], *window, provider))

    listing_areas = sorted(
        {
            c.enrolment
            for s in spans
            for c in s.tariff.components
            if c.basis == "enrolled_month" and c.enrolment
        }
    )
    await conn.execute(q["listing"], first, end, provider, listing_areas)
    listed = _rows_with_days(ListedRow, await conn.fetch(q["listed_days"], spans_json))
    unlisted = _rows_with_days(UnlistedRow, await conn.fetch(q["unlisted_days"]))
    claims = _rows(ClaimRow, await conn.fetch(q["claims"], tenant, period.year_start, end))
    paused = frozenset(r["pnr"] for r in await conn.fetch(q["paused_customers"]))
    return Inputs(
        period=period,
        provider=provider,
        spans=spans,
        granted=granted,
        markup=markup,
        visit_lines=visit_lines,
        performed=performed,
        flagged=flagged,
        declined=declined,
        listed=listed,
        unlisted=unlisted,
        claims=claims,
        paused=paused,
        marks=await changes.marks(conn, tenant),
        licensed=licensed,
    )
