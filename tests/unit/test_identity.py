from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.identity import (
    InvalidIdentity,
    Personnummer,
    luhn_valid,
    mask,
    parse_organisationsnummer,
    parse_personnummer,
    redact,
)

WORKED_MONTH_CUSTOMERS = ["193805149493", "194211029188", "193001239825", "194502179387"]
TODAY = date(2024, 3, 15)


def reference_check_digit(nine: str) -> str:
    """Luhn written out independently of the code under test."""
    total = 0
    for index, char in enumerate(nine):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def build(birth: date, serial: str, *, samordning: bool = False) -> str:
    day = birth.day + 60 if samordning else birth.day
    core = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial}"
    return f"{birth.year // 100:02d}{core}{reference_check_digit(core)}"


birth_dates = st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31))
serials = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    return build(draw(birth_dates), draw(serials), samordning=draw(st.booleans()))


# --- personnummer ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", WORKED_MONTH_CUSTOMERS)
def test_worked_month_customers_are_valid(number: str) -> None:
    pnr = parse_personnummer(number)
    assert pnr.number == number
    assert not pnr.is_samordningsnummer
    assert pnr.birth_date == date(int(number[:4]), int(number[4:6]), int(number[6:8]))


def test_hyphenated_twelve_digit_form_is_canonicalised() -> None:
    assert parse_personnummer("19380514-9493") == parse_personnummer("193805149493")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("380514-9493", "193805149493"),
        ("3805149493", "193805149493"),
        ("380514+9493", "183805149493"),  # same digits, the + moves it a century back
    ],
)
def test_ten_digit_forms_get_their_century_from_the_reference_date(text: str, expected: str) -> None:
    assert parse_personnummer(text, today=TODAY).number == expected


def test_ten_digit_form_born_this_year() -> None:
    number = build(date(2024, 3, 1), "539")
    assert parse_personnummer(f"{number[2:8]}-{number[8:]}", today=TODAY).number == number


def test_plus_marks_the_year_the_person_turns_100() -> None:
    number = build(date(1924, 12, 1), "123")
    ten = f"{number[2:8]}+{number[8:]}"
    assert parse_personnummer(ten, today=date(2024, 1, 2)).number == number
    # Without the + the same digits mean a child born in 2024, not yet born on 2 January.
    with pytest.raises(InvalidIdentity, match="after the reference date"):
        parse_personnummer(ten.replace("+", "-"), today=date(2024, 1, 2))


def test_ten_digit_form_without_reference_date_is_refused() -> None:
    with pytest.raises(InvalidIdentity, match="century"):
        parse_personnummer("380514-9493")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("19380514949", "11 digits"),
        ("1938051494931", "13 digits"),
        ("", "empty"),
        ("19380514 9493", "only digits"),
        ("1938O5149493", "only digits"),
        ("19380514--9493", "only digits"),
        ("１９３８０５１４９４９３", "only digits"),  # full-width digits are not ASCII digits
        ("1938051-49493", "separator"),
        ("19380514+9493", r"'\+' separator belongs to the 10-digit form"),
        ("193813149493", "not a real calendar date"),
        ("190002291234", "not a real calendar date"),
        ("193805009493", "not a real calendar date"),
        ("193805149494", "check digit"),
    ],
)
def test_invalid_personnummer_says_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentity, match=fragment) as info:
        parse_personnummer(text)
    assert isinstance(info.value, ValueError)
    if len(text) >= 10:
        assert text not in str(info.value)


def test_leap_day_is_a_real_date_in_leap_years_only() -> None:
    assert parse_personnummer(build(date(2000, 2, 29), "123")).birth_date == date(2000, 2, 29)
    assert parse_personnummer(build(date(1904, 2, 29), "123")).birth_date == date(1904, 2, 29)
    core = "000229123"  # 1900 was no leap year
    with pytest.raises(InvalidIdentity, match="real calendar date"):
        parse_personnummer("19" + core + reference_check_digit(core))


def test_samordningsnummer_has_day_plus_60() -> None:
    number = build(date(1990, 1, 31), "241", samordning=True)
    assert number[6:8] == "91"
    pnr = parse_personnummer(number)
    assert pnr.is_samordningsnummer
    assert pnr.birth_date == date(1990, 1, 31)


@pytest.mark.parametrize("day", [60, 92, 99])
def test_samordningsnummer_day_outside_61_to_91_is_refused(day: int) -> None:
    core = f"9001{day:02d}241"
    with pytest.raises(InvalidIdentity, match="real calendar date"):
        parse_personnummer("19" + core + reference_check_digit(core))


def test_repr_is_masked() -> None:
    pnr = parse_personnummer("193805149493")
    assert "9493" not in repr(pnr)
    assert "9493" not in f"{pnr}"
    assert repr(pnr) == "Personnummer('19380514-****')"


@given(valid_numbers())
def test_generated_numbers_validate(number: str) -> None:
    pnr = parse_personnummer(number)
    assert pnr.number == number
    assert pnr.is_samordningsnummer == (int(number[6:8]) > 60)
    assert parse_personnummer(f"{number[:8]}-{number[8:]}") == pnr


@given(valid_numbers(), st.integers(min_value=2, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_fails(number: str, position: int, delta: int) -> None:
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert luhn_valid(number[2:])
    assert not luhn_valid(changed[2:])
    with pytest.raises(InvalidIdentity):
        parse_personnummer(changed)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)), serials)
