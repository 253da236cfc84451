"""The result document (examples/README.md) and the line and discrepancy views built from a stored
run: one builder for the scenario command and every read endpoint, masked for the viewer.

Who sees a personnummer (domain.md 2 and 3): invoice_admin, auditor, registry, and a provider for
its own records. Everyone else, and everyone in lists for a protected identity (in a single view
only invoice_admin and auditor), gets the customer's opaque reference instead, in every field:
customer, keys, records and sources. A provider sees only its own provider's part, and every
explanation as phrased from its own view.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from fractions import Fraction

from schemas import reconcile as s
from service.domain.lines import show, show_quantity
from service.domain.periods import show_ranges
from service.domain.tariff import Component
from service.domain.visibility import Viewer
from service.store.discrepancies import StoredFinding
from service.store.runs import RunRow, StoredLine

ZERO = Decimal("0.00")


def _sources(line: StoredLine, viewer: Viewer) -> list[str]:
    return sorted({viewer.text(x, line.pnr) for ids in line.trail.values() for x in ids})


def _quantity(line: StoredLine) -> str:
    assert line.quantity is not None and line.unit is not None
    return show_quantity(Fraction(line.quantity), line.unit)


def _extras(line: StoredLine) -> dict[str, object]:
    detail = line.detail
    extras: dict[str, object] = {}
    if "minutes" in detail:
        extras["minutes"] = show(Fraction(detail["minutes"]))
    if "days" in detail:
        extras["days"] = show_ranges(
            (date.fromisoformat(a), date.fromisoformat(b)) for a, b in detail["days"]
        )
    if "enrolled_days" in detail:
        extras["enrolled_days"] = str(detail["enrolled_days"])
        extras["days_in_month"] = str(detail["days_in_month"])
    return extras


def result_line(line: StoredLine, viewer: Viewer) -> s.ResultLine:
    return s.ResultLine(
        id=line.id,
        component=line.component,
        basis=line.basis,
        tariff=line.tariff_id,
        customer=viewer.customer(line.pnr),
        zone=line.zone,
        unit=line.unit or "",
        quantity=_quantity(line),
        unit_price=line.unit_price,
        amount=line.amount,
        sources=_sources(line, viewer),
        **_extras(line),  # type: ignore[arg-type]
    )


def result_held(line: StoredLine, viewer: Viewer) -> s.ResultHeld:
    assert line.held_by is not None
    return s.ResultHeld(
        id=line.id,
        component=line.component,
        basis=line.basis,
        tariff=line.tariff_id,
        customer=viewer.customer(line.pnr),
        zone=line.zone,
        unit=line.unit or "",
        quantity=_quantity(line),
        unit_price=line.unit_price,
        sources=_sources(line, viewer),
        held_by=viewer.text(line.held_by, line.pnr),
        amount_if_approved=line.amount,
        **_extras(line),  # type: ignore[arg-type]
    )


def result_reduction(line: StoredLine, viewer: Viewer) -> s.ResultReduction:
    assert line.discrepancy is not None
    detail = line.detail
    return s.ResultReduction(
        id=line.id,
        component=line.component,
        tariff=line.tariff_id,
        rule=line.rule,  # type: ignore[arg-type]
        amount=line.amount,
        discrepancy=line.discrepancy,
        sources=_sources(line, viewer),
        total_before=Decimal(detail["total_before"]),
        total_after=Decimal(detail["total_after"]),
        basis_minutes=detail.get("basis_minutes"),
        cap_minutes=detail.get("cap_minutes"),
        actual_minutes=detail.get("actual_minutes"),
    )


def result_adjustment(line: StoredLine, viewer: Viewer) -> s.ResultAdjustment:
    """An adjustment line (service/reconcile/adjustments.py) with the lines it links."""
    assert line.discrepancy is not None
    detail = line.detail
    return s.ResultAdjustment(
        id=line.id,
        component=line.component,
        tariff=line.tariff_id,
        adjusts=detail["adjusts"],
        rule=line.rule,
        customer=viewer.customer(line.pnr),
        zone=line.zone,
        unit=line.unit,
        quantity=_quantity(line) if line.quantity is not None else None,
        unit_price=line.unit_price,
        amount=line.amount,
        original_period=detail["original_period"],
        discrepancy=line.discrepancy,
        paid_amount=Decimal(detail["paid_amount"]),
        recomputed_amount=Decimal(detail["recomputed_amount"]),
        original_lines=detail["original_lines"],
        earlier_adjustments=detail["earlier_adjustments"],
        recomputed_lines=detail["recomputed_lines"],
        recompute_run=detail["recompute_run"],
        sources=_sources(line, viewer),
    )


def result_discrepancy(f: StoredFinding, viewer: Viewer) -> s.ResultDiscrepancy:
    """As the run found it (status as the run applied it)."""
    return s.ResultDiscrepancy(
        id=f.id,
        key=viewer.text(f.key, f.pnr),
        code=f.code,
        kind=f.kind,  # type: ignore[arg-type]
        provider=f.provider_id,
        record=viewer.text(f.record, f.pnr),
        customer=viewer.customer(f.pnr),
        date=f.day,
        status=f.status,  # type: ignore[arg-type]
        detail=f.provider_detail if viewer.as_provider else f.detail,
    )


def discrepancy(f: StoredFinding, viewer: Viewer) -> s.Discrepancy:
    """As decided now: the latest decision, in force while the record keeps its version."""
    decision = None
    if f.decision_seq is not None:
        decision = s.Ruling(
            seq=f.decision_seq,
            decision=f.decision,  # type: ignore[arg-type]
            reason=f.reason or "",
            amount=f.amount,
            version=f.decision_version or "",
            decided_by=f.decided_by or "",
            decided_at=f.decided_at,  # type: ignore[arg-type]
            in_force=f.status_now != "open",
        )
    return s.Discrepancy(
        id=f.id,
        key=viewer.text(f.key, f.pnr),
        code=f.code,
        kind=f.kind,  # type: ignore[arg-type]
        provider=f.provider_id,
        record=viewer.text(f.record, f.pnr),
        customer=viewer.customer(f.pnr),
        customer_ref=viewer.ref(f.pnr),
        date=f.day,
        status=f.status_now,  # type: ignore[arg-type]
        run_status=f.status,  # type: ignore[arg-type]
        detail=f.provider_detail if viewer.as_provider else f.detail,
        run=f.run_id,
        decision=decision,
    )


def component_order(components: list[Component]) -> list[Component]:
    """The run's components, once each by id, in tariff and file order."""
    return list({c.id: c for c in reversed(components)}.values())[::-1]


