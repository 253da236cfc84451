"""Invoice lines (domain.md 4, 5 and 7): one typed line from pricing to settlement, its quantity and
amount, and the totals made of lines.

Quantities stay exact fractions (minutes, hours, shares of a month); a line's amount is its exact
quantity times its unit price, rounded once, half up, to öre. Quantities are shown with four
decimals, half up, but never priced from the shown value. Totals are sums of rounded lines.

An `InvoiceLine` is what the engine prices, what a run stores, what an adjustment corrects and what
a settlement freezes (Kill Bill's invoice item): a kind, an amount, the trail of its sources, and for
an adjustment the lines it corrects (`Adjustment`, stored in columns with foreign keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, Protocol
from uuid import UUID

import msgspec

from service.domain.money import round_half_up, round_ore
from service.domain.tariff import Component

MINUTES_PER_HOUR = 60
SHOWN_DECIMALS = 4
ZERO = Decimal("0.00")

# line: paid; held: kept out of payment by an undecided blocking discrepancy (`held_by`);
# reduction: a cap's correction of a component's total; adjustment: a correction of a settled period.
LineKind = Literal["line", "held", "reduction", "adjustment"]
PAID_KINDS = ("line", "reduction", "adjustment")
# The kinds of source record a line's trail names, in the order they are shown.
TRAIL_KINDS = ("decisions", "decision_lines", "delegations", "enrolments", "visits", "claims", "approvals")


class Adjustment(msgspec.Struct, frozen=True, kw_only=True):
    """What an adjustment line corrects (domain.md 7): one group of lines of a settled period, paid
    `paid_amount` so far (its settled lines plus settled adjustments), `recomputed_amount` now."""

    original_period: str
    adjusts: Literal["line", "reduction"]
    settled_run: UUID
    recompute_run: UUID
    paid_amount: Decimal
    recomputed_amount: Decimal
    original_lines: list[UUID]
    earlier_adjustments: list[UUID]
    recomputed_lines: list[UUID]


class InvoiceLine(msgspec.Struct, kw_only=True):
    """One invoice line, held line, reduction or adjustment. `id`, `run_id` and `ord` are known once
    it is stored (the engine sets `id` itself on the lines something links to); `account` once it
    is settled."""

    kind: str  # LineKind
    provider_id: str
    component: str
    area: str
    basis: str
    tariff_id: str
    rule: str  # the basis, or "cap" / "amount_cap" for a reduction
    pnr: str | None
    zone: str | None
    unit: str | None
    quantity: Fraction | None
    unit_price: Decimal | None
    amount: Decimal  # for a held line: the amount if approved
    trail: dict[str, list[str]]
    detail: dict[str, Any]  # how the quantity came about: minutes, days, a cap's figures
    held_by: str | None = None  # the key of the discrepancy holding it
    discrepancy: str | None = None  # a reduction's or adjustment's info discrepancy
    adjustment: Adjustment | None = None
    id: UUID | None = None
    run_id: UUID | None = None
    ord: int | None = None
    account: str | None = None

    @property
    def sources(self) -> list[str]:
        return sorted({s for ids in self.trail.values() for s in ids})

    @property
    def minutes(self) -> Fraction | None:
        value = self.detail.get("minutes")
        return Fraction(value) if value is not None else None

    @property
    def original_period(self) -> str | None:
        return self.adjustment.original_period if self.adjustment is not None else None


def sorted_trail(ids: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """A trail as stored: each kind of source record in TRAIL_KINDS order, its ids sorted."""
    return {k: sorted(ids[k]) for k in TRAIL_KINDS if ids.get(k)}


def merged_trail(trails: Iterable[Mapping[str, Iterable[str]]]) -> dict[str, list[str]]:
    """The trail of a line made of others (a reduction, an adjustment): every source once."""
    merged: dict[str, set[str]] = {}
    for trail in trails:
        for kind, ids in trail.items():
            merged.setdefault(kind, set()).update(ids)
    return sorted_trail(merged)


def hours(minutes: Fraction) -> Fraction:
    return minutes / MINUTES_PER_HOUR


def month_share(days: int, days_in_month: int) -> Fraction:
    """The listing fee's proration: enrolled days over the days of the month."""
    return Fraction(days, days_in_month)


def amount(quantity: Fraction, unit_price: Decimal) -> Decimal:
    return round_ore(quantity * Fraction(unit_price))


def show(value: Fraction) -> str:
    """Four decimals, half up: "5.3333", "90.0000"."""
    return str(round_half_up(value, SHOWN_DECIMALS))


def show_quantity(quantity: Fraction, unit: str) -> str:
    """Visits and occasions are whole counts ("4"); hours and months have four decimals."""
    if unit in ("visit", "occasion") and quantity.denominator == 1:
        return str(quantity.numerator)
    return show(quantity)


def exact_text(value: Fraction) -> str:
    """The stored exact form: "39/14", or "13" for a whole number."""
    return str(value)


def parse_exact(text: str) -> Fraction:
    return Fraction(text)


def component_order(components: list[Component]) -> list[Component]:
    """Components once each by id, in tariff and file order."""
    return list({c.id: c for c in reversed(components)}.values())[::-1]


class Amounted(Protocol):
    """A line, or lines of one kind, component and area summed (what the totals read)."""

    @property
    def kind(self) -> str: ...
    @property
    def component(self) -> str: ...
    @property
    def area(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...


def totals(lines: Iterable[Amounted], components: list[Component]) -> dict[str, Decimal]:
    """Per component of the tariffs: its paid lines plus its reductions and adjustments."""
    out = {c.id: ZERO for c in component_order(components)}
    for line in lines:
        if line.kind != "held":
            out[line.component] = out.get(line.component, ZERO) + line.amount
    return out


def totals_by_area(lines: Iterable[Amounted]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines:
        if line.kind != "held":
            out[line.area] = out.get(line.area, ZERO) + line.amount
    return dict(sorted(out.items()))
