"""The settled document (domain.md 7): what a settlement freezes, as canonical JSON with its SHA-256.

The document is built from the settled run's lines once, at attestation, and stored as hashed; it
can be built again from the same lines at any time (a migration must leave every hash unchanged).
Canonical JSON: sorted keys, no insignificant whitespace, amounts (Decimal) as strings; unmasked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import msgspec

from service.domain.lines import PAID_KINDS, InvoiceLine, exact_text, show_quantity
from service.domain.tariff import Component


class Settled(Protocol):
    """The facts of an attested settlement the document records (the store's settlement row)."""

    provider_id: str
    period: str
    run_id: UUID
    tariffs: list[str]
    totals: dict[str, Decimal]
    totals_by_area: dict[str, Decimal]
    accounts: dict[str, Decimal]
    total: Decimal
    prepared_by: str
    attested_by: str | None
    attested_at: datetime | None
    audit_seq: int | None
    audit_hash: str | None


def canonical(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, amounts (Decimal) as strings."""
    return msgspec.json.encode(value, order="sorted")


def digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


def document_line(line: InvoiceLine, account: str) -> dict[str, Any]:
    """A paid line (line, reduction or adjustment) as the document records it."""
    quantity = line.quantity
    return {
        "kind": line.kind,
        "component": line.component,
        "account": account,
        "area": line.area,
        "basis": line.basis,
        "rule": line.rule,
        "tariff": line.tariff_id,
        "customer": line.pnr,
        "zone": line.zone,
        "unit": line.unit,
        "quantity": show_quantity(quantity, line.unit or "") if quantity is not None else None,
        "quantity_exact": exact_text(quantity) if quantity is not None else None,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "sources": line.sources,
        "original_period": line.original_period,
    }


def document(
    tenant: str,
    settled: Settled,
    lines: list[InvoiceLine],
    components: Mapping[tuple[str, str], Component],
) -> dict[str, Any]:
    """The settled provider-period from the run's lines of the provider (paid and held, in run
    order), as it reads back from jsonb: what is hashed is what is stored. A settled line has its
    frozen booking account; a line being settled takes its component's."""
    assert settled.attested_at is not None
    doc = {
        "tenant": tenant,
        "provider": settled.provider_id,
        "period": settled.period,
        "run": str(settled.run_id),
        "tariffs": settled.tariffs,
        "lines": [
            document_line(x, x.account or components[(x.tariff_id, x.component)].account)
            for x in lines
            if x.kind in PAID_KINDS
        ],
        "held": [
            {
                "component": x.component,
                "customer": x.pnr,
                "zone": x.zone,
                "held_by": x.held_by,
                "amount_if_approved": x.amount,
            }
            for x in lines
            if x.kind == "held"
        ],
        "totals": settled.totals,
        "totals_by_area": settled.totals_by_area,
        "accounts": settled.accounts,
        "total": settled.total,
        "prepared_by": settled.prepared_by,
        "attested_by": settled.attested_by,
        "attested_at": settled.attested_at.isoformat(),
        "audit_head": {"seq": settled.audit_seq, "hash": settled.audit_hash},
    }
    return msgspec.json.decode(canonical(doc))
