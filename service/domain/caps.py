"""Limits and caps of section 5: the share cap, the amount cap and claim count limits.

A cap never changes a line: lines keep their own rounded amounts and one reduction line brings the
component's total (the sum of its rounded lines) down to the capped total.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from service.domain.money import round_ore


@dataclass(frozen=True)
class Reduction:
    total_before: Decimal
    total_after: Decimal

    @property
    def amount(self) -> Decimal:
        return self.total_after - self.total_before


def share_cap_minutes(basis_minutes: Fraction, share: Decimal) -> Fraction:
    """The most minutes paid: `share` of the basis (e.g. 13 % of performed bistand minutes)."""
    return basis_minutes * Fraction(share)


def share_cap(total: Decimal, paid_minutes: Fraction, cap_minutes: Fraction) -> Reduction | None:
    """Over the cap, the component's total becomes round_half_up(total × cap / paid) (domain.md 6b)."""
    if paid_minutes <= cap_minutes:
        return None
    return Reduction(total, round_ore(Fraction(total) * cap_minutes / paid_minutes))


def cap_to_granted(total: Decimal, paid_minutes: Fraction, granted_minutes: Fraction) -> Reduction | None:
    """Performed time capped at granted time (followup.md 3): a customer's lines of the component
    paying more minutes than were granted come to round_half_up(total × granted / paid); granted 0
    takes the whole total. The share cap's arithmetic with the granted minutes as the cap."""
    return share_cap(total, paid_minutes, granted_minutes)


def minimum_share(
    total: Decimal, performed_minutes: Fraction, granted_minutes: Fraction, minimum: Decimal
) -> Reduction | None:
    """Below the minimum performed share (followup.md 3), a customer's paid lines of the component
    come to round_half_up(total × performed / granted); None when granted is 0 or the share is met."""
    if granted_minutes <= 0 or performed_minutes >= Fraction(minimum) * granted_minutes:
        return None
    return Reduction(total, round_ore(Fraction(total) * performed_minutes / granted_minutes))


def amount_cap(total: Decimal, cap: Decimal) -> Reduction | None:
    if total <= cap:
        return None
    return Reduction(total, cap)


def limit_scope(per: str, *, provider: str, pnr: str | None, day: date) -> tuple[object, ...]:
    """What a claim limit counts within: customer-provider-date, customer-year or provider-month."""
    if per == "customer_provider_date":
        return (pnr, provider, day)
    if per == "customer_calendar_year":
        return (pnr, day.year)
    if per == "provider_period":
        return (provider, day.year, day.month)
    raise ValueError(f"unknown limit scope {per!r}")


@dataclass
class LimitCounter:
    """Counts the payable claims that have used up each limit; claims are offered in order."""

    used: Counter[tuple[object, ...]] = field(default_factory=Counter)
    holder: dict[tuple[object, ...], list[tuple[str, str]]] = field(default_factory=dict)

    def take(self, scope: tuple[object, ...], count: int, claim: tuple[str, str]) -> bool:
        """Use one of `count` places in `scope` for `claim` (provider, id); False when none is left."""
        if self.used[scope] >= count:
            return False
        self.used[scope] += 1
        self.holder.setdefault(scope, []).append(claim)
        return True

    def holders(self, scope: tuple[object, ...]) -> list[tuple[str, str]]:
        return self.holder.get(scope, [])
