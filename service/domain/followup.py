"""The follow-up figures of a provider-month, and how they add up (followup.md 1 and 2).

A month's figures keep what adding needs: minutes exact, customers as sets (a tenant or a range of
months counts each customer once), amounts in öre. Shares are computed from the sums, never averaged,
and rounded only when shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

import msgspec

from service.domain.lines import InvoiceLine, show
from service.domain.money import round_half_up

AREAS = ("hemtjanst", "hemsjukvard", "hemrehab", "ovrigt")
LICENSED_CATEGORIES = ("sjukskoterska", "distriktsskoterska", "fysioterapeut", "arbetsterapeut")
SHARE_DECIMALS = 4
CHANGE_DECIMALS = 1
ZERO = Decimal("0.00")


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """One provider-month's figures, or a sum of them (a tenant, a range of months)."""

    granted_minutes: Fraction = Fraction(0)
    performed_minutes: Fraction = Fraction(0)
    customers_below_target: int = 0  # provider-customer-months with LOW_PERFORMED_SHARE
    licensed_visits: Mapping[str, int] = msgspec.field(default_factory=dict)
    declined_visits: int = 0
    declined_customers: frozenset[str] = frozenset()
    customers_by_area: Mapping[str, frozenset[str]] = msgspec.field(default_factory=dict)
    payout_by_area: Mapping[str, Decimal] = msgspec.field(default_factory=dict)

    @property
    def performed_share(self) -> Decimal | None:
        return share(self.performed_minutes, self.granted_minutes)


def share(performed: Fraction, granted: Fraction) -> Decimal | None:
    """performed / granted, half up to four decimals; None when nothing was granted."""
    return round_half_up(performed / granted, SHARE_DECIMALS) if granted else None


def with_lines(counted: Figures, lines: Iterable[InvoiceLine]) -> Figures:
    """A provider-month's figures: what the run counted (minutes, visits, customers below target)
    with the customers and payout per area read off its lines. Every paid line counts its customer
    (even when a reduction takes the total to 0); lines, reductions and adjustments add to the
    payout of their component's area, held lines to nothing."""
    customers: dict[str, set[str]] = {area: set() for area in AREAS}
    payout = dict.fromkeys(AREAS, ZERO)
    for line in lines:
        if line.kind == "held":
            continue
        payout[line.area] += line.amount
        if line.kind == "line" and line.pnr is not None:
            customers[line.area].add(line.pnr)
    return msgspec.structs.replace(
        counted,
        customers_by_area={area: frozenset(who) for area, who in customers.items()},
        payout_by_area=payout,
    )


def combine(parts: Iterable[Figures]) -> Figures:
    """The exact sum: minutes, visits, counts and amounts added, customers counted once."""
    parts = list(parts)
    licensed = dict.fromkeys(LICENSED_CATEGORIES, 0)
    payout = dict.fromkeys(AREAS, ZERO)
    for part in parts:
        for category, n in part.licensed_visits.items():
            licensed[category] += n
        for area, amount in part.payout_by_area.items():
            payout[area] += amount
    # One union per set (a range of a tenant's months joins hundreds of them).
    return Figures(
        granted_minutes=sum((p.granted_minutes for p in parts), Fraction(0)),
        performed_minutes=sum((p.performed_minutes for p in parts), Fraction(0)),
        customers_below_target=sum(p.customers_below_target for p in parts),
        licensed_visits=licensed,
        declined_visits=sum(p.declined_visits for p in parts),
        declined_customers=frozenset().union(*(p.declined_customers for p in parts)),
        customers_by_area={
            area: frozenset().union(*(p.customers_by_area.get(area, ()) for p in parts)) for area in AREAS
        },
        payout_by_area=payout,
    )


