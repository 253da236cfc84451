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
from typing import Any, Protocol

import msgspec

from schemas import reconcile as s
from service.domain import followup
from service.domain.followup import Figures
from service.domain.lines import ZERO, InvoiceLine, show, show_quantity, totals, totals_by_area
from service.domain.periods import show_ranges
from service.domain.tariff import Component
from service.domain.visibility import Viewer
from service.store.discrepancies import StoredFinding
from service.store.runs import RunRow


class Explain(Protocol):
    """A discrepancy's explanation in the reader's language, from its code and parameters (or the
    text stored before there were parameters): the interfaces give one (service/web/explain.py)."""

    def __call__(self, code: str, parameters: list[dict[str, Any]] | None, text: str | None, /) -> str: ...


def _explained(f: StoredFinding, viewer: Viewer, explain: Explain) -> tuple[list[dict[str, Any]] | None, str]:
    """The parameters and explanation the viewer sees: a provider's own view names no other provider."""
    if viewer.as_provider:
        return f.provider_parameters, explain(f.code, f.provider_parameters, f.provider_detail)
    return f.parameters, explain(f.code, f.parameters, f.detail)


# The views' totals are the domain's (service/domain/lines.py); named here for the views that sum.
__all__ = ["ZERO", "totals", "totals_by_area"]


def _sources(line: InvoiceLine, viewer: Viewer) -> list[str]:
    return sorted({viewer.text(x, line.pnr) for ids in line.trail.values() for x in ids})


def _quantity(line: InvoiceLine) -> str:
    assert line.quantity is not None and line.unit is not None
    return show_quantity(line.quantity, line.unit)


def _extras(line: InvoiceLine) -> dict[str, object]:
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


def _priced(line: InvoiceLine, viewer: Viewer) -> dict[str, Any]:
    """What a paid line and a held line show alike."""
    return {
        "id": line.id,
        "component": line.component,
        "basis": line.basis,
        "tariff": line.tariff_id,
        "customer": viewer.customer(line.pnr),
        "zone": line.zone,
        "unit": line.unit or "",
        "quantity": _quantity(line),
        "unit_price": line.unit_price,
        "sources": _sources(line, viewer),
        **_extras(line),
    }


def result_line(line: InvoiceLine, viewer: Viewer) -> s.ResultLine:
    return s.ResultLine(**_priced(line, viewer), amount=line.amount)


def result_held(line: InvoiceLine, viewer: Viewer) -> s.ResultHeld:
    assert line.held_by is not None
    return s.ResultHeld(
        **_priced(line, viewer), held_by=viewer.text(line.held_by, line.pnr), amount_if_approved=line.amount
    )


def result_reduction(line: InvoiceLine, viewer: Viewer) -> s.ResultReduction:
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


def result_adjustment(line: InvoiceLine, viewer: Viewer) -> s.ResultAdjustment:
    """An adjustment line (service/reconcile/adjustments.py) with the lines it links."""
    assert line.discrepancy is not None and line.adjustment is not None
    adjusted = line.adjustment
    return s.ResultAdjustment(
        id=line.id,
        component=line.component,
        tariff=line.tariff_id,
        adjusts=adjusted.adjusts,
        rule=line.rule,
        customer=viewer.customer(line.pnr),
        zone=line.zone,
        unit=line.unit,
        quantity=_quantity(line) if line.quantity is not None else None,
        unit_price=line.unit_price,
        amount=line.amount,
        original_period=adjusted.original_period,
        discrepancy=line.discrepancy,
        paid_amount=adjusted.paid_amount,
        recomputed_amount=adjusted.recomputed_amount,
        original_lines=adjusted.original_lines,
        earlier_adjustments=adjusted.earlier_adjustments,
        recomputed_lines=adjusted.recomputed_lines,
        recompute_run=adjusted.recompute_run,
        sources=_sources(line, viewer),
    )


def line_detail(line: InvoiceLine) -> dict[str, Any]:
    """A line's `detail` as the API shows it: how its quantity came about, and for an adjustment
    what it corrects (stored in columns of their own since sql/migrations/0007)."""
    adjusted = line.adjustment
    if adjusted is None:
        return line.detail
    return {
        **line.detail,
        "original_period": adjusted.original_period,
        "adjusts": adjusted.adjusts,
        "settled_run": str(adjusted.settled_run),
        "recompute_run": str(adjusted.recompute_run),
        "paid_amount": str(adjusted.paid_amount),
        "recomputed_amount": str(adjusted.recomputed_amount),
        "original_lines": [str(i) for i in adjusted.original_lines],
        "earlier_adjustments": [str(i) for i in adjusted.earlier_adjustments],
        "recomputed_lines": [str(i) for i in adjusted.recomputed_lines],
    }


def result_discrepancy(f: StoredFinding, viewer: Viewer, explain: Explain) -> s.ResultDiscrepancy:
    """As the run found it (status as the run applied it)."""
    parameters, detail = _explained(f, viewer, explain)
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
        detail=detail,
        parameters=parameters,
    )


def discrepancy(f: StoredFinding, viewer: Viewer, explain: Explain) -> s.Discrepancy:
    """As decided now: the latest decision, in force while the record keeps its version."""
    parameters, detail = _explained(f, viewer, explain)
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
        detail=detail,
        parameters=parameters,
        run=f.run_id,
        decision=decision,
    )


def build(
    tenant: str,
    run: RunRow,
    providers: list[tuple[str, str]],
    lines: list[InvoiceLine],
    findings: list[StoredFinding],
    components: list[Component],
    viewer: Viewer,
    figures: dict[str, Figures],
    explain: Explain,
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
    shown = [result_discrepancy(f, viewer, explain) for f in findings if viewer.sees(f.provider_id)]
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
        followup=followup_document(figures, [b.provider for b in blocks]),
    )


def followup_document(figures: dict[str, Figures], providers: list[str]) -> s.Followup:
    """The providers' follow-up figures and their sum (followup.md 1); a provider without figures
    has none to show (zeros)."""
    own = {p: figures.get(p, Figures()) for p in providers}
    return s.Followup(
        providers=[
            msgspec.convert({"provider": p, **followup.document(f)}, s.FollowupProvider)
            for p, f in own.items()
        ],
        tenant=msgspec.convert(followup.document(followup.combine(own.values())), s.FollowupFigures),
    )
