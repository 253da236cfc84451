import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.money import ORE, InvalidMoney, format_money, parse_money, round_half_up, round_ore


def reference_round(x: Fraction, places: int) -> Fraction:
    """Half away from zero, by floor on the magnitude."""
    scale = 10**places
    magnitude = Fraction(math.floor(abs(x) * scale + Fraction(1, 2)), scale)
    return magnitude if x >= 0 else -magnitude


fractions = st.fractions(max_denominator=10**9).filter(lambda f: abs(f) < 10**12)


def test_ore() -> None:
    assert Decimal("0.01") == ORE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1, 200), "0.01"),
        (Fraction(-1, 200), "-0.01"),
        (Fraction(1, 201), "0.00"),
        (Fraction(-1, 201), "0.00"),  # no negative zero
        (Fraction(2000 * 3253333, 3 * 100000), "21688.89"),
        (Fraction(427 * 45, 60), "320.25"),
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Decimal("2.675"), "2.68"),  # as a float this would round down
        (Decimal("-2.675"), "-2.68"),
        (Decimal("0.004999999999999999999999999999999"), "0.00"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("123456789012345678901234567890.005"), "123456789012345678901234567890.01"),
        (7, "7.00"),
        (-7, "-7.00"),
        (0, "0.00"),
    ],
)
def test_round_ore(value: Fraction | Decimal | int, expected: str) -> None:
    result = round_ore(value)
    assert str(result) == expected
    assert result.as_tuple().exponent == -2


def test_round_ore_refuses_floats_and_non_finite() -> None:
    with pytest.raises(TypeError):
        round_ore(0.1)  # type: ignore[arg-type]
    with pytest.raises((ValueError, OverflowError)):
        round_ore(Decimal("NaN"))
    with pytest.raises((ValueError, OverflowError)):
        round_ore(Decimal("Infinity"))


@given(fractions)
def test_round_ore_matches_exact_reference(value: Fraction) -> None:
    result = round_ore(value)
    assert Fraction(result) == reference_round(value, 2)
    assert result.as_tuple().exponent == -2
    assert abs(Fraction(result) - value) <= Fraction(1, 200)


@given(fractions)
def test_round_ore_is_symmetric(value: Fraction) -> None:
    assert round_ore(-value) == -round_ore(value)
    assert str(round_ore(-value)).lstrip("-") == str(round_ore(value)).lstrip("-")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9))
def test_round_ore_of_decimal_equals_round_ore_of_its_fraction(value: Decimal) -> None:
    assert round_ore(value) == round_ore(Fraction(value))


@given(fractions, st.integers(min_value=0, max_value=8))
def test_round_half_up_any_places(value: Fraction, places: int) -> None:
    result = round_half_up(value, places)
    assert Fraction(result) == reference_round(value, places)
    assert result.as_tuple().exponent == -places


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(45, 60), 4, "0.7500"),
        (Fraction(1, 7), 4, "0.1429"),
        (Fraction(-1, 20000), 4, "-0.0001"),
        (Fraction(1, 2), 0, "1"),
        (Fraction(-1, 2), 0, "-1"),
    ],
)
def test_round_half_up_examples(value: Fraction, places: int, expected: str) -> None:
    assert str(round_half_up(value, places)) == expected


def test_round_half_up_refuses_negative_places() -> None:
    with pytest.raises(ValueError, match="places"):
        round_half_up(Fraction(1, 3), -1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2500.00", "2500.00"), ("1000", "1000.00"), ("0.5", "0.50"), ("0", "0.00"), ("007.10", "7.10")],
)
def test_parse_money(text: str, expected: str) -> None:
    assert str(parse_money(text)) == expected


def test_parse_money_negative_only_when_allowed() -> None:
    with pytest.raises(InvalidMoney, match="negative"):
        parse_money("-12.50")
    assert parse_money("-12.50", allow_negative=True) == Decimal("-12.50")
    assert str(parse_money("-0.00")) == "0.00"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (2500.0, "string"),
        (2500, "string"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("1e3", "plain decimal"),
        ("1_000", "plain decimal"),
        ("+5", "plain decimal"),
        (" 5", "plain decimal"),
        ("5.", "plain decimal"),
        (".5", "plain decimal"),
        ("1,50", "plain decimal"),
        ("", "plain decimal"),
        ("٥", "plain decimal"),  # non-ASCII digit
        ("1.005", "more than two decimals"),
        ("1.000", "more than two decimals"),
        ("1" * 33, "longer than 32"),
    ],
)
def test_parse_money_refuses(value: object, fragment: str) -> None:
    with pytest.raises(InvalidMoney, match=fragment):
        parse_money(value)  # type: ignore[arg-type]


def test_invalid_money_is_a_value_error() -> None:
    assert issubclass(InvalidMoney, ValueError)


@given(st.integers(min_value=-(10**9), max_value=10**9))  # up to 10 000 000 kr (domain.md 6)
def test_parse_and_format_round_trip(ore: int) -> None:
    text = format_money(Decimal(ore).scaleb(-2))
    assert parse_money(text, allow_negative=True) == Decimal(ore).scaleb(-2)
    assert format_money(parse_money(text, allow_negative=True)) == text


@pytest.mark.parametrize("text", ["10000000.01", "-10000000.01", "99999999999999999999"])
def test_an_amount_over_ten_million_is_refused(text: str) -> None:
    with pytest.raises(InvalidMoney, match=r"more than 10000000\.00"):
        parse_money(text, allow_negative=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("5"), "5.00"),
        (Decimal("5.1"), "5.10"),
        (Decimal("-0.5"), "-0.50"),
        (Decimal("1E+2"), "100.00"),
    ],
)
def test_format_money(value: Decimal, expected: str) -> None:
    assert format_money(value) == expected


def test_format_money_refuses_unrounded_values() -> None:
    with pytest.raises(InvalidMoney, match="round it"):
        format_money(Decimal("1.005"))
