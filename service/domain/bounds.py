"""Bounds on quantities that the schemas' types cannot state (domain.md 6): beyond them a value is
bad input, refused before it reaches a run (a decision line of 1e30 minutes once overflowed every
later run of its period). Dates, text and nesting are bounded in service/domain/validation.py."""

from datetime import timedelta
from decimal import Decimal

MINUTES_PER_OCCASION = (Decimal(1), Decimal(1440))  # inclusive
OCCASIONS = (Decimal(0), Decimal(100))  # more than the first, at most the second
MAX_AMOUNT = Decimal("10000000.00")  # SEK, of a claim or an approved amount
MAX_VISIT = timedelta(days=7)
