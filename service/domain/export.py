"""Exports for spreadsheets (a settlement's lines, reports): semicolon-separated, decimal comma,
UTF-8 with BOM.

The shape Swedish spreadsheet programs open without an import dialog: `;` between fields (`,` is the
decimal separator), CRLF line ends, and a byte-order mark so that å, ä and ö are read as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

BOM = "\ufeff"
HEADER = (
    "period",
    "provider",
    "kind",
    "component",
    "account",
    "area",
    "tariff",
    "customer",
    "zone",
    "unit",
    "quantity",
    "unit_price",
    "amount",
    "original_period",
)


def decimal_comma(value: Decimal | str | None) -> str:
    return "" if value is None else str(value).replace(".", ",")


def to_csv(rows: Iterable[Sequence[object]], header: Sequence[str] = HEADER) -> bytes:
    """Rows in the header's order (a settlement's lines by default); the caller writes numbers with
    `decimal_comma`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return (BOM + out.getvalue()).encode("utf-8")
