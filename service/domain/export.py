"""Settlement export for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM.

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


def to_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows in HEADER order; Decimal and quantity values are written with a decimal comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return (BOM + out.getvalue()).encode("utf-8")
