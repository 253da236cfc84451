"""What one pricing builds up: draft lines being summed, the run's findings, and the tallies the
month-level checks and caps read. The bases (service/reconcile/bases/) write to it; the
orchestrator (pricing.py) turns it into an outcome.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from service.domain import discrepancies as d
from service.domain.discrepancies import Finding, Ruling
from service.domain.granted import daily_minutes
from service.domain.periods import DayRange, count_days
from service.domain.tariff import Component, Tariff
from service.reconcile.inputs import Inputs

SECONDS_PER_MINUTE = 60


@dataclass
class Draft:
    """A line being summed: exact quantities and the records behind them."""

    provider: str
    tariff: Tariff
    component: Component
    pnr: str | None
    zone: str | None
    hold: str | None  # the key of the discrepancy that would hold the whole line
    minutes: Fraction = Fraction(0)
    count: int = 0
    enrolled_days: int = 0
    days: list[DayRange] = field(default_factory=list)
    trail: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    approved_amounts: list[Decimal] = field(default_factory=list)


class Record(Protocol):
    """An input row of one provider record (a visit, a claim, an enrolment)."""

    @property
    def provider(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def pnr(self) -> str | None: ...
    @property
    def day(self) -> date: ...
    @property
    def version(self) -> str: ...


def on_record(
    code: str, row: Record, part: d.Part, provider_part: d.Part | None = None, kind: d.Severity | None = None
) -> Finding:
    """A discrepancy on a provider record, keyed and versioned by it."""
    return d.on_record(
        code,
        row.provider,
        row.id,
        pnr=row.pnr,
        day=row.day.isoformat(),
        version=row.version,
        part=part,
        provider_part=provider_part,
        kind=kind,
    )


def digest(*parts: object) -> str:
    """A finding's version made of the evidence behind it (a decision binds to it)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def ids(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def instant(at: datetime) -> str:
    """A moment as a finding's parameter: ISO 8601 in UTC (shown in Swedish time)."""
    return at.astimezone(UTC).isoformat()


class Sheet:
    def __init__(self, inputs: Inputs, rulings: dict[str, Ruling]) -> None:
        self.inputs = inputs
        self.period = inputs.period
        self.month = str(inputs.period)
        self.rulings = rulings
        self.tariffs = {span.tariff.id: span.tariff for span in inputs.spans}
        self.drafts: dict[tuple[object, ...], Draft] = {}
        self.findings: dict[str, Finding] = {}
        self.warnings: list[str] = []
        # Blocked records' lines as if they were paid, with the discrepancies whose approval would
        # pay them: priced on their own for the amount at stake.
        self.blocked: list[tuple[list[str], list[Draft]]] = []
        # Granted minutes on billable days whether a component pays them or not: per
        # provider-customer (LOW_PERFORMED_SHARE, minimum_share, the follow-up figures) and per
        # provider-customer-tariff-category (cap_to_granted).
        self.granted_all: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
        self.granted_by_category: defaultdict[tuple[str, str, str, str], Fraction] = defaultdict(Fraction)
        # Granted minutes billed per provider-customer, and the decision lines behind them.
        self.granted_total: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
        self.granted_lines: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        # Payable performed seconds and visits: per provider-customer-report type, and per
        # provider-tariff-report type (a share cap's basis is the days its tariff version prices).
        self.by_customer: defaultdict[tuple[str, str, str], list[Fraction]] = defaultdict(
            lambda: [Fraction(0), Fraction(0)]
        )
        self.by_tariff: defaultdict[tuple[str, str | None, str], Fraction] = defaultdict(Fraction)
        self.cap_metrics: dict[str, dict[str, str]] = defaultdict(dict)
        # Performed visits by licensed staff with no hard discrepancy, per provider and category.
        self.licensed: defaultdict[tuple[str, str], int] = defaultdict(int)
        # Asked once per input row (100 000s at a city's scale): worked out once each.
        self._components: dict[tuple[str, str], list[Component]] = {}
        self._daily: dict[tuple[Decimal, Decimal, str], Fraction] = {}

    def in_scope(self, provider: str) -> bool:
        return self.inputs.provider is None or provider == self.inputs.provider

    def tariff_on(self, day: date) -> Tariff | None:
        return next((s.tariff for s in self.inputs.spans if s.covers(day)), None)

    def ruled(self, finding: Finding) -> Finding:
        return finding.apply(self.rulings.get(finding.key))

    def keep(self, finding: Finding) -> Finding:
        """Record a finding of this run; the same key found twice is one discrepancy."""
        known = self.findings.get(finding.key)
        if known is not None:
            known.parts += finding.parts
            known.provider_parts += finding.provider_parts
            return known
        self.findings[finding.key] = self.ruled(finding)
        return finding

    def block(self, found: list[Finding], alone: list[Draft]) -> None:
        """A blocked record's lines on their own, as if it were paid: the amount at stake of each of
        its open blocking discrepancies (none if a hard one keeps the record from ever being paid)."""
        keys = [f.key for f in found if f.kind == "blocking" and f.status == "open"]
        if keys and alone and not any(f.kind == "hard" for f in found):
            self.blocked.append((keys, alone))

    def draft(
        self,
        provider: str,
        tariff: Tariff,
        component: Component,
        pnr: str | None,
        zone: str | None,
        hold: str | None = None,
    ) -> Draft:
        key = (provider, tariff.id, component.id, pnr, zone, hold)
        found = self.drafts.get(key)
        if found is None:
            found = self.drafts[key] = Draft(provider, tariff, component, pnr, zone, hold)
        return found

    def components(self, tariff: Tariff, basis: str) -> list[Component]:
        found = self._components.get((tariff.id, basis))
        if found is None:
            found = self._components[(tariff.id, basis)] = [c for c in tariff.components if c.basis == basis]
        return found

    def granted_minutes(
        self, minutes: Decimal, occasions: Decimal, per: str, days: Iterable[DayRange]
    ) -> Fraction:
        """A decision line's minutes over its days (service/domain/granted.py)."""
        key = (minutes, occasions, per)
        daily = self._daily.get(key)
        if daily is None:
            daily = self._daily[key] = daily_minutes(minutes, occasions, per)
        return daily * count_days(days)

    def count_performed(
        self, provider: str, pnr: str, tariff_id: str | None, report_type: str, seconds: Fraction, visits: int
    ) -> None:
        """Payable performed visits: the bases of the share cap and the customer-month checks."""
        totals = self.by_customer[(provider, pnr, report_type)]
        totals[0] += seconds
        totals[1] += visits
        self.by_tariff[(provider, tariff_id, report_type)] += seconds
