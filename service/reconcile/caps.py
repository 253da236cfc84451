"""The caps, on the rounded paid (not held) lines. A cap never changes a line: one reduction line
brings the total down (service/domain/caps.py).

Per provider, tariff version and component (domain.md 5): a share cap on a performed-time component
(the 13 % of `delegerad_ovrig`, DELEGATED_CAP) and an amount cap on a claim component
(TEAM_AMOUNT_CAP). Per provider-customer-month and component, all zones (followup.md 3):
`cap_to_granted` on performed time of a category (no discrepancy) and `minimum_share` on granted
time (BELOW_MINIMUM_SHARE); the markup is its own component and never reduced by them."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

import msgspec

from service.domain import discrepancies as d
from service.domain.caps import (
    Reduction,
    amount_cap,
    cap_to_granted,
    minimum_share,
    share_cap,
    share_cap_minutes,
)
from service.domain.discrepancies import Finding
from service.domain.lines import ZERO, InvoiceLine, merged_trail, show
from service.reconcile.sheet import SECONDS_PER_MINUTE, Sheet, digest

BELOW_MINIMUM_SHARE = "BELOW_MINIMUM_SHARE"


def reductions(sheet: Sheet, lines: list[InvoiceLine]) -> list[InvoiceLine]:
    paid = [line for line in lines if line.kind == "line"]
    return _customer_reductions(sheet, paid) + _component_reductions(sheet, paid)


def _customer_reductions(sheet: Sheet, lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """Per provider-customer-month and component, all zones: cap_to_granted on performed time and
    minimum_share on granted time (followup.md 3)."""
    groups: defaultdict[tuple[str, str, str, str], list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        component = sheet.tariffs[line.tariff_id].component(line.component)
        if line.pnr is not None and (component.cap_to_granted or component.minimum_share is not None):
            groups[(line.provider_id, line.tariff_id, line.component, line.pnr)].append(line)
    out = []
    for (provider, tariff_id, component_id, pnr), group in sorted(groups.items()):
        component = sheet.tariffs[tariff_id].component(component_id)
        total = sum((x.amount for x in group), ZERO)
        if component.cap_to_granted:
            assert component.category is not None
            paid = sum((x.minutes or Fraction(0) for x in group), Fraction(0))
            granted = sheet.granted_by_category.get(
                (provider, pnr, tariff_id, component.category), Fraction(0)
            )
            reduction = cap_to_granted(total, paid, granted)
            if reduction is not None:
                figures = {"granted_minutes": show(granted), "paid_minutes": show(paid)}
                out.append(_reduce(sheet, group, "cap_to_granted", reduction, None, figures, pnr))
        if component.minimum_share is not None:
            granted = sheet.granted_all.get((provider, pnr), Fraction(0))
            seconds = sheet.by_customer.get((provider, pnr, "bistand"), (Fraction(0), Fraction(0)))[0]
            performed = seconds / SECONDS_PER_MINUTE
            reduction = minimum_share(total, performed, granted, component.minimum_share)
            if reduction is not None:
                finding = d.on_customer_month(
                    BELOW_MINIMUM_SHARE,
                    provider,
                    pnr,
                    sheet.month,
                    version=digest(granted, performed),
                    part={
                        **d.performed_share(performed, granted),
                        "minimum_percent": str(100 * component.minimum_share),
                    },
                )
                figures = {"granted_minutes": show(granted), "performed_minutes": show(performed)}
                out.append(_reduce(sheet, group, "minimum_share", reduction, finding, figures, pnr))
    return out


def _component_reductions(sheet: Sheet, lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """Per provider, tariff version and component: the share cap and the amount cap."""
    groups: defaultdict[tuple[str, str, str], list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        groups[(line.provider_id, line.tariff_id, line.component)].append(line)
    out = []
    for (provider, tariff_id, component_id), group in groups.items():
        component = sheet.tariffs[tariff_id].component(component_id)
        total = sum((x.amount for x in group), ZERO)
        if component.cap is not None:
            cap = component.cap
            paid = sum((x.minutes or Fraction(0) for x in group), Fraction(0))
            basis = (
                sheet.by_tariff.get((provider, tariff_id, cap.report_type), Fraction(0)) / SECONDS_PER_MINUTE
            )
            cap_minutes = share_cap_minutes(basis, cap.share)
            sheet.cap_metrics[provider][component.id] = {
                "basis_minutes": show(basis),
                "cap_minutes": show(cap_minutes),
                "paid_minutes": show(paid),
            }
            reduction = share_cap(total, paid, cap_minutes)
            if reduction is not None:
                finding = d.on_provider_month(
                    d.SHARE_CAP_CODE,
                    provider,
                    sheet.month,
                    version=digest(paid, cap_minutes),
                    part={
                        "paid_minutes": show(paid),
                        "cap_minutes": show(cap_minutes),
                        "share_percent": str(100 * cap.share),
                        "basis_minutes": show(basis),
                        "report_type": cap.report_type,
                    },
                )
                figures = {
                    "basis_minutes": show(basis),
                    "cap_minutes": show(cap_minutes),
                    "actual_minutes": show(paid),
                }
                out.append(_reduce(sheet, group, "cap", reduction, finding, figures))
        if component.amount_cap is not None:
            reduction = amount_cap(total, component.amount_cap.amount)
            if reduction is not None:
                finding = d.on_provider_month(
                    d.AMOUNT_CAP_CODE,
                    provider,
                    sheet.month,
                    version=digest(total, component.amount_cap.amount),
                    part={"total_amount": str(total), "cap_amount": str(component.amount_cap.amount)},
                )
                out.append(_reduce(sheet, group, "amount_cap", reduction, finding, {}))
    return out


def _reduce(
    sheet: Sheet,
    group: list[InvoiceLine],
    rule: str,
    reduction: Reduction,
    finding: Finding | None,
    figures: dict[str, Any],
    pnr: str | None = None,
) -> InvoiceLine:
    """The reduction line of a component's paid lines (of one customer, or of all), and its info
    discrepancy where the rule raises one."""
    return msgspec.structs.replace(
        group[0],
        kind="reduction",
        rule=rule,
        pnr=pnr,
        zone=None,
        unit=None,
        quantity=None,
        unit_price=None,
        amount=reduction.amount,
        trail=merged_trail(x.trail for x in group),
        detail={
            **figures,
            "total_before": str(reduction.total_before),
            "total_after": str(reduction.total_after),
        },
        discrepancy=None if finding is None else sheet.keep(finding).key,
    )
