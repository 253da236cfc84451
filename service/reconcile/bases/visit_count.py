"""visit_count (domain.md 5; kson-2021's nurse and rehab visits): the number of performed visits a
component pays whose checks all pass or were approved. The visits are read and checked once for both
visit bases (visits.py)."""

from __future__ import annotations

from fractions import Fraction

from service.reconcile.sheet import Draft


def add(line: Draft, seconds: Fraction, visits: int) -> None:
    line.count += visits
