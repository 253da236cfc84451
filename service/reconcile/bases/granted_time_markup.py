"""granted_time_markup (domain.md 5 and 6b "Markup"): granted omsorg minutes on the days billable for
granted time on which the customer has a delegation of a listed code from the same provider.

The days come from SQL (sql/reconcile/granted.sql, `markup`); held like granted time.
"""

from __future__ import annotations

from service.reconcile import customer_months
from service.reconcile.sheet import Sheet


def price(sheet: Sheet) -> None:
    for (tariff_id, component_id), rows in sheet.inputs.markup.items():
        tariff = sheet.tariffs[tariff_id]
        component = tariff.component(component_id)
        for row in rows:
            hold = customer_months.hold_key(sheet, row.provider, row.pnr)
            line = sheet.draft(row.provider, tariff, component, row.pnr, row.zone, hold)
            line.minutes += sheet.granted_minutes(row.minutes, row.occasions, row.per, row.days)
            line.days.extend(row.days)
            line.trail["decisions"].add(row.decision_id)
            line.trail["decision_lines"].add(row.line_id)
            line.trail["delegations"].update(row.delegation_ids)
