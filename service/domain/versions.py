"""Tariff versions (domain.md 5 and 7): chosen by the date of service, never overlapping.

A new version may (a) replace one with exactly the same validity (a corrected version under a new
id), or (b) start after the start of the open-ended version, which then ends the day before it; any
other overlap is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from service.domain.tariff import Tariff


@dataclass(frozen=True)
class Version:
    id: str
    valid_from: date
    valid_to: date | None  # inclusive; None is open-ended

    def overlaps(self, other: Version) -> bool:
        return (self.valid_to is None or other.valid_from <= self.valid_to) and (
            other.valid_to is None or self.valid_from <= other.valid_to
        )


@dataclass(frozen=True)
class Placement:
    supersedes: str | None = None  # the version replaced (same validity)
    ends: tuple[str, date] | None = None  # the open-ended version ended, and its new last day


class Overlap(ValueError):
    pass


def place(new: Version, existing: list[Version]) -> Placement:
    """Where `new` goes among the versions in force; raises Overlap when it cannot go there."""
    supersedes: str | None = None
    ends: tuple[str, date] | None = None
    for old in existing:
        if old.id == new.id or not old.overlaps(new):
            continue
        if (old.valid_from, old.valid_to) == (new.valid_from, new.valid_to):
            supersedes = old.id
        elif old.valid_to is None and old.valid_from < new.valid_from:
            ends = (old.id, new.valid_from - timedelta(days=1))
        else:
            until = old.valid_to.isoformat() if old.valid_to else "open-ended"
            raise Overlap(
                f"{new.id} ({new.valid_from.isoformat()} to {new.valid_to or 'open-ended'}) overlaps "
                f"{old.id} ({old.valid_from.isoformat()} to {until}); a version may only replace one "
                "with the same validity or start after the start of the open-ended one"
            )
    return Placement(supersedes=supersedes, ends=ends)


@dataclass(frozen=True)
class TariffSpan:
    """A tariff version and the days it prices in a run (inclusive; None = open)."""

    tariff: Tariff
    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)
