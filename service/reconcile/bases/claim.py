"""claim (domain.md 5 and 6b "Claim limits"): approved claims, one line per provider, component and
customer; the limits of section 5 (SIP_DUPLICATE, LMG_ALREADY_PAID, TEAM_COUNT_CAP) and the claim
checks (NOT_IN_TARIFF, UNKNOWN_CUSTOMER, NOT_CHOSEN_PROVIDER, NO_ENROLMENT, EXTRAORDINARY).

Every claim of the tenant's calendar year up to the period's end is offered in (date, provider,
external id) order, so that limits across providers and over the year are used up in a fixed order;
only the claims of the run's scope and period make lines and discrepancies. The amount cap
(TEAM_AMOUNT_CAP) comes after, on the rounded lines (../caps.py).
"""

from __future__ import annotations

from decimal import Decimal

from service.domain import discrepancies as d
from service.domain.caps import LimitCounter, limit_scope
from service.domain.discrepancies import Finding
from service.domain.money import round_ore
from service.domain.tariff import APPROVED, Component, Tariff
from service.reconcile.inputs import ClaimRow
from service.reconcile.sheet import Draft, Sheet, on_record

# A claim of this type is the provider's by any enrolment on the date too, not only by choice.
OWN_BY_ENROLMENT = frozenset({"sip"})


def price(sheet: Sheet) -> None:
    counter = LimitCounter()
    period = sheet.period
    for claim in sorted(sheet.inputs.claims, key=lambda c: (c.day, c.provider, c.id)):
        tariff = sheet.tariff_on(claim.day)
        component = tariff.claim_component(claim.type) if tariff else None
        found = [sheet.ruled(f) for f in findings(claim, tariff, component)]
        payable = all(f.lets_through for f in found)
        if payable and component is not None and component.limit is not None:
            used = limit(sheet, claim, component, counter)
            if used is not None:
                found.append(used)
                payable = False
        if not (sheet.in_scope(claim.provider) and period.first <= claim.day < period.end):
            continue
        for finding in found:
            sheet.keep(finding)
        if component is None or tariff is None:
            continue
        if not payable:
            if component.price != APPROVED:  # an extraordinary claim's stake is what it requests
                alone = Draft(claim.provider, tariff, component, claim.pnr, None, None)
                alone.count = 1
                sheet.block(found, [alone])
            continue
        line = sheet.draft(claim.provider, tariff, component, claim.pnr, None)
        line.count += 1
        line.trail["claims"].add(claim.id)
        line.trail["approvals"].update(f.key for f in found if f.status == "approved")
        if component.price == APPROVED:
            line.approved_amounts.append(approved_amount(sheet, claim))


def findings(claim: ClaimRow, tariff: Tariff | None, component: Component | None) -> list[Finding]:
    day = claim.day.isoformat()

    def on(code: str, part: d.Part, provider_part: d.Part | None = None) -> Finding:
        return on_record(code, claim, part, provider_part)

    if component is None:  # never payable, so checked no further (domain.md 6)
        where = {"tariff": tariff.id} if tariff else {"day": day}
        return [on("NOT_IN_TARIFF", {"type": claim.type, **where})]
    found = []
    if claim.pnr is not None:
        if not claim.known_customer:
            found.append(on("UNKNOWN_CUSTOMER", {}))
        elif not claim.chosen and not (claim.type in OWN_BY_ENROLMENT and claim.enrolled_areas):
            found.append(on("NOT_CHOSEN_PROVIDER", {"provider": claim.provider, "day": day}, {"day": day}))
    if component.requires_enrolment is not None:
        if component.requires_enrolment not in claim.enrolled_areas:
            areas = [component.requires_enrolment]
            found.append(
                on(
                    "NO_ENROLMENT",
                    {"areas": areas, "provider": claim.provider, "day": day},
                    {"areas": areas, "day": day},
                )
            )
    if component.price == APPROVED:
        found.append(
            on(
                "EXTRAORDINARY",
                {"requested_amount": str(claim.requested_amount), "motivation": claim.motivation},
            )
        )
    return found


def limit(sheet: Sheet, claim: ClaimRow, component: Component, counter: LimitCounter) -> Finding | None:
    """Use up a place of the component's limit, or return the hard discrepancy saying it is used. The
    provider's view names the claims that used it only when they are all its own."""
    rule = component.limit
    assert rule is not None
    scope = (
        component.claim_type,
        *limit_scope(rule.per, provider=claim.provider, pnr=claim.pnr, day=claim.day),
    )
    holders = list(counter.holders(scope))
    if counter.take(scope, rule.count, (claim.provider, claim.id)):
        return None
    base: d.Part = {"count": rule.count, "per": rule.per}
    paid = [{"claim": cid, "provider": p} for p, cid in holders]
    all_own = bool(holders) and all(p == claim.provider for p, _ in holders)
    finding = on_record(
        d.LIMIT_CODES[rule.per],
        claim,
        {**base, "paid": paid} if paid else base,
        {**base, "own": [cid for _, cid in holders]} if all_own else base,
    )
    return sheet.ruled(finding)


def approved_amount(sheet: Sheet, claim: ClaimRow) -> Decimal:
    """An extraordinary insats pays what its approval set (else what was requested), to öre."""
    ruling = sheet.rulings.get(d.record_key("EXTRAORDINARY", claim.provider, claim.id))
    chosen = ruling.amount if ruling is not None and ruling.amount is not None else claim.requested_amount
    return round_ore(Decimal(str(chosen)))
