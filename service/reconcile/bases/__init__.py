"""Pricing per basis (domain.md 5): one module for each basis a tariff component may have.

  granted_time          granted_time.py         decided minutes on billable days
  granted_time_markup   granted_time_markup.py  granted omsorg minutes on days with a listed delegation
  performed_time        performed_time.py       performed visit minutes } the visits both pay and
  visit_count           visit_count.py          performed visits        } their checks: visits.py
  enrolled_month        enrolled_month.py       enrolled days over the days of the month
  claim                 claim.py                approved claims, and the claim limits

Each `price(sheet)` reads its rows of the run's inputs and adds to the sheet's draft lines and
findings (service/reconcile/sheet.py); the caps come after, on the rounded lines (../caps.py).
"""
