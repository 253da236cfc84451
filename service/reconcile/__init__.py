"""The reconciliation engine: PostgreSQL aggregates the inputs per day, customer, zone and component
(sql/reconcile/, inputs.py), Python prices the aggregated rows exactly, one module per basis
(bases/), then the customer-month checks, holds and caps (pricing.py), and corrects settled periods
(adjustments.py). It returns an Outcome of invoice lines (service/domain/outcome.py, lines.py)."""
