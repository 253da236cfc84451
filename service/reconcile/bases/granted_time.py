"""granted_time (domain.md 5): decided minutes on billable days, per customer, zone and tariff version.

The billable days come from SQL (sql/reconcile/granted.sql); a line's quantity is its exact daily
minutes (service/domain/granted.py) times its days. The line is held by the customer-month's
GRANTED_WITHOUT_VISITS while that is undecided (../customer_months.py). Every granted minute is
tallied, paid or not: the customer-month checks, the per-customer caps and the follow-up read them.
"""

from __future__ import annotations

from service.reconcile import customer_months
from service.reconcile.sheet import Sheet


def price(sheet: Sheet) -> None:
    for row in sheet.inputs.granted:
        tariff = sheet.tariffs[row.tariff_id]
        minutes = sheet.granted_minutes(row.minutes, row.occasions, row.per, row.days)
        customer = (row.provider, row.pnr)
        sheet.granted_all[customer] += minutes
        sheet.granted_by_category[(row.provider, row.pnr, row.tariff_id, row.category)] += minutes
        paying = [c for c in sheet.components(tariff, "granted_time") if c.category == row.category]
        if not paying:
            continue
        sheet.granted_total[customer] += minutes
        sheet.granted_lines[customer].add(row.line_id)
        hold = customer_months.hold_key(sheet, row.provider, row.pnr)
        for component in paying:
            line = sheet.draft(row.provider, tariff, component, row.pnr, row.zone, hold)
            line.minutes += minutes
            line.days.extend(row.days)
            line.trail["decisions"].add(row.decision_id)
            line.trail["decision_lines"].add(row.line_id)
