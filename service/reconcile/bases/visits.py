"""The performed visits that performed_time and visit_count pay, and their checks (domain.md 6).

Every check is a column of sql/reconcile/visits.sql; unflagged visits arrive summed per line, and
only flagged ones come here one by one: each failed check becomes a discrepancy, and the visit is
paid when every discrepancy on it lets it through (info, or approved). Payable visits also count
towards the share cap's basis and the customer-month checks, whether a component pays them or not.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from service.domain import discrepancies as d
from service.domain.discrepancies import LONG_VISIT_SECONDS, Finding
from service.domain.followup import LICENSED_CATEGORIES
from service.domain.lines import show
from service.reconcile.bases import performed_time, visit_count
from service.reconcile.inputs import FlaggedVisit
from service.reconcile.sheet import SECONDS_PER_MINUTE, Draft, Sheet, ids, instant, on_record

# How a visit adds to a line of each visit basis: (line, seconds, visits).
ADD: dict[str, Callable[[Draft, Fraction, int], None]] = {
    "performed_time": performed_time.add,
    "visit_count": visit_count.add,
}


def price(sheet: Sheet) -> None:
    for row in sheet.inputs.visit_lines:
        if row.zone is None:
            sheet.warnings.append(f"visits {ids(row.ids)}: the customer has no zone on the day; not priced")
            continue
        tariff = sheet.tariffs[row.tariff_id]
        component = tariff.component(row.component)
        line = sheet.draft(row.provider, tariff, component, row.pnr, row.zone)
        ADD[component.basis](line, Fraction(row.seconds), row.visits)
        line.trail["visits"].update(row.ids)
    for row in sheet.inputs.performed:
        sheet.count_performed(
            row.provider, row.pnr, row.tariff_id, row.report_type, Fraction(row.seconds), row.visits
        )
    for row in sheet.inputs.licensed:
        sheet.licensed[(row.provider, row.staff_category)] += row.visits
    for visit in sheet.inputs.flagged:
        found = [sheet.keep(f) for f in findings(visit)]
        if visit.staff_category in LICENSED_CATEGORIES and not any(f.kind == "hard" for f in found):
            sheet.licensed[(visit.provider, visit.staff_category)] += 1  # blocked ones happened too
        if not all(f.lets_through for f in found):
            sheet.block(found, alone(sheet, visit))
            continue
        seconds = Fraction(visit.seconds)
        sheet.count_performed(visit.provider, visit.pnr, visit.tariff_id, visit.report_type, seconds, 1)
        if not visit.components:
            continue
        if visit.zone is None or visit.tariff_id is None:
            sheet.warnings.append(f"visit {visit.id}: the customer has no zone on the day; not priced")
            continue
        tariff = sheet.tariffs[visit.tariff_id]
        for component_id in visit.components:
            component = tariff.component(component_id)
            line = sheet.draft(visit.provider, tariff, component, visit.pnr, visit.zone)
            ADD[component.basis](line, seconds, 1)
            line.trail["visits"].add(visit.id)
            line.trail["approvals"].update(f.key for f in found if f.status == "approved")


def alone(sheet: Sheet, visit: FlaggedVisit) -> list[Draft]:
    """A blocked visit's lines on their own, as they would be if it were paid."""
    if visit.zone is None or visit.tariff_id is None:
        return []
    tariff = sheet.tariffs[visit.tariff_id]
    out = []
    for component_id in visit.components:
        component = tariff.component(component_id)
        line = Draft(visit.provider, tariff, component, visit.pnr, visit.zone, None)
        ADD[component.basis](line, Fraction(visit.seconds), 1)
        out.append(line)
    return out


def findings(v: FlaggedVisit) -> list[Finding]:
    """The discrepancies of one flagged visit, one per failed check (visits.sql)."""
    day = v.day.isoformat()
    times = {"start": instant(v.started_at), "end": instant(v.ended_at)}

    def on(
        code: str, part: d.Part, provider_part: d.Part | None = None, kind: d.Severity | None = None
    ) -> Finding:
        return on_record(code, v, part, provider_part, kind)

    found = []
    if v.unknown_customer:
        found.append(on("UNKNOWN_CUSTOMER", {}))
    if v.not_chosen:
        found.append(on("NOT_CHOSEN_PROVIDER", {"provider": v.provider, "day": day}, {"day": day}))
    if v.missing_enrolment:
        areas = list(v.missing_enrolment)
        found.append(
            on(
                "NO_ENROLMENT",
                {"areas": areas, "provider": v.provider, "day": day},
                {"areas": areas, "day": day},
            )
        )
    if v.pauses:
        found.append(
            on(
                "DURING_PAUSE",
                {"day": day, "pauses": sorted(v.pauses)},
                {"day": day},
                kind=d.severity_of("DURING_PAUSE", report_type=v.report_type),
            )
        )
    if v.wrong_staff:
        found.append(on("STAFF_CATEGORY", {"category": v.staff_category, "report_type": v.report_type}))
    if v.overlaps:
        found.append(on("OVERLAP", {"staff": v.staff, **times, "visits": sorted(v.overlaps)}))
    if v.duplicate_of:
        found.append(on("DUPLICATE", {"start": times["start"], "visit": v.duplicate_of}))
    if v.manual:
        found.append(on("MANUAL_REGISTRATION", {"components": sorted(v.components)}))
    if v.long_visit:
        minutes = show(Fraction(v.seconds) / SECONDS_PER_MINUTE)
        found.append(on("LONG_VISIT", {**times, "minutes": minutes, "hours": LONG_VISIT_SECONDS // 3600}))
    return found