def test_samordningsnummer_accepted_exactly_for_real_days(birth: date, serial: str) -> None:
    assert parse_personnummer(build(birth, serial, samordning=True)).birth_date == birth
    last_day = (birth.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    for day in range(last_day.day + 1, 32):
        core = f"{birth.year % 100:02d}{birth.month:02d}{day + 60}{serial}"
        with pytest.raises(InvalidIdentity, match="real calendar date"):
            parse_personnummer(f"{birth.year // 100}{core}{reference_check_digit(core)}")


# The 10-digit form spans two centuries: up to 2089 for someone born in 1890.
@given(valid_numbers(), st.dates(min_value=date(2031, 1, 1), max_value=date(2089, 12, 31)))
def test_ten_digit_form_round_trips(number: str, today: date) -> None:
    birth = parse_personnummer(number).birth_date
    separator = "+" if today.year - birth.year >= 100 else "-"
    ten = f"{number[2:8]}{separator}{number[8:]}"
    assert parse_personnummer(ten, today=today).number == number


# --- mask -------------------------------------------------------------------------------------


def test_mask_keeps_the_date_part() -> None:
    assert mask("193805149493") == "19380514-****"
    assert mask("199001911234") == "19900191-****"


@pytest.mark.parametrize("text", ["19380514-9493", "3805149493", "19380514949X"])
def test_mask_needs_the_canonical_form(text: str) -> None:
    with pytest.raises(InvalidIdentity):
        mask(text)


# --- redact -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kund 193805149493 saknas", "kund [pnr] saknas"),
        ("19380514-9493", "[pnr]"),
        ("19380514+9493", "[pnr]"),
        ("380514-9493 och 380514+9493 och 3805149493", "[pnr] och [pnr] och [pnr]"),
        ("NOT_CHOSEN_PROVIDER:attendo:193805149493:2024-03", "NOT_CHOSEN_PROVIDER:attendo:[pnr]:2024-03"),
        ('{"customer":"194211029188"}', '{"customer":"[pnr]"}'),
        ("pnr193805149493x", "pnr[pnr]x"),  # letters around do not protect it
        ("193805149494", "[pnr]"),  # Luhn-invalid: still personal
        ("19900191-1234", "[pnr]"),  # samordningsnummer
        ("193805149493193001239825", "193805149493193001239825"),  # one 24-digit run is no number
    ],
)
def test_redact_hides_identity_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1234567890",  # month 34
        "12345678901",
        "12345678901234567890",
        "2024-03-14T08:00:00+01:00",
        "period 2024-03, amount 2500.00 kr",
        "5566778899",  # organisationsnummer: month 67
        "550e8400-e29b-41d4-a716-446655440000",
        "19381314-9493",  # month 13
        "19380532-9493",  # day 32
        "380514-949",
    ],
)
def test_redact_leaves_unrelated_digits(text: str) -> None:
    assert redact(text) == text


def separator_forms(number: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            number,
            f"{number[:8]}-{number[8:]}",
            f"{number[:8]}+{number[8:]}",
            number[2:],
            f"{number[2:8]}-{number[8:]}",
            f"{number[2:8]}+{number[8:]}",
        ]
    )


@given(
    valid_numbers().flatmap(separator_forms),
    st.text().filter(lambda s: not (s[-1:].isascii() and s[-1:].isdigit())),
    st.text().filter(lambda s: not (s[:1].isascii() and s[:1].isdigit())),
    st.booleans(),
)
def test_redact_hides_every_embedded_number(form: str, before: str, after: str, luhn_broken: bool) -> None:
    if luhn_broken:
        form = form[:-1] + str((int(form[-1]) + 1) % 10)
    redacted = redact(before + form + after)
    assert redacted == redact(before) + "[pnr]" + redact(after)


digit_runs = st.one_of(
    st.integers(min_value=1, max_value=5), st.integers(min_value=13, max_value=30)
).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))
no_ascii_digits = st.text(st.characters(exclude_characters="0123456789"))


@given(st.lists(st.tuples(no_ascii_digits, digit_runs)), no_ascii_digits)
def test_redact_leaves_text_without_numbers_unchanged(parts: list[tuple[str, str]], tail: str) -> None:
    # Digit runs of at most 5 or at least 13 digits cannot form a personnummer, whatever separates them.
    text = "".join(filler + (" " if not filler else "") + digits for filler, digits in parts) + tail
    assert redact(text) == text


# --- organisationsnummer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5566778899", "5566778899"), ("556677-8899", "5566778899"), ("5590123450", "5590123450")],
)
def test_valid_organisationsnummer(text: str, expected: str) -> None:
    assert parse_organisationsnummer(text) == expected


def test_sole_trader_personnummer_is_a_valid_organisationsnummer() -> None:
    assert parse_organisationsnummer("3805149493") == "3805149493"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("556677889", "9 digits"),
        ("55667788990", "11 digits"),
        ("5566-778899", "sixth and seventh"),
        ("556677+8899", "only digits"),
        ("556677 8899", "only digits"),
        ("5566778898", "check digit"),
    ],
)
def test_invalid_organisationsnummer_says_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentity, match=fragment):
        parse_organisationsnummer(text)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9), st.integers(1, 9))
def test_organisationsnummer_detects_any_single_digit_change(nine: str, position: int, delta: int) -> None:
    number = nine + reference_check_digit(nine)
    assert parse_organisationsnummer(number) == number
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(InvalidIdentity, match="check digit"):
        parse_organisationsnummer(changed)


def test_result_type_is_frozen() -> None:
    pnr = parse_personnummer("193805149493")
    assert isinstance(pnr, Personnummer)
    with pytest.raises(AttributeError):
        pnr.number = "194211029188"  # type: ignore[misc]
