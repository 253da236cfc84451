"""Granted time (domain.md section 5): the decided minutes of one day of a decision line.

A decision line grants `minutes` per occasion, `occasions` times per day, week or month. Per week is
1/7 of it a day; per month is always 12/365 a day, leap years included (domain.md 6b). The result is
exact: a line's quantity is its daily minutes times its billable days, rounded only as money.
"""

from decimal import Decimal
from fractions import Fraction
from typing import Literal

Per = Literal["day", "week", "month"]

PER_DAY: dict[str, Fraction] = {"day": Fraction(1), "week": Fraction(1, 7), "month": Fraction(12, 365)}


def daily_minutes(minutes: Decimal, occasions: Decimal, per: str) -> Fraction:
    return Fraction(minutes) * Fraction(occasions) * PER_DAY[per]


def granted_minutes(minutes: Decimal, occasions: Decimal, per: str, days: int) -> Fraction:
    return daily_minutes(minutes, occasions, per) * days
