"""kundval: invoicing and reconciliation for a municipal customer-choice system."""

__version__ = "0.1.0"