def document(figures: Figures) -> dict[str, object]:
    """The `followup` entry of a result document: minutes and shares as strings with four decimals,
    amounts with two, counts as integers, every area and licensed category present."""
    shown_share = figures.performed_share
    return {
        "granted_minutes": show(figures.granted_minutes),
        "performed_minutes": show(figures.performed_minutes),
        "performed_share": None if shown_share is None else str(shown_share),
        "customers_below_target": figures.customers_below_target,
        "licensed_visits": dict.fromkeys(LICENSED_CATEGORIES, 0) | dict(figures.licensed_visits),
        "declined_visits": figures.declined_visits,
        "declined_customers": len(figures.declined_customers),
        "customers_by_area": {area: len(figures.customers_by_area.get(area, ())) for area in AREAS},
        "payout_by_area": {area: str(figures.payout_by_area.get(area, ZERO)) for area in AREAS},
    }


def change_percent(a: Fraction | Decimal | int, b: Fraction | Decimal | int) -> Decimal | None:
    """Period over period: (b - a) / |a| x 100, half up (away from zero) to one decimal; None when
    a is 0 (seed 002: hemsjukvård +18 %, hemrehab -22 %)."""
    a, b = Fraction(a), Fraction(b)
    return round_half_up((b - a) / abs(a) * 100, CHANGE_DECIMALS) if a else None


def change_points(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """The change of a share in percentage points, from the shares as shown (fractions)."""
    if a is None or b is None:
        return None
    return round_half_up((Fraction(b) - Fraction(a)) * 100, CHANGE_DECIMALS)


def swedish_percent(fraction: Decimal | None) -> str:
    """A share as pages and CSV show it: 0.0870 -> "8,7 %"; "–" when there is none."""
    if fraction is None:
        return "–"
    return f"{round_half_up(Fraction(fraction) * 100, CHANGE_DECIMALS)} %".replace(".", ",")


class Delta(msgspec.Struct, frozen=True, kw_only=True):
    """One figure of two ranges, a (compared with) and b (reported): what period over period shows."""

    figure: str  # "payout_by_area.hemsjukvard"
    kind: str  # minutes | share | count | amount
    a: Fraction | Decimal | int | None
    b: Fraction | Decimal | int | None

    @property
    def difference(self) -> Fraction | Decimal | int | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a  # type: ignore[operator]

    @property
    def change(self) -> Decimal | None:
        """Percent; for a share, percentage points."""
        if self.kind == "share":
            return change_points(self.a, self.b)  # type: ignore[arg-type]
        return change_percent(self.a, self.b)  # type: ignore[arg-type]


def deltas(a: Figures, b: Figures) -> list[Delta]:
    """Every figure of two sums side by side (followup.md 2): minutes, visits and amounts summed,
    customers counted once over each range (`customers`: with a paid line of any area), shares
    recomputed from the sums."""
    a, b = combine([a]), combine([b])  # every area and category present

    def pair(figure: str, kind: str, of: Callable[[Figures], object]) -> Delta:
        return Delta(figure=figure, kind=kind, a=of(a), b=of(b))  # type: ignore[arg-type]

    def everyone(f: Figures) -> int:
        return len(frozenset().union(*f.customers_by_area.values()))

    return [
        pair("granted_minutes", "minutes", lambda f: f.granted_minutes),
        pair("performed_minutes", "minutes", lambda f: f.performed_minutes),
        pair("performed_share", "share", lambda f: f.performed_share),
        pair("customers_below_target", "count", lambda f: f.customers_below_target),
        pair("licensed_visits", "count", lambda f: sum(f.licensed_visits.values())),
        *(
            pair(f"licensed_visits.{c}", "count", lambda f, c=c: f.licensed_visits[c])
            for c in LICENSED_CATEGORIES
        ),
        pair("declined_visits", "count", lambda f: f.declined_visits),
        pair("declined_customers", "count", lambda f: len(f.declined_customers)),
        pair("customers", "count", everyone),
        *(
            pair(f"customers_by_area.{area}", "count", lambda f, area=area: len(f.customers_by_area[area]))
            for area in AREAS
        ),
        pair("payout", "amount", lambda f: sum(f.payout_by_area.values(), ZERO)),
        *(
            pair(f"payout_by_area.{area}", "amount", lambda f, area=area: f.payout_by_area[area])
            for area in AREAS
        ),
    ]
