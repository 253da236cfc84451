"""Reports (followup.md 2 and 3): follow-up figures over a range of months, period over period, and
one period priced under several tariffs side by side.

Figures are shown as in a result document's `followup` (schemas/reconcile.py FollowupFigures):
minutes and shares as strings with four decimals (shares as fractions, 0.0870), amounts with two,
counts as integers. A change is in percent, half up to one decimal, null where the first value is 0;
for a share it is in percentage points.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from schemas.reconcile import FollowupFigures, Money, Period, ProviderId, TariffId

MonthStatus = Literal["settled", "prepared", "reconciled", "open"]
Change = Annotated[
    Decimal | None,
    msgspec.Meta(
        description="(b - a) / |a| x 100 half up to one decimal; null when a is 0", examples=["18.0"]
    ),
]


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class Range(_Out):
    from_: Period = msgspec.field(name="from")
    to: Period
    months: int


# Over months -----------------------------------------------------------------------------------


class ProviderMonth(_Out):
    period: str
    status: Annotated[
        MonthStatus,
        msgspec.Meta(
            description="settled (attested), prepared (waiting for attestation), reconciled (a real run), "
            "open (no run yet)"
        ),
    ]
    stale: Annotated[
        bool,
        msgspec.Meta(
            description="inputs or rulings changed since the month's current run (a prepared or reconciled "
            "month; a settled month's later changes become adjustments in a later month)"
        ),
    ]
    source: Annotated[
        Literal["settlement", "run"] | None,
        msgspec.Meta(description="settlement: figures frozen when it was attested; run: the current run's"),
    ]
    run: UUID | None
    settlement: UUID | None
    figures: FollowupFigures | None  # null for an open month


class ProviderMonths(_Out):
    provider: str
    name: str
    months: list[ProviderMonth]
    total: Annotated[
        FollowupFigures, msgspec.Meta(description="the range's sums; customers counted once over the range")
    ]


class StateCounts(_Out):
    """How many providers' months are in each state (stale ones also in their state)."""

    settled: int
    prepared: int
    reconciled: int
    open: int
    stale: int


class TenantMonth(_Out):
    period: str
    providers: StateCounts
    figures: FollowupFigures


class TenantMonths(_Out):
    months: list[TenantMonth]
    total: FollowupFigures
    providers: StateCounts  # over every provider-month of the range


class FollowupReport(_Out):
    tenant: str
    range: Range
    target_share: str
    providers: list[ProviderMonths]
    tenant_figures: Annotated[
        TenantMonths | None, msgspec.Meta(description="the tenant's months; null for a provider key")
    ]


# Period over period ----------------------------------------------------------------------------


class FigureChange(_Out):
    """One figure in both ranges: a is the range compared with, b the range reported."""

    figure: Annotated[str, msgspec.Meta(examples=["payout_by_area.hemsjukvard"])]
    a: str | int | None
    b: str | int | None
    difference: str | int | None
    change: Change
    unit: Literal["percent", "points"]


class PeriodBlock(_Out):
    a: FollowupFigures
    b: FollowupFigures
    a_months: StateCounts
    b_months: StateCounts
    changes: list[FigureChange]


class ProviderPeriods(PeriodBlock, kw_only=True):
    provider: str
    name: str


class PeriodOverPeriod(_Out):
    tenant: str
    a: Annotated[Range, msgspec.Meta(description="the range compared with (seed 002: Feb-Jul 2023)")]
    b: Annotated[Range, msgspec.Meta(description="the range reported (seed 002: Feb-Jul 2024)")]
    providers: list[ProviderPeriods]
    tenant_figures: Annotated[PeriodBlock | None, msgspec.Meta(description="null for a provider key")]


# Tariff comparison -----------------------------------------------------------------------------


class ComparisonIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    period: Period
    tariffs: Annotated[
        list[TariffId],
        msgspec.Meta(
            min_length=2, max_length=8, description="the first is the baseline the others are compared with"
        ),
    ]
    provider: Annotated[
        ProviderId | None, msgspec.Meta(description="one provider; absent: every provider")
    ] = None


class ComparedRun(_Out):
    tariff: str
    run: UUID
    stale: Annotated[bool, msgspec.Meta(description="inputs or rulings changed since this what-if run")]


class Cell(_Out):
    tariff: str
    amount: Money
    absent: Annotated[bool, msgspec.Meta(description="the tariff has no such component (amount 0.00)")]
    difference: Annotated[Money, msgspec.Meta(description="amount minus the baseline's")]
    change: Change


class ComparedRow(_Out):
    key: Annotated[str, msgspec.Meta(description="an area, a component id, or `total`")]
    area: str | None  # a component's area
    cells: list[Cell]


class ComparedBlock(_Out):
    areas: list[ComparedRow]
    components: list[ComparedRow]
    total: ComparedRow


class ComparedProvider(ComparedBlock, kw_only=True):
    provider: str
    name: str


class Comparison(_Out):
    tenant: str
    period: str
    baseline: str
    runs: list[ComparedRun]
    providers: list[ComparedProvider]
    tenant_figures: Annotated[ComparedBlock | None, msgspec.Meta(description="null for a provider key")]
