"""performed_time (domain.md 5): performed visit minutes, of the visits a component pays (its report
type, unless all of a visit's codes are excluded: sql/reconcile/visits.sql) whose checks all pass or
were approved. The visits are read and checked once for both visit bases (visits.py); the 13 % cap
comes after (../caps.py)."""

from __future__ import annotations

from fractions import Fraction

from service.reconcile.sheet import SECONDS_PER_MINUTE, Draft


def add(line: Draft, seconds: Fraction, visits: int) -> None:
    line.minutes += seconds / SECONDS_PER_MINUTE
