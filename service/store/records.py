"""Provider records' tables (domain.md section 3): executions, pauses, enrolments, delegations, and
the queries every table keyed by (tenant, provider, external id) shares (visits and claims use them
too). SQL only: the rules of use are in `service/usecases/records.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import asyncpg
import msgspec

from service.domain.lines import InvoiceLine
from service.store.runs import LINE_SELECT, read_lines

R = TypeVar("R", bound=msgspec.Struct)
Key = tuple[str, str | None, str]  # (tenant, provider, external id)


def select(table: str, columns: Iterable[str], *, customer: bool = True) -> str:
    """The SELECT of a provider's records (alias `x`), with their customer's ref and protection
    (None and False while the registry does not know the number, or without a customer), and
    whether the record's provider is or was chosen for the customer (`chosen`)."""
    listed = ", ".join(f"x.{c}" for c in columns)
    if not customer:
        return f"SELECT {listed}, NULL AS ref, false AS protected, false AS chosen FROM {table} x"
    return (
        f"SELECT {listed}, c.ref, coalesce(c.protected, false) AS protected, "
        "EXISTS (SELECT 1 FROM provider_choices p WHERE p.tenant_id = x.tenant_id AND p.pnr = x.pnr "
        "AND p.provider_id = x.provider_id) AS chosen "
        f"FROM {table} x LEFT JOIN customers c ON c.tenant_id = x.tenant_id AND c.pnr = x.pnr"
    )


async def fetch(
    conn: asyncpg.Connection, query: str, row: type[R], key: Key, *, lock: bool = False
) -> R | None:
    """The record with this key from `query` (a `select`)."""
    record = await conn.fetchrow(
        f"""{query} WHERE x.tenant_id = $1 AND x.provider_id = $2 AND x.external_id = $3
            {"FOR UPDATE OF x" if lock else ""}""",
        *key,
    )
    return None if record is None else row(**record)


async def fetch_page(
    conn: asyncpg.Connection,
    query: str,
    row: type[R],
    tenant: str,
    provider: str | None,
    after: tuple[str, str],
    limit: int,
    where: str = "",
    *arguments: Any,
) -> list[R]:
    """Records from `query` (a `select`) by (provider, external id) after `after`: one provider's,
    or with None every provider's; `where` adds conditions on `$6...` (the `arguments`)."""
    records = await conn.fetch(
        f"""{query} WHERE x.tenant_id = $1 AND ($2::text IS NULL OR x.provider_id = $2) {where}
              AND (x.provider_id, x.external_id) > ($3, $4)
            ORDER BY x.provider_id, x.external_id LIMIT $5""",
        tenant,
        provider,
        *after,
        limit,
        *arguments,
    )
    return [row(**r) for r in records]


def _insert(table: str, content: dict[str, Any]) -> str:
    placeholders = ", ".join(f"${i}" for i in range(4, len(content) + 4))
    return f"""INSERT INTO {table} (tenant_id, provider_id, external_id, {", ".join(content)})
               VALUES ($1, $2, $3, {placeholders}) ON CONFLICT DO NOTHING"""


async def insert(conn: asyncpg.Connection, table: str, key: Key, content: dict[str, Any]) -> bool:
    """Store a new record; False (and nothing stored) when its key exists."""
    return await conn.execute(_insert(table, content), *key, *content.values()) == "INSERT 0 1"


async def insert_read(
    conn: asyncpg.Connection,
    table: str,
    columns: Iterable[str],
    row: type[R],
    key: Key,
    content: dict[str, Any],
) -> R | None:
    """Store a new record and read it as `select(table, columns)` reads one, in one statement; None
    (and nothing stored) when its key exists."""
    record = await conn.fetchrow(
        f"WITH stored AS ({_insert(table, content)} RETURNING *) {select('stored', columns)}",
        *key,
        *content.values(),
    )
    return None if record is None else row(**record)


# The SQL type of a content column where it is not text (for arrays of a column's values).
_TYPES = {
    "valid_from": "date",
    "valid_to": "date",
    "claim_date": "date",
    "requested_amount": "numeric",
    "content_hash": "bytea",
}


async def insert_many(
    conn: asyncpg.Connection,
    table: str,
    tenant: str,
    provider: str | None,
    ids: list[str],
    columns: dict[str, list[Any]],
) -> set[str]:
    """Store new records of one provider in one statement (`columns`: each content column's values,
    in the order of `ids`); the ids stored, those whose key exists are left as they are."""
    names = ", ".join(columns)
    arrays = ", ".join(f"${i}::{_TYPES.get(c, 'text')}[]" for i, c in enumerate(columns, start=4))
    rows = await conn.fetch(
        f"""INSERT INTO {table} (tenant_id, provider_id, external_id, {names})
            SELECT $1, $2, * FROM unnest($3::text[], {arrays})
            ON CONFLICT DO NOTHING RETURNING external_id""",
        tenant,
        provider,
        ids,
        *columns.values(),
    )
    return {r["external_id"] for r in rows}


