"""The checks on a provider-customer-month (domain.md 6 and 6b): GRANTED_WITHOUT_VISITS (which holds
the customer-month's granted time and markup while undecided), LOW_PERFORMED_SHARE (the 85 % target)
and DECLINED_VISITS. They read what the bases tallied: granted minutes and payable visits. The
reductions per customer-month (cap_to_granted, minimum_share) are caps, on the rounded lines
(caps.py).
"""

from __future__ import annotations

from fractions import Fraction

from service.domain import discrepancies as d
from service.domain.lines import show
from service.reconcile.sheet import SECONDS_PER_MINUTE, Sheet, digest, ids

GRANTED_WITHOUT_VISITS = "GRANTED_WITHOUT_VISITS"


def hold_key(sheet: Sheet, provider: str, pnr: str) -> str:
    """The discrepancy that holds a customer-month's granted time and markup."""
    return d.customer_month_key(GRANTED_WITHOUT_VISITS, provider, pnr, sheet.month)


def check(sheet: Sheet) -> None:
    """Per provider-customer with granted time (billed, for GRANTED_WITHOUT_VISITS; paid or not, for
    LOW_PERFORMED_SHARE: domain.md 6b), and per one with declined visits."""
    for (provider, pnr), granted in sorted(sheet.granted_all.items()):
        seconds, visits = sheet.by_customer.get((provider, pnr, "bistand"), (Fraction(0), Fraction(0)))
        performed = seconds / SECONDS_PER_MINUTE
        billed = sheet.granted_total.get((provider, pnr), Fraction(0))
        if billed > 0 and visits == 0 and pnr not in sheet.inputs.paused:
            sheet.keep(
                d.on_customer_month(
                    GRANTED_WITHOUT_VISITS,
                    provider,
                    pnr,
                    sheet.month,
                    version=digest(billed, ids(sheet.granted_lines[(provider, pnr)])),
                    part={"granted_minutes": show(billed), "month": sheet.month},
                )
            )
        if granted > 0 and performed < d.PERFORMED_SHARE_TARGET * granted:
            sheet.keep(
                d.on_customer_month(
                    "LOW_PERFORMED_SHARE",
                    provider,
                    pnr,
                    sheet.month,
                    version=digest(granted, performed),
                    part=d.performed_share(performed, granted),
                )
            )
    for row in sheet.inputs.declined:
        sheet.keep(
            d.on_customer_month(
                "DECLINED_VISITS",
                row.provider,
                row.pnr,
                sheet.month,
                version=digest(ids(row.ids)),
                part={"visits": sorted(row.ids)},
            )
        )
