"""Quantities and amounts of invoice lines (domain.md 4 and 6b "Exactness").

Quantities stay exact fractions (minutes, hours, shares of a month); a line's amount is its exact
quantity times its unit price, rounded once, half up, to öre. Quantities are shown with four
decimals, half up, but never priced from the shown value.
"""

from decimal import Decimal
from fractions import Fraction

from service.domain.money import round_half_up, round_ore

MINUTES_PER_HOUR = 60
SHOWN_DECIMALS = 4


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
