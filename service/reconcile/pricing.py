"""Pricing: turn the aggregated rows of a run into invoice lines, held lines, reductions and
discrepancies, exactly (domain.md sections 5, 6 and 6b).

The steps, each the one place its rule lives:

  tariff coverage       coverage (days no version prices: a warning)
  each basis            bases/ (granted_time, granted_time_markup, visits for performed_time and
                          visit_count, enrolled_month, claim)
  customer-months       customer_months.py (GRANTED_WITHOUT_VISITS, LOW_PERFORMED_SHARE,
                          DECLINED_VISITS)
  holds                 settle (held, dropped or paid by the holding discrepancy's status)
  caps                  caps.py (share cap and amount cap: reduction lines)

Quantities are Fractions end to end; each line's amount is rounded once from its exact quantity.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from service.domain.discrepancies import Ruling
from service.domain.followup import Figures
from service.domain.lines import ZERO, InvoiceLine, amount, hours, month_share, show, sorted_trail
from service.domain.outcome import Outcome
from service.domain.periods import merge, show_ranges
from service.domain.tariff import APPROVED
from service.reconcile import caps, customer_months
from service.reconcile.bases import claim, enrolled_month, granted_time, granted_time_markup, visits
from service.reconcile.inputs import DeclinedRow, Inputs
from service.reconcile.sheet import SECONDS_PER_MINUTE, Draft, Sheet


async def price_aside(inputs: Inputs, rulings: dict[str, Ruling]) -> Outcome:
    """`price` in a worker thread: a city's month takes seconds of Python, and on the event loop it
    would keep the process from answering anything meanwhile (the progress page's polls included).
    Beside it, requests are slower (one interpreter lock), not stopped."""
    return await asyncio.to_thread(price, inputs, rulings)


def price(inputs: Inputs, rulings: dict[str, Ruling]) -> Outcome:
    sheet = Sheet(inputs, rulings)
    coverage(sheet)
    granted_time.price(sheet)
    granted_time_markup.price(sheet)
    visits.price(sheet)
    customer_months.check(sheet)
    enrolled_month.price(sheet)
    claim.price(sheet)
    lines = settle(sheet)
    lines += caps.reductions(sheet, lines)
    period = sheet.period
    used = [
        s.tariff.id
        for s in inputs.spans
        if s.valid_from < period.end and (s.valid_to is None or s.valid_to >= period.first)
    ]
    return Outcome(
        tariffs=list(dict.fromkeys(used)),
        lines=lines,
        findings=sorted(sheet.findings.values(), key=lambda f: f.key),
        metrics=metrics(sheet),
        warnings=sheet.warnings,
        counted=counted(sheet),
        at_stake=at_stake(sheet),
    )


def coverage(sheet: Sheet) -> None:
    first = sheet.period.first
    uncovered = [
        (day, day + timedelta(days=1))
        for day in (first + timedelta(days=n) for n in range(sheet.period.days))
        if sheet.tariff_on(day) is None
    ]
    if uncovered:
        sheet.warnings.append(f"no tariff in force on {', '.join(show_ranges(uncovered))}: not priced")


def settle(sheet: Sheet) -> list[InvoiceLine]:
    """Round each draft once and resolve holds: an open holding discrepancy holds the line, a
    rejected one drops it, an approved one pays it with the approval in its trail."""
    lines = []
    # Each draft is let go once priced, so that drafts and lines never all live at once.
    drafts, sheet.drafts = sheet.drafts, {}
    for key in list(drafts):
        draft = drafts.pop(key)
        kind, held_by = "line", None
        if draft.hold is not None and (holder := sheet.findings.get(draft.hold)) is not None:
            if holder.status == "rejected":
                continue
            if holder.status == "open":
                kind, held_by = "held", holder.key
            else:
                draft.trail["approvals"].add(holder.key)
        lines.append(priced(draft, kind, held_by, sheet.period.days))
    tariff_order = {tid: i for i, tid in enumerate(sheet.tariffs)}
    positions = {(t.id, c.id): n for t in sheet.tariffs.values() for n, c in enumerate(t.components)}
    return sorted(
        lines,
        key=lambda x: (
            x.provider_id,
            x.kind,
            tariff_order[x.tariff_id],
            positions[(x.tariff_id, x.component)],
            x.pnr or "",
            x.zone or "",
        ),
    )


def priced(draft: Draft, kind: str, held_by: str | None, days_in_month: int) -> InvoiceLine:
    """A draft's quantity in its component's unit, priced and rounded once."""
    component = draft.component
    detail: dict[str, Any] = {}
    if component.unit == "hour":
        quantity = hours(draft.minutes)
        detail["minutes"] = str(draft.minutes)
    elif component.unit == "month":
        quantity = month_share(draft.enrolled_days, days_in_month)
        detail["enrolled_days"] = draft.enrolled_days
        detail["days_in_month"] = days_in_month
    else:
        quantity = Fraction(draft.count)
    if draft.days:
        detail["days"] = [(a.isoformat(), b.isoformat()) for a, b in merge(draft.days)]
    if component.price == APPROVED:
        total = sum(draft.approved_amounts, ZERO)
        unit_price = draft.approved_amounts[0] if len(set(draft.approved_amounts)) == 1 else None
    else:
        unit_price = (
            component.rate.for_zone(draft.zone) if component.rate and draft.zone else component.fixed_price
        )
        assert unit_price is not None, f"{component.id} has no price for zone {draft.zone}"
        total = amount(quantity, unit_price)
    return InvoiceLine(
        kind=kind,
        provider_id=draft.provider,
        component=component.id,
        area=component.area,
        basis=component.basis,
        tariff_id=draft.tariff.id,
        rule=component.basis,
        pnr=draft.pnr,
        zone=draft.zone,
        unit=component.unit,
        quantity=quantity,
        unit_price=unit_price,
        amount=total,
        trail=sorted_trail(draft.trail),
        detail=detail,
        held_by=held_by,
    )


def at_stake(sheet: Sheet) -> dict[str, Decimal]:
    """Per discrepancy blocking a record that holds no line: the record's own price before caps,
    each of its lines priced as `priced` prices a paid one."""
    out = {}
    for keys, alone in sheet.blocked:
        price = sum((priced(draft, "line", None, sheet.period.days).amount for draft in alone), ZERO)
        for key in keys:
            out[key] = price
    return out


def counted(sheet: Sheet) -> dict[str, Figures]:
    """Per provider, the follow-up figures the run counts (followup.md 1); the customers and payout
    per area come from the lines (service/domain/followup.py `with_lines`)."""
    granted: defaultdict[str, Fraction] = defaultdict(Fraction)
    for (provider, _), minutes in sheet.granted_all.items():
        granted[provider] += minutes
    performed: defaultdict[str, Fraction] = defaultdict(Fraction)
    for (provider, _, report_type), (seconds, _) in sheet.by_customer.items():
        if report_type == "bistand":
            performed[provider] += seconds / SECONDS_PER_MINUTE
    below = Counter(f.provider for f in sheet.findings.values() if f.code == "LOW_PERFORMED_SHARE")
    licensed: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for (provider, category), n in sheet.licensed.items():
        licensed[provider][category] = n
    declined: defaultdict[str, list[DeclinedRow]] = defaultdict(list)
    for row in sheet.inputs.declined:
        declined[row.provider].append(row)
    providers = set(granted) | set(performed) | set(below) | set(licensed) | set(declined)
    return {
        provider: Figures(
            granted_minutes=granted[provider],
            performed_minutes=performed[provider],
            customers_below_target=below[provider],
            licensed_visits=licensed[provider],
            declined_visits=sum(len(r.ids) for r in declined[provider]),
            declined_customers=frozenset(r.pnr for r in declined[provider]),
        )
        for provider in providers
    }


def metrics(sheet: Sheet) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    granted: dict[str, Fraction] = {}
    for (provider, _), minutes in sheet.granted_total.items():
        granted[provider] = granted.get(provider, Fraction(0)) + minutes
    performed: dict[str, Fraction] = {}
    for (provider, _, report_type), (seconds, _) in sheet.by_customer.items():
        if report_type == "bistand":
            performed[provider] = performed.get(provider, Fraction(0)) + seconds / SECONDS_PER_MINUTE
    for provider in set(granted) | set(performed) | set(sheet.cap_metrics):
        out[provider] = {
            **sheet.cap_metrics.get(provider, {}),
            "granted_minutes": show(granted.get(provider, Fraction(0))),
            "performed_bistand_minutes": show(performed.get(provider, Fraction(0))),
        }
    return out
