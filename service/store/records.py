"""Provider records' tables (domain.md section 3): executions, pauses, enrolments and delegations.
SQL only: the rules of use are in `service/usecases/records.py`.

One set of queries serves the four tables: each record is keyed by (tenant, provider, external id)
and has the content columns its `Table` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import msgspec


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # the content columns


EXECUTIONS = Table("executions", ("decision_id", "valid_from", "valid_to"))
PAUSES = Table("pauses", ("pnr", "reason", "valid_from", "valid_to"))
ENROLMENTS = Table("enrolments", ("pnr", "area", "valid_from", "valid_to", "remiss"))
DELEGATIONS = Table("delegations", ("pnr", "insats_code", "valid_from", "valid_to"))


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """A stored provider record: its key, its table's content columns (the others stay None), and
    its customer's ref and protection (None and False while the registry does not know the number,
    and for executions, which have no customer)."""

    provider_id: str
    external_id: str
    valid_from: date
    valid_to: date | None
    decision_id: str | None = None
    pnr: str | None = None
    reason: str | None = None
    area: str | None = None
    remiss: str | None = None
    insats_code: str | None = None
    ref: str | None = None
    protected: bool = False


def _select(table: Table) -> str:
    columns = ", ".join(f"x.{c}" for c in ("provider_id", "external_id", *table.columns))
    if "pnr" not in table.columns:
        return f"SELECT {columns} FROM {table.name} x"
    return (
        f"SELECT {columns}, c.ref, coalesce(c.protected, false) AS protected FROM {table.name} x "
        "LEFT JOIN customers c ON c.tenant_id = x.tenant_id AND c.pnr = x.pnr"
    )


async def record(
    conn: asyncpg.Connection,
    table: Table,
    tenant: str,
    provider: str,
    external_id: str,
    *,
    lock: bool = False,
) -> Record | None:
    row = await conn.fetchrow(
        f"""{_select(table)} WHERE x.tenant_id = $1 AND x.provider_id = $2 AND x.external_id = $3
            {"FOR UPDATE OF x" if lock else ""}""",
        tenant,
        provider,
        external_id,
    )
    return None if row is None else Record(**row)


async def insert(
    conn: asyncpg.Connection,
    table: Table,
    tenant: str,
    provider: str,
    external_id: str,
    content: dict[str, Any],
) -> bool:
    """Store a new record; False (and nothing stored) when the external id exists."""
    placeholders = ", ".join(f"${i}" for i in range(4, len(content) + 4))
    status = await conn.execute(
        f"""INSERT INTO {table.name} (tenant_id, provider_id, external_id, {", ".join(content)})
            VALUES ($1, $2, $3, {placeholders}) ON CONFLICT DO NOTHING""",
        tenant,
        provider,
        external_id,
        *content.values(),
    )
    return status == "INSERT 0 1"


async def update(
    conn: asyncpg.Connection,
    table: Table,
    tenant: str,
    provider: str,
    external_id: str,
    content: dict[str, Any],
) -> None:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(content, start=4))
    await conn.execute(
        f"""UPDATE {table.name} SET {sets}, changed_seq = nextval('input_change_seq')
            WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
        tenant,
        provider,
        external_id,
        *content.values(),
    )


async def records(
    conn: asyncpg.Connection,
    table: Table,
    tenant: str,
    provider: str | None,
    after: tuple[str, str],
    limit: int,
) -> list[Record]:
    """By (provider, external id) after `after`; one provider's, or with None every provider's."""
    rows = await conn.fetch(
        f"""{_select(table)} WHERE x.tenant_id = $1 AND ($2::text IS NULL OR x.provider_id = $2)
              AND (x.provider_id, x.external_id) > ($3, $4)
            ORDER BY x.provider_id, x.external_id LIMIT $5""",
        tenant,
        provider,
        *after,
        limit,
    )
    return [Record(**r) for r in rows]
