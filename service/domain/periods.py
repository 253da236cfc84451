"""Periods and days: a period is one calendar month; day sets are half-open date ranges."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

# Periods lie in 2000..2099 (domain.md 6; the API's pattern in schemas/reconcile.py says the same).
_PERIOD = re.compile(r"(?P<year>20[0-9]{2})-(?P<month>0[1-9]|1[0-2])")

DayRange = tuple[date, date]  # [first, end): the end is the day after the last


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text)
        if match is None:
            raise ValueError(f"period {text!r} is not a calendar month of 2000..2099 written YYYY-MM")
        return cls(int(match["year"]), int(match["month"]))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        return date(self.year + 1, 1, 1) if self.month == 12 else date(self.year, self.month + 1, 1)

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.first).days

    @property
    def year_start(self) -> date:
        return date(self.year, 1, 1)


def merge(ranges: Iterable[DayRange]) -> list[DayRange]:
    """Sorted, with overlapping and adjacent ranges joined."""
    out: list[DayRange] = []
    for first, end in sorted(ranges):
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((first, end))
    return out


def count_days(ranges: Iterable[DayRange]) -> int:
    return sum((end - first).days for first, end in merge(ranges))


def show_ranges(ranges: Iterable[DayRange]) -> list[str]:
    """Inclusive text form: ["2024-03-01..2024-03-09", "2024-03-15..2024-03-31"]."""
    return [f"{first.isoformat()}..{(end - timedelta(days=1)).isoformat()}" for first, end in merge(ranges)]
