"""The reconciliation engine: PostgreSQL aggregates the inputs per day, customer, zone and component
(sql/reconcile/), Python prices the aggregated rows exactly and applies decisions and caps
(pricing.py), and one builder turns a stored run into the result document (document.py)."""
