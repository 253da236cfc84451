"""Pricing: turn the aggregated rows of a run into invoice lines, held lines, reductions and
discrepancies, exactly (domain.md sections 5, 6 and 6b).

One method per basis and per month-level check; each is the one place its rule lives:

  granted_time          Pricer.granted
  granted_time_markup   Pricer.markup
  performed_time,       Pricer.visits (the visit checks are SQL predicates in sql/reconcile/visits.sql;
  visit_count             their discrepancies are made in Pricer.visit_findings)
  enrolled_month        Pricer.listing
  claim                 Pricer.claims (limits in Pricer.claim_limit)
  customer-months       Pricer.customer_months (GRANTED_WITHOUT_VISITS, LOW_PERFORMED_SHARE,
                          DECLINED_VISITS)
  holds                 Pricer.settle (held, dropped or paid by the holding discrepancy's status)
  caps                  Pricer.caps (share cap and amount cap: reduction lines)

Quantities are Fractions end to end; each line's amount is rounded once from its exact quantity.
"""

from __future__ import annotations

import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from service.domain import discrepancies as d
from service.domain.caps import (
    LimitCounter,
    Reduction,
    amount_cap,
    limit_scope,
    share_cap,
    share_cap_minutes,
)
from service.domain.discrepancies import Decision, Finding
from service.domain.granted import daily_minutes
from service.domain.lines import amount, hours, month_share, show
from service.domain.money import round_ore
from service.domain.periods import DayRange, count_days, merge, show_ranges
from service.domain.tariff import APPROVED, Component, Tariff
from service.reconcile.inputs import ClaimRow, FlaggedVisit, Inputs

SECONDS_PER_MINUTE = 60
# A claim of this type is the provider's by any enrolment on the date too, not only by choice.
OWN_BY_ENROLMENT = frozenset({"sip"})
TRAIL_KINDS = ("decisions", "decision_lines", "delegations", "enrolments", "visits", "claims", "approvals")


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


@dataclass
class PricedLine:
    kind: str  # line | held | reduction
    provider: str
    component: Component
    tariff_id: str
    rule: str  # the basis, or "cap" / "amount_cap" for a reduction
    pnr: str | None
    zone: str | None
    unit: str | None
    quantity: Fraction | None
    unit_price: Decimal | None
    amount: Decimal  # for a held line: the amount if approved
    trail: dict[str, list[str]]
    detail: dict[str, Any]
    held_by: str | None = None
    discrepancy: str | None = None

    @property
    def sources(self) -> list[str]:
        return sorted({s for ids in self.trail.values() for s in ids})

    @property
    def minutes(self) -> Fraction | None:
        value = self.detail.get("minutes")
        return Fraction(value) if value is not None else None


@dataclass
class Outcome:
    tariffs: list[str]
    lines: list[PricedLine]
    findings: list[Finding]
    metrics: dict[str, dict[str, Any]]
    warnings: list[str]


def price(inputs: Inputs, decisions: dict[str, Decision]) -> Outcome:
    with _collector_paused():
        return Pricer(inputs, decisions).price()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pricing a city's month makes hundreds of thousands of objects that live to its end, and the
    cyclic garbage collector would walk them (and the inputs) over and over: 40 % of the pricing
    time at 2 000 000 visits. Pricing never yields to the event loop, so the pause covers this call
    only; whatever cycles it leaves are collected after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids))


