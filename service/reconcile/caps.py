"""The caps of domain.md 5, on the rounded lines: a share cap on a performed-time component (the 13 %
of `delegerad_ovrig`, DELEGATED_CAP) and an amount cap on a claim component (TEAM_AMOUNT_CAP), per
provider and tariff version, over the paid (not held) lines. A cap never changes a line: one
reduction line brings the component's total down (service/domain/caps.py)."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

import msgspec

from service.domain import discrepancies as d
from service.domain.caps import Reduction, amount_cap, share_cap, share_cap_minutes
from service.domain.discrepancies import Finding
from service.domain.lines import ZERO, InvoiceLine, merged_trail, show
from service.reconcile.sheet import SECONDS_PER_MINUTE, Sheet, digest


def reductions(sheet: Sheet, lines: list[InvoiceLine]) -> list[InvoiceLine]:
    groups: defaultdict[tuple[str, str, str], list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        if line.kind == "line":
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
                    detail=f"paid {show(paid)} min > cap {show(cap_minutes)} min "
                    f"(= {cap.share} x {show(basis)} {cap.report_type} min)",
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
                    detail=f"{total} > cap {component.amount_cap.amount}",
                )
                out.append(_reduce(sheet, group, "amount_cap", reduction, finding, {}))
    return out


def _reduce(
    sheet: Sheet,
    group: list[InvoiceLine],
    rule: str,
    reduction: Reduction,
    finding: Finding,
    figures: dict[str, Any],
) -> InvoiceLine:
    """The reduction line of a component's paid lines, and its info discrepancy."""
    return msgspec.structs.replace(
        group[0],
        kind="reduction",
        rule=rule,
        pnr=None,
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
        discrepancy=sheet.keep(finding).key,
    )
