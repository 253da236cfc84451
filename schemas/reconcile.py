"""Reconciliation runs, their lines and discrepancies, and rulings on discrepancies.

The result document follows the result format of examples/README.md. Amounts are decimal strings
with two decimals; quantities are strings with four decimals (whole counts for visits and
occasions), shown from exact values. `customer` is a personnummer only for roles that may see it
(domain.md 2); otherwise, and for a protected identity in lists, it is the customer's reference.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from schemas.common import FreeText, published_as

# Periods lie in 2000..2099 (domain.md 6), as service/domain/periods.py reads them.
PERIOD_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Period = Annotated[str, msgspec.Meta(pattern=PERIOD_PATTERN, description="YYYY-MM", examples=["2024-03"])]
ProviderId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["exempel-omsorg"])]
TariffId = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64, examples=["kson-2021"])
]
Severity = Literal["blocking", "hard", "info"]  # a discrepancy's `kind` (docs/glossary.md)
Status = Literal["open", "approved", "rejected"]
RunKind = Literal["real", "whatif", "recompute"]
LineKind = Literal["line", "held", "reduction", "adjustment"]
Money = Annotated[Decimal, msgspec.Meta(description="SEK with two decimals", examples=["705.00"])]
Customer = Annotated[
    str | None,
    msgspec.Meta(description="personnummer where the caller may see it, else the customer's reference"),
]


# A discrepancy's explanation and the figures behind it, as every view of one shows them.
Detail = Annotated[
    str, msgspec.Meta(description="the explanation as plain sentences, in the language of `Accept-Language`")
]
Parameters = Annotated[
    list[dict[str, Any]] | None,
    msgspec.Meta(
        description="the figures behind `detail`, one object per sentence (docs/api.md); "
        "null for a discrepancy stored before they were kept"
    ),
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


# Runs ----------------------------------------------------------------------------------------


class RunIn(_In):
    period: Period
    provider: Annotated[
        ProviderId | None, msgspec.Meta(description="one provider; absent: every provider")
    ] = None
    tariff: Annotated[
        TariffId | None,
        msgspec.Meta(
            description="what-if: price every day of the period under this version; kept apart from the "
            "period's real run"
        ),
    ] = None


class RunProvider(_Out):
    provider: str
    total: Money
    held: Annotated[Money, msgspec.Meta(description="amount of the held lines, if approved")]
    open_blocking: Annotated[int, msgspec.Meta(description="blocking discrepancies without a decision")]


class Run(_Out):
    id: UUID
    period: str
    provider: str | None
    kind: RunKind
    tariff: Annotated[str | None, msgspec.Meta(description="the forced version of a what-if")]
    tariffs: list[str]
    started_by: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    input_seq: Annotated[int, msgspec.Meta(description="highest change stamp among the inputs read")]
    input_marks: dict[str, int]
    decision_seq: Annotated[int, msgspec.Meta(description="highest discrepancy decision applied")]
    grand_total: Money
    providers: list[RunProvider]
    discrepancy_counts: dict[str, int]
    warnings: list[str]


class RunPage(_Out):
    items: list[Run]
    next_after: Annotated[str | None, msgspec.Meta(description="pass as `after` for the next page")]


class RunProgress(_Out):
    """How far a run has come (docs/reconciliation.md, "Progress")."""

    id: Annotated[UUID, msgspec.Meta(description="the run's progress; the run stored has its own id, `run`")]
    period: str
    provider: str | None
    tariff: Annotated[str | None, msgspec.Meta(description="the forced version of a what-if")]
    started_by: str
    started_at: datetime
    updated_at: datetime
    phase: Annotated[
        Literal["read", "price", "recompute", "store"],
        msgspec.Meta(description="the phase under way (recompute: settled periods that changed)"),
    ]
    recomputes: Annotated[int, msgspec.Meta(description="settled periods to recompute")]
    recomputed: Annotated[int, msgspec.Meta(description="of them stored")]
    state: Annotated[
        Literal["running", "done", "failed", "interrupted"],
        msgspec.Meta(
            description="interrupted: running, but not heard from for ten minutes (its process died)"
        ),
    ]
    run: UUID | None
    error: Annotated[str | None, msgspec.Meta(description="why a failed run failed")]


class RunsUnderWay(_Out):
    items: list[RunProgress]


# The result document (examples/README.md) ------------------------------------------------------


class ResultLine(_Out, omit_defaults=True):
    id: UUID
    component: str
    basis: str
    tariff: str
    customer: Customer
    zone: str | None
    unit: str
    quantity: str
    unit_price: Money | None
    amount: Money
    sources: list[str]
    minutes: str | None = None
    days: list[str] | None = None
    enrolled_days: str | None = None
    days_in_month: str | None = None


class ResultHeld(_Out, omit_defaults=True):
    id: UUID
    component: str
    basis: str
    tariff: str
    customer: Customer
    zone: str | None
    unit: str
    quantity: str
    unit_price: Money | None
    sources: list[str]
    held_by: Annotated[str, msgspec.Meta(description="key of the blocking discrepancy holding the line")]
    amount_if_approved: Money
    minutes: str | None = None
    days: list[str] | None = None
    enrolled_days: str | None = None
    days_in_month: str | None = None


class ResultReduction(_Out, omit_defaults=True):
    id: UUID
    component: str
    tariff: str
    rule: Literal["cap", "amount_cap"]
    amount: Money
    discrepancy: str
    sources: list[str]
    total_before: Money
    total_after: Money
    basis_minutes: str | None = None
    cap_minutes: str | None = None
    actual_minutes: str | None = None


class ResultAdjustment(_Out, omit_defaults=True):
    """The difference between a settled period recomputed and what was paid for it (domain.md 7)."""

    id: UUID
    component: str
    tariff: str
    adjusts: Annotated[
        Literal["line", "reduction"], msgspec.Meta(description="what kind of line it corrects")
    ]
    rule: str
    customer: Customer
    zone: str | None
    unit: str | None
    quantity: Annotated[str | None, msgspec.Meta(description="the difference in quantity (negative: less)")]
    unit_price: Money | None
    amount: Annotated[Money, msgspec.Meta(description="recomputed minus paid (negative: a credit)")]
    original_period: str
    discrepancy: Annotated[str, msgspec.Meta(description="the LATE_DATA discrepancy naming the change")]
    paid_amount: Annotated[Money, msgspec.Meta(description="paid so far: settled lines and adjustments")]
    recomputed_amount: Money
    original_lines: Annotated[list[UUID], msgspec.Meta(description="the settled lines it corrects")]
    earlier_adjustments: Annotated[list[UUID], msgspec.Meta(description="settled adjustments of the same")]
    recomputed_lines: Annotated[list[UUID], msgspec.Meta(description="lines of the recompute run")]
    recompute_run: UUID
    sources: list[str]


class ResultProvider(_Out):
    provider: str
    name: str
    lines: list[ResultLine]
    reductions: list[ResultReduction]
    held: list[ResultHeld]
    adjustments: Annotated[
        list[ResultAdjustment], msgspec.Meta(description="corrections of settled periods booked here")
    ]
    totals: Annotated[dict[str, Money], msgspec.Meta(description="per component of the run's tariffs")]
    total: Money
    metrics: dict[str, Any]


class ResultDiscrepancy(_Out):
    id: Annotated[UUID, msgspec.Meta(description="opaque id: address the discrepancy by it")]
    key: str
    code: str
    kind: Severity
    provider: str
    record: str
    customer: Customer
    date: str
    status: Status
    detail: Detail
    parameters: Parameters


class FollowupFigures(_Out):
    """The follow-up figures of followup.md 1: minutes and shares with four decimals (the share is
    null when nothing was granted), amounts with two, counts as integers."""

    granted_minutes: str
    performed_minutes: str
    performed_share: str | None
    customers_below_target: int
    licensed_visits: dict[str, int]
    declined_visits: int
    declined_customers: int
    customers_by_area: dict[str, int]
    payout_by_area: dict[str, Money]


class FollowupProvider(FollowupFigures, kw_only=True):
    provider: str


class Followup(_Out):
    providers: list[FollowupProvider]
    tenant: FollowupFigures  # the exact sums over the providers shown; customers counted once


class ResultDocument(_Out):
    tenant: str
    period: str
    run: UUID
    kind: RunKind
    tariffs: list[str]
    providers: list[ResultProvider]
    grand_total: Money
    discrepancies: list[ResultDiscrepancy]
    discrepancy_counts: dict[str, int]
    warnings: list[str]
    followup: Followup


# Lines per provider-period, held lines, one line with its trail --------------------------------


class ProviderLines(_Out):
    period: str
    provider: str
    name: str
    run: UUID
    kind: RunKind
    tariffs: list[str]
    lines: list[ResultLine]
    reductions: list[ResultReduction]
    adjustments: list[ResultAdjustment]
    totals: Annotated[dict[str, Money], msgspec.Meta(description="per component")]
    totals_by_area: Annotated[
        dict[str, Money], msgspec.Meta(description="per area (hemtjanst, hemsjukvard...)")
    ]
    total: Money


class ProviderHeld(_Out):
    period: str
    provider: str
    run: UUID
    held: list[ResultHeld]
    total_if_approved: Money


class TrailDecisionLine(_Out):
    decision: str
    id: str
    code: str
    category: str
    minutes: Decimal
    occasions: Decimal
    per: str
    from_: date = msgspec.field(name="from")
    to: date | None


class TrailPeriodRecord(_Out):
    """A delegation or enrolment: `code` for a delegation, `area` and `remiss` for an enrolment."""

    id: str
    from_: date = msgspec.field(name="from")
    to: date | None
    code: str | None = None
    area: str | None = None
    remiss: str | None = None


class TrailVisit(_Out):
    id: str
    staff: str
    staff_category: str
    report_type: str
    start: datetime
    end: datetime
    minutes: str
    codes: list[str]
    method: str
    status: str


class TrailClaim(_Out):
    id: str
    type: str
    date: date
    role: str | None
    requested_amount: Money | None


class TrailApproval(_Out):
    key: str
    discrepancy: UUID | None
    decision: str
    reason: str
    amount: Money | None
    decided_by: str
    decided_at: datetime


class Trail(_Out):
    days: list[str]
    decision_lines: list[TrailDecisionLine]
    delegations: list[TrailPeriodRecord]
    enrolments: list[TrailPeriodRecord]
    visits: list[TrailVisit]
    claims: list[TrailClaim]
    approvals: list[TrailApproval]


class LineDetail(_Out):
    id: UUID
    run: UUID
    run_kind: RunKind
    period: str
    provider: str
    kind: LineKind
    component: str
    area: str
    basis: str
    tariff: str
    rule: str
    customer: Customer
    customer_ref: str | None
    zone: str | None
    unit: str | None
    quantity: str | None
    quantity_exact: Annotated[str | None, msgspec.Meta(description="the exact quantity as a fraction")]
    unit_price: Money | None
    amount: Annotated[Money, msgspec.Meta(description="for a held line: the amount if approved")]
    held_by: str | None
    discrepancy: str | None
    sources: list[str]
    detail: dict[str, Any]
    trail: Trail


# Discrepancies and rulings on them ------------------------------------------------------------
# The API calls a ruling a decision (paths, fields, schema names); the code keeps "decision" for a
# biståndsbeslut (docs/glossary.md).


@published_as("DecisionIn")
class RulingIn(_In):
    decision: Literal["approve", "reject"]
    reason: FreeText
    amount: Annotated[
        str | None,
        msgspec.Meta(description='EXTRAORDINARY approvals only: the amount paid, e.g. "2000.00"'),
    ] = None


@published_as("Decision")
class Ruling(_Out):
    seq: int
    decision: Literal["approve", "reject"]
    reason: str
    amount: Money | None
    version: Annotated[str, msgspec.Meta(description="the record version it was made on")]
    decided_by: str
    decided_at: datetime
    in_force: Annotated[
        bool,
        msgspec.Meta(description="false once the record has changed since: the discrepancy is open again"),
    ]


class Discrepancy(_Out):
    id: UUID
    key: str
    code: str
    kind: Severity
    provider: str
    record: str
    customer: Customer
    customer_ref: str | None
    date: str
    status: Annotated[Status, msgspec.Meta(description="as decided now (applies to lines from the next run)")]
    run_status: Annotated[Status, msgspec.Meta(description="as the run priced it")]
    detail: Detail
    parameters: Parameters
    run: UUID
    decision: Ruling | None


class DiscrepancyPage(_Out):
    items: list[Discrepancy]
    next_after: Annotated[str | None, msgspec.Meta(description="pass as `after` for the next page")]


class DiscrepancyDetail(_Out):
    discrepancy: Discrepancy
    history: list[Ruling]