class Pricer:
    def __init__(self, inputs: Inputs, decisions: dict[str, Decision]) -> None:
        self.inputs = inputs
        self.period = inputs.period
        self.month = str(inputs.period)
        self.decisions = decisions
        self.tariffs = {span.tariff.id: span.tariff for span in inputs.spans}
        self.drafts: dict[tuple[object, ...], Draft] = {}
        self.findings: dict[str, Finding] = {}
        self.warnings: list[str] = []
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
        # Asked once per input row (100 000s at a city's scale): worked out once each.
        self._components: dict[tuple[str, str], list[Component]] = {}
        self._daily: dict[tuple[Decimal, Decimal, str], Fraction] = {}

    # -- helpers -----------------------------------------------------------------------------

    def in_scope(self, provider: str) -> bool:
        return self.inputs.provider is None or provider == self.inputs.provider

    def tariff_on(self, day: date) -> Tariff | None:
        return next((s.tariff for s in self.inputs.spans if s.covers(day)), None)

    def decide(self, finding: Finding) -> Finding:
        return finding.decide(self.decisions.get(finding.key))

    def keep(self, finding: Finding) -> Finding:
        """Record a finding of this run; the same key found twice is one discrepancy."""
        known = self.findings.get(finding.key)
        if known is not None:
            known.detail = f"{known.detail}; {finding.detail}"
            known.provider_detail = f"{known.provider_detail}; {finding.provider_detail}"
            return known
        self.findings[finding.key] = self.decide(finding)
        return finding

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

    # -- the steps -----------------------------------------------------------------------------

    def price(self) -> Outcome:
        self.coverage()
        self.granted()
        self.markup()
        self.visits()
        self.customer_months()
        self.listing()
        self.claims()
        lines = self.settle()
        lines += self.caps(lines)
        used = [
            s.tariff.id
            for s in self.inputs.spans
            if s.valid_from < self.period.end and (s.valid_to is None or s.valid_to >= self.period.first)
        ]
        return Outcome(
            tariffs=list(dict.fromkeys(used)),
            lines=lines,
            findings=sorted(self.findings.values(), key=lambda f: f.key),
            metrics=self.metrics(),
            warnings=self.warnings,
        )

    def coverage(self) -> None:
        first = self.period.first
        uncovered = [
            (day, day + timedelta(days=1))
            for day in (first + timedelta(days=n) for n in range(self.period.days))
            if self.tariff_on(day) is None
        ]
        if uncovered:
            self.warnings.append(f"no tariff in force on {', '.join(show_ranges(uncovered))}: not priced")

    def granted(self) -> None:
        """granted_time: decided minutes on billable days (the days come from SQL)."""
        for row in self.inputs.granted:
            tariff = self.tariffs[row.tariff_id]
            paying = [c for c in self.components(tariff, "granted_time") if c.category == row.category]
            if not paying:
                continue
            minutes = self.granted_minutes(row.minutes, row.occasions, row.per, row.days)
            customer = (row.provider, row.pnr)
            self.granted_total[customer] += minutes
            self.granted_lines[customer].add(row.line_id)
            for component in paying:
                line = self.draft(row.provider, tariff, component, row.pnr, row.zone, self.gwv_key(*customer))
                line.minutes += minutes
                line.days.extend(row.days)
                line.trail["decisions"].add(row.decision_id)
                line.trail["decision_lines"].add(row.line_id)

    def markup(self) -> None:
        """granted_time_markup: granted minutes on days with a delegation of a listed code."""
        for (tariff_id, component_id), rows in self.inputs.markup.items():
            tariff = self.tariffs[tariff_id]
            component = tariff.component(component_id)
            for row in rows:
                line = self.draft(
                    row.provider, tariff, component, row.pnr, row.zone, self.gwv_key(row.provider, row.pnr)
                )
                line.minutes += self.granted_minutes(row.minutes, row.occasions, row.per, row.days)
                line.days.extend(row.days)
                line.trail["decisions"].add(row.decision_id)
                line.trail["decision_lines"].add(row.line_id)
                line.trail["delegations"].update(row.delegation_ids)

    def visits(self) -> None:
        """performed_time and visit_count: unflagged visits arrive summed per line; flagged ones
        are paid one by one when every discrepancy on them lets them through."""
        for row in self.inputs.visit_lines:
            if row.zone is None:
                self.warnings.append(
                    f"visits {_ids(row.ids)}: the customer has no zone on the day; not priced"
                )
                continue
            tariff = self.tariffs[row.tariff_id]
            line = self.draft(row.provider, tariff, tariff.component(row.component), row.pnr, row.zone)
            self.add_visits(line, Fraction(row.seconds), row.visits, row.ids)
        for row in self.inputs.performed:
            self.count_performed(
                row.provider, row.pnr, row.tariff_id, row.report_type, Fraction(row.seconds), row.visits
            )
        for visit in self.inputs.flagged:
            findings = [self.keep(f) for f in self.visit_findings(visit)]
            if not all(f.lets_through for f in findings):
                continue
            seconds = Fraction(visit.seconds)
            self.count_performed(visit.provider, visit.pnr, visit.tariff_id, visit.report_type, seconds, 1)
            if not visit.components:
                continue
            if visit.zone is None or visit.tariff_id is None:
                self.warnings.append(f"visit {visit.id}: the customer has no zone on the day; not priced")
                continue
            tariff = self.tariffs[visit.tariff_id]
            for component_id in visit.components:
                line = self.draft(
                    visit.provider, tariff, tariff.component(component_id), visit.pnr, visit.zone
                )
                self.add_visits(line, seconds, 1, (visit.id,))
                line.trail["approvals"].update(f.key for f in findings if f.status == "approved")

    def count_performed(
        self, provider: str, pnr: str, tariff_id: str | None, report_type: str, seconds: Fraction, visits: int
    ) -> None:
        totals = self.by_customer[(provider, pnr, report_type)]
        totals[0] += seconds
        totals[1] += visits
        self.by_tariff[(provider, tariff_id, report_type)] += seconds

    @staticmethod
    def add_visits(line: Draft, seconds: Fraction, visits: int, ids: tuple[str, ...]) -> None:
        if line.component.basis == "performed_time":
            line.minutes += seconds / SECONDS_PER_MINUTE
        else:
            line.count += visits
        line.trail["visits"].update(ids)

    def visit_findings(self, v: FlaggedVisit) -> list[Finding]:
        """The discrepancies of one flagged visit, one per failed check (visits.sql)."""
        day = v.day.isoformat()

        def on(
            code: str, detail: str, provider_detail: str | None = None, kind: d.Kind | None = None
        ) -> Finding:
            return d.on_record(
                code,
                v.provider,
                v.id,
                pnr=v.pnr,
                day=day,
                version=v.version,
                detail=detail,
                provider_detail=provider_detail,
                kind=kind,
            )

        found = []
        if v.unknown_customer:
            found.append(on("UNKNOWN_CUSTOMER", "the registry does not know the customer"))
        if v.not_chosen:
            found.append(
                on(
                    "NOT_CHOSEN_PROVIDER",
                    f"{v.provider} is not the customer's chosen provider on {day}",
                    f"the customer is not yours on {day}",
                )
            )
        if v.missing_enrolment:
            areas = " or ".join(v.missing_enrolment)
            found.append(
                on(
                    "NO_ENROLMENT",
                    f"no {areas} enrolment with {v.provider} on {day}",
                    f"no {areas} enrolment of yours on {day}",
                )
            )
        if v.pauses:
            found.append(
                on(
                    "DURING_PAUSE",
                    f"the customer is paused on {day} (pause {_ids(v.pauses)})",
                    f"the customer is paused on {day}",
                    kind=d.kind_of("DURING_PAUSE", report_type=v.report_type),
                )
            )
        if v.wrong_staff:
            found.append(
                on(
                    "STAFF_CATEGORY",
                    f"staff category {v.staff_category} may not register {v.report_type} visits",
                )
            )
        if v.overlaps:
            found.append(on("OVERLAP", f"staff {v.staff} also on {_ids(v.overlaps)} at the same time"))
        if v.duplicate_of:
            found.append(
                on(
                    "DUPLICATE",
                    f"same customer, staff, report type and start as {v.duplicate_of}, received first",
                )
            )
        if v.manual:
            found.append(
                on(
                    "MANUAL_REGISTRATION",
                    f"manual registration on a paid performed-time component ({_ids(v.components)})",
                )
            )
        if v.long_visit:
            found.append(
                on("LONG_VISIT", f"{show(Fraction(v.seconds) / SECONDS_PER_MINUTE)} minutes, over 8 hours")
            )
        return found

    def customer_months(self) -> None:
        """GRANTED_WITHOUT_VISITS and LOW_PERFORMED_SHARE per provider-customer with billed granted
        time; DECLINED_VISITS per provider-customer with declined visits."""
        for (provider, pnr), granted in sorted(self.granted_total.items()):
            seconds, visits = self.by_customer.get((provider, pnr, "bistand"), (Fraction(0), Fraction(0)))
            performed = seconds / SECONDS_PER_MINUTE
            if granted > 0 and visits == 0 and pnr not in self.inputs.paused:
                self.keep(
                    d.on_customer_month(
                        "GRANTED_WITHOUT_VISITS",
                        provider,
                        pnr,
                        self.month,
                        version=_digest(granted, _ids(self.granted_lines[(provider, pnr)])),
                        detail=f"{show(granted)} granted minutes, no payable performed bistand visit "
                        f"and no pause in {self.month}",
                    )
                )
            if granted > 0 and performed < d.PERFORMED_SHARE_TARGET * granted:
                self.keep(
                    d.on_customer_month(
                        "LOW_PERFORMED_SHARE",
                        provider,
                        pnr,
                        self.month,
                        version=_digest(granted, performed),
                        detail=f"performed {show(performed)} of granted {show(granted)} minutes "
                        f"({show(100 * performed / granted)} %)",
                    )
                )
        for row in self.inputs.declined:
            self.keep(
                d.on_customer_month(
                    "DECLINED_VISITS",
                    row.provider,
                    row.pnr,
                    self.month,
                    version=_digest(_ids(row.ids)),
                    detail=f"declined visits {_ids(row.ids)}",
                )
            )

    def gwv_key(self, provider: str, pnr: str) -> str:
        return d.customer_month_key("GRANTED_WITHOUT_VISITS", provider, pnr, self.month)

    def listing(self) -> None:
        """enrolled_month: enrolled days on which the provider is chosen, over the days of the month."""
        for row in self.inputs.listed:
            tariff = self.tariffs[row.tariff_id]
            for component in self.components(tariff, "enrolled_month"):
                if component.enrolment != row.area:
                    continue
                hold = None
                if component.requires_remiss and row.remiss is None:
                    hold = self.keep(
                        d.on_record(
                            "NO_REMISS",
                            row.provider,
                            row.enrolment_id,
                            pnr=row.pnr,
                            day=row.valid_from.isoformat(),
                            version=row.version,
                            detail=f"{row.area} enrolment without remiss; listing fee held",
                        )
                    ).key
                line = self.draft(row.provider, tariff, component, row.pnr, row.zone, hold)
                line.enrolled_days += count_days(row.days)
                line.days.extend(row.days)
                line.trail["enrolments"].add(row.enrolment_id)
        for row in self.inputs.unlisted:
            ranges = ", ".join(show_ranges(row.days))
            self.keep(
                d.on_record(
                    "NOT_CHOSEN_PROVIDER",
                    row.provider,
                    row.enrolment_id,
                    pnr=row.pnr,
                    day=row.valid_from.isoformat(),
                    version=row.version,
                    kind=d.kind_of("NOT_CHOSEN_PROVIDER", on_enrolment=True),
                    detail=f"{row.provider} is not the customer's chosen provider on enrolled days "
                    f"{ranges}; they earn no listing",
                    provider_detail=f"the customer is not yours on {ranges}; those enrolled days earn no listing",
                )
            )

    def claims(self) -> None:
        """claim: every claim of the year up to the period's end, in (date, provider, id) order, so
        that limits across providers and over the year are used up in a fixed order."""
        counter = LimitCounter()
        for claim in sorted(self.inputs.claims, key=lambda c: (c.day, c.provider, c.id)):
            tariff = self.tariff_on(claim.day)
            component = tariff.claim_component(claim.type) if tariff else None
            findings = [self.decide(f) for f in self.claim_findings(claim, tariff, component)]
            payable = all(f.lets_through for f in findings)
            if payable and component is not None and component.limit is not None:
                limit = self.claim_limit(claim, component, counter)
                if limit is not None:
                    findings.append(limit)
                    payable = False
            if not (self.in_scope(claim.provider) and self.period.first <= claim.day < self.period.end):
                continue
            for finding in findings:
                self.keep(finding)
            if not payable or component is None or tariff is None:
                continue
            line = self.draft(claim.provider, tariff, component, claim.pnr, None)
            line.count += 1
            line.trail["claims"].add(claim.id)
            line.trail["approvals"].update(f.key for f in findings if f.status == "approved")
            if component.price == APPROVED:
                line.approved_amounts.append(self.approved_amount(claim))

    def claim_findings(
        self, claim: ClaimRow, tariff: Tariff | None, component: Component | None
    ) -> list[Finding]:
        day = claim.day.isoformat()

        def on(code: str, detail: str, provider_detail: str | None = None) -> Finding:
            return d.on_record(
                code,
                claim.provider,
                claim.id,
                pnr=claim.pnr,
                day=day,
                version=claim.version,
                detail=detail,
                provider_detail=provider_detail,
            )

        found = []
        if component is None:
            where = f"tariff {tariff.id}" if tariff else f"no tariff in force on {day}"
            found.append(on("NOT_IN_TARIFF", f"{claim.type} claims have no component in {where}"))
        if claim.pnr is not None:
            if not claim.known_customer:
                found.append(on("UNKNOWN_CUSTOMER", "the registry does not know the customer"))
            elif not claim.chosen and not (claim.type in OWN_BY_ENROLMENT and claim.enrolled_areas):
                found.append(
                    on(
                        "NOT_CHOSEN_PROVIDER",
                        f"{claim.provider} is not the customer's chosen provider on {day}",
                        f"the customer is not yours on {day}",
                    )
                )
        if component is not None and component.requires_enrolment is not None:
            if component.requires_enrolment not in claim.enrolled_areas:
                area = component.requires_enrolment
                found.append(
                    on(
                        "NO_ENROLMENT",
                        f"no {area} enrolment with {claim.provider} on {day}",
                        f"no {area} enrolment of yours on {day}",
                    )
                )
        if component is not None and component.price == APPROVED:
            found.append(on("EXTRAORDINARY", f"requested {claim.requested_amount}: {claim.motivation}"))
        return found

    def claim_limit(self, claim: ClaimRow, component: Component, counter: LimitCounter) -> Finding | None:
        """Use up a place of the component's limit, or return the hard discrepancy saying it is used."""
        limit = component.limit
        assert limit is not None
        scope = (
            component.claim_type,
            *limit_scope(limit.per, provider=claim.provider, pnr=claim.pnr, day=claim.day),
        )
        holders = list(counter.holders(scope))
        if counter.take(scope, limit.count, (claim.provider, claim.id)):
            return None
        base = f"limit {limit.count} per {limit.per} reached"
        own = [cid for provider, cid in holders if provider == claim.provider]
        finding = d.on_record(
            d.LIMIT_CODES[limit.per],
            claim.provider,
            claim.id,
            pnr=claim.pnr,
            day=claim.day.isoformat(),
            version=claim.version,
            detail=f"{base} (paid: {', '.join(f'{cid} by {p}' for p, cid in holders)})",
            provider_detail=f"{base} (paid: your {', '.join(own)})"
            if own == [c for _, c in holders]
            else base,
        )
        return self.decide(finding)

    def approved_amount(self, claim: ClaimRow) -> Decimal:
        decision = self.decisions.get(d.record_key("EXTRAORDINARY", claim.provider, claim.id))
        chosen = (
            decision.amount
            if decision is not None and decision.amount is not None
            else claim.requested_amount
        )
        return round_ore(Decimal(str(chosen)))

    # -- lines ------------------------------------------------------------------------------------

    def settle(self) -> list[PricedLine]:
        """Round each draft once and resolve holds: an open holding discrepancy holds the line, a
        rejected one drops it, an approved one pays it with the approval in its trail."""
        lines = []
        # Each draft is let go once priced, so that drafts and lines never all live at once.
        drafts, self.drafts = self.drafts, {}
        for key in list(drafts):
            draft = drafts.pop(key)
            kind, held_by = "line", None
            if draft.hold is not None and (holder := self.findings.get(draft.hold)) is not None:
                if holder.status == "rejected":
                    continue
                if holder.status == "open":
                    kind, held_by = "held", holder.key
                else:
                    draft.trail["approvals"].add(holder.key)
            lines.append(self.priced(draft, kind, held_by))
        order = {tid: i for i, tid in enumerate(self.tariffs)}
        return sorted(lines, key=lambda x: self.line_order(x, order))

    def line_order(self, line: PricedLine, order: dict[str, int]) -> tuple[object, ...]:
        tariff = self.tariffs[line.tariff_id]
        position = [c.id for c in tariff.components].index(line.component.id)
        return (line.provider, line.kind, order[line.tariff_id], position, line.pnr or "", line.zone or "")

    def priced(self, draft: Draft, kind: str, held_by: str | None) -> PricedLine:
        component = draft.component
        detail: dict[str, Any] = {}
        if component.unit == "hour":
            quantity = hours(draft.minutes)
            detail["minutes"] = str(draft.minutes)
        elif component.unit == "month":
            quantity = month_share(draft.enrolled_days, self.period.days)
            detail["enrolled_days"] = draft.enrolled_days
            detail["days_in_month"] = self.period.days
        else:
            quantity = Fraction(draft.count)
        if draft.days:
            detail["days"] = [(a.isoformat(), b.isoformat()) for a, b in merge(draft.days)]
        if component.price == APPROVED:
            total = sum(draft.approved_amounts, Decimal("0.00"))
            unit_price = draft.approved_amounts[0] if len(set(draft.approved_amounts)) == 1 else None
        else:
            unit_price = (
                component.rate.for_zone(draft.zone)
                if component.rate and draft.zone
                else component.fixed_price
            )
            assert unit_price is not None, f"{component.id} has no price for zone {draft.zone}"
            total = amount(quantity, unit_price)
        return PricedLine(
            kind=kind,
            provider=draft.provider,
            component=component,
            tariff_id=draft.tariff.id,
            rule=component.basis,
            pnr=draft.pnr,
            zone=draft.zone,
            unit=component.unit,
            quantity=quantity,
            unit_price=unit_price,
            amount=total,
            trail={k: sorted(draft.trail[k]) for k in TRAIL_KINDS if draft.trail.get(k)},
            detail=detail,
            held_by=held_by,
        )

    def caps(self, lines: list[PricedLine]) -> list[PricedLine]:
        """Reduction lines: a share cap on a performed-time component and an amount cap on a claim
        component, per provider and tariff version, over the paid (not held) lines."""
        groups: defaultdict[tuple[str, str, str], list[PricedLine]] = defaultdict(list)
        for line in lines:
            if line.kind == "line":
                groups[(line.provider, line.tariff_id, line.component.id)].append(line)
        reductions = []
        for (provider, tariff_id, _), group in groups.items():
            component = group[0].component
            total = sum((x.amount for x in group), Decimal("0.00"))
            if component.cap is not None:
                cap = component.cap
                paid = sum((x.minutes or Fraction(0) for x in group), Fraction(0))
                basis = (
                    self.by_tariff.get((provider, tariff_id, cap.report_type), Fraction(0))
                    / SECONDS_PER_MINUTE
                )
                cap_minutes = share_cap_minutes(basis, cap.share)
                self.cap_metrics[provider][component.id] = {
                    "basis_minutes": show(basis),
                    "cap_minutes": show(cap_minutes),
                    "paid_minutes": show(paid),
                }
                reduction = share_cap(total, paid, cap_minutes)
                if reduction is not None:
                    finding = self.keep(
                        d.on_provider_month(
                            d.SHARE_CAP_CODE,
                            provider,
                            self.month,
                            version=_digest(paid, cap_minutes),
                            detail=f"paid {show(paid)} min > cap {show(cap_minutes)} min "
                            f"(= {cap.share} x {show(basis)} {cap.report_type} min)",
                        )
                    )
                    extra = {
                        "basis_minutes": show(basis),
                        "cap_minutes": show(cap_minutes),
                        "actual_minutes": show(paid),
                    }
                    reductions.append(self.reduction(group, "cap", reduction, finding.key, extra))
            if component.amount_cap is not None:
                reduction = amount_cap(total, component.amount_cap.amount)
                if reduction is not None:
                    finding = self.keep(
                        d.on_provider_month(
                            d.AMOUNT_CAP_CODE,
                            provider,
                            self.month,
                            version=_digest(total, component.amount_cap.amount),
                            detail=f"{total} > cap {component.amount_cap.amount}",
                        )
                    )
                    reductions.append(self.reduction(group, "amount_cap", reduction, finding.key, {}))
        return reductions

    @staticmethod
    def reduction(
        group: list[PricedLine], rule: str, reduction: Reduction, key: str, extra: dict[str, Any]
    ) -> PricedLine:
        first = group[0]
        trail: defaultdict[str, set[str]] = defaultdict(set)
        for line in group:
            for kind, ids in line.trail.items():
                trail[kind].update(ids)
        return PricedLine(
            kind="reduction",
            provider=first.provider,
            component=first.component,
            tariff_id=first.tariff_id,
            rule=rule,
            pnr=None,
            zone=None,
            unit=None,
            quantity=None,
            unit_price=None,
            amount=reduction.amount,
            trail={k: sorted(trail[k]) for k in TRAIL_KINDS if trail.get(k)},
            detail={
                **extra,
                "total_before": str(reduction.total_before),
                "total_after": str(reduction.total_after),
            },
            discrepancy=key,
        )

    def metrics(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        granted: defaultdict[str, Fraction] = defaultdict(Fraction)
        for (provider, _), minutes in self.granted_total.items():
            granted[provider] += minutes
        performed: defaultdict[str, Fraction] = defaultdict(Fraction)
        for (provider, _, report_type), (seconds, _) in self.by_customer.items():
            if report_type == "bistand":
                performed[provider] += seconds / SECONDS_PER_MINUTE
        for provider in set(granted) | set(performed) | set(self.cap_metrics):
            out[provider] = {
                **self.cap_metrics.get(provider, {}),
                "granted_minutes": show(granted[provider]),
                "performed_bistand_minutes": show(performed[provider]),
            }
        return out