async def fetch_many(
    conn: asyncpg.Connection, query: str, row: type[R], tenant: str, provider: str | None, ids: list[str]
) -> dict[str, R]:
    """The records with these external ids of one provider from `query` (a `select`), by id."""
    records = await conn.fetch(
        f"{query} WHERE x.tenant_id = $1 AND x.provider_id = $2 AND x.external_id = ANY($3::text[])",
        tenant,
        provider,
        ids,
    )
    return {r["external_id"]: row(**r) for r in records}


async def update(conn: asyncpg.Connection, table: str, key: Key, content: dict[str, Any]) -> None:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(content, start=4))
    await conn.execute(
        f"""UPDATE {table} SET {sets}, changed_seq = nextval('input_change_seq')
            WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
        *key,
        *content.values(),
    )


# Executions, pauses, enrolments, delegations -----------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # the content columns

    @property
    def query(self) -> str:
        return select(
            self.name, ("provider_id", "external_id", *self.columns), customer="pnr" in self.columns
        )


EXECUTIONS = Table("executions", ("decision_id", "valid_from", "valid_to"))
PAUSES = Table("pauses", ("pnr", "reason", "valid_from", "valid_to"))
ENROLMENTS = Table("enrolments", ("pnr", "area", "valid_from", "valid_to", "remiss"))
DELEGATIONS = Table("delegations", ("pnr", "insats_code", "valid_from", "valid_to"))


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """A stored provider record: its key, its table's content columns (the others stay None), and
    its customer's ref, protection, and whether its provider is or was chosen for the customer."""

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
    chosen: bool = False


async def record(conn: asyncpg.Connection, table: Table, key: Key, *, lock: bool = False) -> Record | None:
    return await fetch(conn, table.query, Record, key, lock=lock)


async def records_by_id(
    conn: asyncpg.Connection, table: Table, tenant: str, provider: str | None, ids: list[str]
) -> dict[str, Record]:
    return await fetch_many(conn, table.query, Record, tenant, provider, ids)


async def records(
    conn: asyncpg.Connection,
    table: Table,
    tenant: str,
    provider: str | None,
    after: tuple[str, str],
    limit: int,
) -> list[Record]:
    return await fetch_page(conn, table.query, Record, tenant, provider, after, limit)


# A customer's records and lines of a period (the workplace's screen 5) ------------------------------


async def customer_records(
    conn: asyncpg.Connection, table: Table, tenant: str, pnr: str, first: date, last: date
) -> list[Record]:
    """Every provider's records of one customer valid on a day of [first, last] (by the table's
    customer index), by provider and id."""
    rows = await conn.fetch(
        f"""{table.query} WHERE x.tenant_id = $1 AND x.pnr = $2 AND x.valid_from <= $4
              AND (x.valid_to IS NULL OR x.valid_to >= $3)
            ORDER BY x.provider_id, x.external_id""",
        tenant,
        pnr,
        first,
        last,
    )
    return [Record(**r) for r in rows]


async def customer_lines(conn: asyncpg.Connection, tenant: str, pnr: str, period: str) -> list[InvoiceLine]:
    """One customer's lines (paid, held, reductions, adjustments) in the period's current real run of
    each provider, by provider and order: an index probe per provider's run (run_lines_customer,
    sql/migrations/0017), not a read of the month's lines."""
    rows = await conn.fetch(
        f"""SELECT {LINE_SELECT} FROM current_runs c
            JOIN run_lines rl ON rl.tenant_id = c.tenant_id AND rl.pnr = $3 AND rl.run_id = c.run_id
                             AND rl.provider_id = c.provider_id
            WHERE c.tenant_id = $1 AND c.period = $2
            ORDER BY rl.provider_id, rl.ord""",
        tenant,
        period,
        pnr,
    )
    return await read_lines(conn, tenant, rows)


async def latest_line_period(conn: asyncpg.Connection, tenant: str, pnr: str) -> str | None:
    """The last period in which a real run has lines of the customer (None: none has)."""
    return await conn.fetchval(
        """SELECT max(r.period) FROM run_lines rl
           JOIN runs r ON r.tenant_id = rl.tenant_id AND r.id = rl.run_id AND r.kind = 'real'
           WHERE rl.tenant_id = $1 AND rl.pnr = $2""",
        tenant,
        pnr,
    )
