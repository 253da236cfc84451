"""Money in SEK: exact values, rounded once per line, half up (away from zero), to whole öre.

Everything goes through `Fraction`, so rounding never depends on a float or on the decimal
context's precision.
"""

import re
from decimal import Decimal
from fractions import Fraction

from service.domain.bounds import MAX_AMOUNT

ORE = Decimal("0.01")

MAX_MONEY_TEXT = 32  # far above any real amount; bounds the work done on untrusted input
_MONEY_TEXT = re.compile(r"-?[0-9]+(?:\.(?P<decimals>[0-9]+))?")


class InvalidMoney(ValueError):
    """An amount that is not a plain decimal string with at most two decimals."""


def round_half_up(x: Fraction | Decimal | int, places: int) -> Decimal:
    """Round exactly to `places` decimals, halves away from zero (-0.005 -> -0.01)."""
    if isinstance(x, float):
        raise TypeError("floats are never rounded as money; pass a Decimal, Fraction or int")
    if places < 0:
        raise ValueError("places must be >= 0")
    exact = Fraction(x)  # exact for Decimal too; NaN and Infinity raise here
    scale = 10**places
    units, remainder = divmod(abs(exact.numerator) * scale, exact.denominator)
    if 2 * remainder >= exact.denominator:
        units += 1
    sign = "-" if exact < 0 and units else ""
    if places == 0:
        return Decimal(f"{sign}{units}")
    whole, fraction = divmod(units, scale)
    return Decimal(f"{sign}{whole}.{fraction:0{places}d}")


def round_ore(x: Fraction | Decimal | int) -> Decimal:
    """Round an exact amount to öre, half up; the result always has two decimals."""
    return round_half_up(x, 2)


def parse_money(s: str, *, allow_negative: bool = False) -> Decimal:
    """Parse an amount written as a string ("2500.00", "1000"); the result has two decimals."""
    if not isinstance(s, str):
        raise InvalidMoney(f'amount must be a string such as "2500.00", not {type(s).__name__}')
    if len(s) > MAX_MONEY_TEXT:
        raise InvalidMoney(f"amount is longer than {MAX_MONEY_TEXT} characters")
    shape = _MONEY_TEXT.fullmatch(s)
    if shape is None:
        raise InvalidMoney(f'amount {s!r} is not a plain decimal number such as "2500.00"')
    if len(shape["decimals"] or "") > 2:
        raise InvalidMoney(f"amount {s!r} has more than two decimals")
    value = Decimal(s)
    if value < 0 and not allow_negative:
        raise InvalidMoney(f"amount {s!r} must not be negative")
    if abs(value) > MAX_AMOUNT:
        raise InvalidMoney(f"amount {s!r} is more than {MAX_AMOUNT} kr")
    return round_ore(value)


def format_money(d: Decimal) -> str:
    """Two decimals, no grouping; refuses a value that is not yet rounded to öre."""
    rounded = round_ore(d)
    if rounded != d:
        raise InvalidMoney(f"{d} has more than two decimals; round it to öre first")
    return str(rounded)