def totals(lines: list[StoredLine], components: list[Component]) -> dict[str, Decimal]:
    """Per component of the run's tariffs: its paid lines plus its reductions."""
    out = {c.id: ZERO for c in component_order(components)}
    for line in lines:
        if line.kind != "held":
            out[line.component] = out.get(line.component, ZERO) + line.amount
    return out


def totals_by_area(lines: list[StoredLine]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines:
        if line.kind != "held":
            out[line.area] = out.get(line.area, ZERO) + line.amount
    return dict(sorted(out.items()))


def build(
    tenant: str,
    run: RunRow,
    providers: list[tuple[str, str]],
    lines: list[StoredLine],
    findings: list[StoredFinding],
    components: list[Component],
    viewer: Viewer,
) -> s.ResultDocument:
    metrics = {p["provider"]: p.get("metrics", {}) for p in run.summary.get("providers", [])}
    blocks = []
    for provider, name in providers:
        if not viewer.sees(provider):
            continue
        own = [x for x in lines if x.provider_id == provider]
        sums = totals(own, components)
        blocks.append(
            s.ResultProvider(
                provider=provider,
                name=name,
                lines=[result_line(x, viewer) for x in own if x.kind == "line"],
                reductions=[result_reduction(x, viewer) for x in own if x.kind == "reduction"],
                held=[result_held(x, viewer) for x in own if x.kind == "held"],
                adjustments=[result_adjustment(x, viewer) for x in own if x.kind == "adjustment"],
                totals=sums,
                total=sum(sums.values(), ZERO),
                metrics=metrics.get(provider, {}),
            )
        )
    shown = [result_discrepancy(f, viewer) for f in findings if viewer.sees(f.provider_id)]
    return s.ResultDocument(
        tenant=tenant,
        period=run.period,
        run=run.id,
        kind=run.kind,  # type: ignore[arg-type]
        tariffs=run.tariffs,
        providers=blocks,
        grand_total=sum((b.total for b in blocks), ZERO),
        discrepancies=shown,
        discrepancy_counts=dict(sorted(Counter(d.code for d in shown).items())),
        warnings=run.warnings if not viewer.as_provider else [],
    )
