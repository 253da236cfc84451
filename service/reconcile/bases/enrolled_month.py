"""enrolled_month (domain.md 5 and 6b "Listing"): the enrolled days inside the period on which the
provider is the customer's chosen provider, over the days of the month, zone per day.

The days come from SQL (sql/reconcile/listing.sql). A line whose enrolment lacks a remiss the
component requires is held by NO_REMISS; enrolled days on which the provider is not chosen earn
nothing and raise the hard NOT_CHOSEN_PROVIDER on the enrolment.
"""

from __future__ import annotations

from service.domain import discrepancies as d
from service.domain.periods import count_days, show_ranges
from service.reconcile.sheet import Sheet, on_record


def price(sheet: Sheet) -> None:
    for row in sheet.inputs.listed:
        tariff = sheet.tariffs[row.tariff_id]
        for component in sheet.components(tariff, "enrolled_month"):
            if component.enrolment != row.area:
                continue
            hold = None
            if component.requires_remiss and row.remiss is None:
                missing = on_record("NO_REMISS", row, {"area": row.area})
                hold = sheet.keep(missing).key
            line = sheet.draft(row.provider, tariff, component, row.pnr, row.zone, hold)
            line.enrolled_days += count_days(row.days)
            line.days.extend(row.days)
            line.trail["enrolments"].add(row.id)
    for row in sheet.inputs.unlisted:
        days = show_ranges(row.days)
        sheet.keep(
            on_record(
                "NOT_CHOSEN_PROVIDER",
                row,
                {"provider": row.provider, "days": days},
                {"days": days},
                kind=d.severity_of("NOT_CHOSEN_PROVIDER", on_enrolment=True),
            )
        )
