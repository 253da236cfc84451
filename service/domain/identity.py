"""Swedish identity numbers: personnummer, samordningsnummer and organisationsnummer.

Error messages never repeat the number: they end up in problem details and logs.
"""

import re
from datetime import date

import msgspec

SAMORDNING_DAY_OFFSET = 60

_PNR_SHAPE = re.compile(r"(?P<head>[0-9]+)(?:(?P<sep>[-+])(?P<tail>[0-9]+))?")
_ORGNR_SHAPE = re.compile(r"(?P<head>[0-9]+)(?:-(?P<tail>[0-9]+))?")
_CANONICAL_PNR = re.compile(r"[0-9]{12}")

# Anything shaped like a personnummer or samordningsnummer: an optional century, a plausible
# YYMMDD (day 01-31 or 61-91), an optional - or + and four digits, not inside a longer digit run.
# No Luhn check: a mistyped number is as personal as a valid one.
PNR_PATTERN = re.compile(
    r"""
    (?<![0-9])
    (?:[0-9]{2})?
    [0-9]{2}
    (?:0[1-9]|1[0-2])
    (?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])
    [-+]?
    [0-9]{4}
    (?![0-9])
    """,
    re.VERBOSE,
)
REDACTED = "[pnr]"


class InvalidIdentity(ValueError):
    """A malformed, impossible or Luhn-invalid identity number."""


class Personnummer(msgspec.Struct, frozen=True):
    """A validated personnummer or samordningsnummer in canonical form (YYYYMMDDNNNC)."""

    number: str
    birth_date: date
    is_samordningsnummer: bool

    def __repr__(self) -> str:
        # Masked so that a stray repr() or f-string in a log line leaks nothing.
        return f"Personnummer({mask(self.number)!r})"


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check, doubling every second digit from the right."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def parse_personnummer(text: str, *, today: date | None = None) -> Personnummer:
    """Validate a personnummer or samordningsnummer and return it in 12-digit form.

    Accepted: "193805149493", "19380514-9493"; with a reference date `today` also the 10-digit
    forms "380514-9493" (turns at most 99 this year), "380514+9493" (turns 100 or more) and
    "3805149493"; given `today`, a birth date after it is refused.
    """
    if not text:
        raise InvalidIdentity("personnummer is empty")
    shape = _PNR_SHAPE.fullmatch(text)
    if shape is None:
        raise InvalidIdentity(
            "personnummer may contain only digits and one '-' or '+' before the last four digits"
        )
    head, sep, tail = shape["head"], shape["sep"] or "", shape["tail"] or ""
    if sep and (len(tail) != 4 or len(head) not in (6, 8)):
        raise InvalidIdentity("personnummer separator must stand between the date and the last four digits")
    if sep == "+" and len(head) == 8:
        raise InvalidIdentity("the '+' separator belongs to the 10-digit form; use '-' with 12 digits")
    digits = head + tail
    if len(digits) not in (10, 12):
        raise InvalidIdentity(f"personnummer has {len(digits)} digits; expected 12 (YYYYMMDD-NNNC)")
    if len(digits) == 10:
        if today is None:
            raise InvalidIdentity("personnummer lacks the century; write all 12 digits (YYYYMMDD-NNNC)")
        digits = _with_century(digits, over_100=sep == "+", today=today)

    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:8])
    is_samordning = day > SAMORDNING_DAY_OFFSET
    kind = "samordningsnummer" if is_samordning else "personnummer"
    try:
        birth_date = date(year, month, day - SAMORDNING_DAY_OFFSET if is_samordning else day)
    except ValueError:
        hint = " (day minus 60)" if is_samordning else ""
        raise InvalidIdentity(f"{kind} date part{hint} is not a real calendar date") from None
    if today is not None and birth_date > today:
        raise InvalidIdentity(f"{kind} date part lies after the reference date")
    if not luhn_valid(digits[2:]):
        raise InvalidIdentity(f"{kind} check digit does not match (Luhn)")
    return Personnummer(number=digits, birth_date=birth_date, is_samordningsnummer=is_samordning)


def _with_century(digits10: str, *, over_100: bool, today: date) -> str:
    """Skatteverket's rule: '-' until the year the person turns 100, '+' from that year on."""
    yy = int(digits10[:2])
    year = today.year - (today.year - yy) % 100 - (100 if over_100 else 0)
    return f"{year // 100:02d}{digits10}"


def mask(pnr12: str) -> str:
    """The masked form shown outside single-customer views: "19380514-****"."""
    if not _CANONICAL_PNR.fullmatch(pnr12):
        raise InvalidIdentity("mask expects a personnummer in canonical 12-digit form")
    return f"{pnr12[:8]}-****"


def redact(text: str) -> str:
    """Replace everything in free text that looks like a personnummer by "[pnr]"."""
    return PNR_PATTERN.sub(REDACTED, text)


def parse_organisationsnummer(text: str) -> str:
    """Validate an organisationsnummer ("5566778899" or "556677-8899"); returns 10 digits."""
    if not text:
        raise InvalidIdentity("organisationsnummer is empty")
    shape = _ORGNR_SHAPE.fullmatch(text)
    if shape is None:
        raise InvalidIdentity("organisationsnummer may contain only digits and one '-' before the last four")
    head, tail = shape["head"], shape["tail"]
    if tail is not None and (len(head), len(tail)) != (6, 4):
        raise InvalidIdentity("organisationsnummer '-' must stand between the sixth and seventh digit")
    digits = head + (tail or "")
    if len(digits) != 10:
        raise InvalidIdentity(f"organisationsnummer has {len(digits)} digits; expected 10 (NNNNNN-NNNN)")
    if not luhn_valid(digits):
        raise InvalidIdentity("organisationsnummer check digit does not match (Luhn)")
    return digits
