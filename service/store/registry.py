"""The registry's tables (domain.md section 3): providers, the insats catalogue, customers with their
zones and provider choices, decisions with their lines. SQL only: the rules of use are in
`service/usecases/registry.py`.

Row Structs carry the column names; `*_seq` columns move with every change, so that "has anything
changed since the run" stays one comparison for the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import msgspec

R = TypeVar("R", bound=msgspec.Struct)


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    orgnr: str
    name: str


class Insats(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    title: str
    category: str | None
    report_type: str


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    pnr: str
    ref: str
    name: str | None
    protected: bool


class Zone(msgspec.Struct, frozen=True, kw_only=True):
    valid_from: date
    zone: str


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    valid_from: date
    valid_to: date | None
    provider_id: str


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    pnr: str
    decided_on: date
    ref: str  # the customer's
    protected: bool  # the customer's


class DecisionLine(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    decision_id: str
    insats_code: str
    category: str
    minutes: Decimal
    occasions: Decimal
    per: str
    valid_from: date
    valid_to: date | None


def columns(row: type[msgspec.Struct], alias: str = "") -> str:
    """The SELECT list of a row Struct: its fields are the columns' names."""
    return ", ".join(alias + name for name in row.__struct_fields__)


def every(row: type[R], records: Iterable[asyncpg.Record]) -> list[R]:
    return [row(**r) for r in records]


async def _one(
    conn: asyncpg.Connection, row: type[R], table: str, column: str, tenant: str, value: Any, lock: bool
) -> R | None:
    record = await conn.fetchrow(
        f"""SELECT {columns(row)} FROM {table} WHERE tenant_id = $1 AND {column} = $2
            {"FOR UPDATE" if lock else ""}""",
        tenant,
        value,
    )
    return None if record is None else row(**record)


async def _page(
    conn: asyncpg.Connection, row: type[R], table: str, column: str, tenant: str, after: str, limit: int
) -> list[R]:
    """Rows by `column` after `after`."""
    return every(
        row,
        await conn.fetch(
            f"""SELECT {columns(row)} FROM {table} WHERE tenant_id = $1 AND {column} > $2
                ORDER BY {column} LIMIT $3""",
            tenant,
            after,
            limit,
        ),
    )


async def _insert(
    conn: asyncpg.Connection, table: str, tenant: str, row: msgspec.Struct, unless: str = ""
) -> bool:
    """Store a row; with `unless` "ON CONFLICT DO NOTHING", False (and nothing stored) on a conflict."""
    values = msgspec.structs.astuple(row)
    placeholders = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    status = await conn.execute(
        f"INSERT INTO {table} (tenant_id, {columns(type(row))}) VALUES ($1, {placeholders}) {unless}",
        tenant,
        *values,
    )
    return status == "INSERT 0 1"


async def _update(
    conn: asyncpg.Connection,
    table: str,
    tenant: str,
    key: str,
    row: msgspec.Struct,
    sets: tuple[str, ...],
    also: str,
) -> None:
    """Set the `sets` columns of the row with this `key` column, and what `also` says."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(sets, start=3))
    await conn.execute(
        f"UPDATE {table} SET {assignments}, {also} WHERE tenant_id = $1 AND {key} = $2",
        tenant,
        getattr(row, key),
        *(getattr(row, c) for c in sets),
    )


_CHANGED = "changed_seq = nextval('input_change_seq')"

# Providers ---------------------------------------------------------------------------------------


async def provider(
    conn: asyncpg.Connection, tenant: str, provider_id: str, *, lock: bool = False
) -> Provider | None:
    return await _one(conn, Provider, "providers", "id", tenant, provider_id, lock)


async def orgnr_holder(conn: asyncpg.Connection, tenant: str, orgnr: str, other_than: str) -> str | None:
    """The provider other than `other_than` registered with this organisationsnummer, if any."""
    return await conn.fetchval(
        "SELECT id FROM providers WHERE tenant_id = $1 AND orgnr = $2 AND id <> $3", tenant, orgnr, other_than
    )


async def insert_provider(conn: asyncpg.Connection, tenant: str, row: Provider) -> None:
    await _insert(conn, "providers", tenant, row)


async def update_provider(conn: asyncpg.Connection, tenant: str, row: Provider) -> None:
    await _update(conn, "providers", tenant, "id", row, ("orgnr", "name"), "updated_at = now()")


async def providers(conn: asyncpg.Connection, tenant: str, after: str, limit: int) -> list[Provider]:
    return await _page(conn, Provider, "providers", "id", tenant, after, limit)


async def provider_ids(conn: asyncpg.Connection, tenant: str) -> set[str]:
    return {r["id"] for r in await conn.fetch("SELECT id FROM providers WHERE tenant_id = $1", tenant)}


async def known_providers(conn: asyncpg.Connection, tenant: str, ids: Iterable[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT id FROM providers WHERE tenant_id = $1 AND id = ANY($2::text[])", tenant, list(ids)
    )
    return {r["id"] for r in rows}


# The insats catalogue ----------------------------------------------------------------------------


async def insats(conn: asyncpg.Connection, tenant: str, code: str, *, lock: bool = False) -> Insats | None:
    return await _one(conn, Insats, "insatser", "code", tenant, code, lock)


async def insert_insats(conn: asyncpg.Connection, tenant: str, row: Insats) -> bool:
    """Store a new insats; False (and nothing stored) when the code exists."""
    return await _insert(conn, "insatser", tenant, row, "ON CONFLICT DO NOTHING")


async def update_insats(conn: asyncpg.Connection, tenant: str, row: Insats) -> None:
    await _update(conn, "insatser", tenant, "code", row, ("title", "category", "report_type"), _CHANGED)


async def insatser(conn: asyncpg.Connection, tenant: str, after: str, limit: int) -> list[Insats]:
    return await _page(conn, Insats, "insatser", "code", tenant, after, limit)


async def catalogue(conn: asyncpg.Connection, tenant: str) -> dict[str, Insats]:
    rows = await conn.fetch(f"SELECT {columns(Insats)} FROM insatser WHERE tenant_id = $1", tenant)
    return {r["code"]: Insats(**r) for r in rows}


# Customers ---------------------------------------------------------------------------------------


async def customer(conn: asyncpg.Connection, tenant: str, ref: str, *, lock: bool = False) -> Customer | None:
    return await _one(conn, Customer, "customers", "ref", tenant, ref, lock)


async def customer_by_pnr(conn: asyncpg.Connection, tenant: str, pnr: str) -> Customer | None:
    return await _one(conn, Customer, "customers", "pnr", tenant, pnr, False)


async def customers_by_pnr(conn: asyncpg.Connection, tenant: str, pnrs: Sequence[str]) -> dict[str, Customer]:
    rows = await conn.fetch(
        f"SELECT {columns(Customer)} FROM customers WHERE tenant_id = $1 AND pnr = ANY($2::text[])",
        tenant,
        list(pnrs),
    )
    return {r["pnr"]: Customer(**r) for r in rows}


async def insert_customer(conn: asyncpg.Connection, tenant: str, row: Customer) -> bool:
    """Store a new customer; False (and nothing stored) when the number is registered."""
    return await _insert(conn, "customers", tenant, row, "ON CONFLICT DO NOTHING")


async def update_customer(conn: asyncpg.Connection, tenant: str, row: Customer) -> None:
    await _update(
        conn, "customers", tenant, "ref", row, ("name", "protected"), f"updated_at = now(), {_CHANGED}"
    )


async def history(conn: asyncpg.Connection, tenant: str, pnr: str) -> tuple[list[Zone], list[Choice]]:
    """A customer's zones and provider choices, each by `valid_from`."""
    zones = await conn.fetch(
        f"""SELECT {columns(Zone)} FROM customer_zones WHERE tenant_id = $1 AND pnr = $2
            ORDER BY valid_from""",
        tenant,
        pnr,
    )
    choices = await conn.fetch(
        f"""SELECT {columns(Choice)} FROM provider_choices WHERE tenant_id = $1 AND pnr = $2
            ORDER BY valid_from""",
        tenant,
        pnr,
    )
    return every(Zone, zones), every(Choice, choices)


async def histories(
    conn: asyncpg.Connection, tenant: str, pnrs: Sequence[str]
) -> dict[str, tuple[list[Zone], list[Choice]]]:
    """`history` of many customers in two statements."""
    found: dict[str, tuple[list[Zone], list[Choice]]] = {p: ([], []) for p in pnrs}
    for table, row, at in (("customer_zones", Zone, 0), ("provider_choices", Choice, 1)):
        for r in await conn.fetch(
            f"""SELECT pnr, {columns(row)} FROM {table} WHERE tenant_id = $1 AND pnr = ANY($2::text[])
                ORDER BY pnr, valid_from""",
            tenant,
            list(pnrs),
        ):
            fields = dict(r)
            found[fields.pop("pnr")][at].append(row(**fields))  # type: ignore[attr-defined]
    return found


async def write_history(
    conn: asyncpg.Connection,
    tenant: str,
    pnr: str,
    zones: Sequence[Zone] | None,
    choices: Sequence[Choice] | None,
) -> None:
    """Replace a customer's zones and/or choices whole (None: leave them)."""
    if zones is not None:
        await conn.execute("DELETE FROM customer_zones WHERE tenant_id = $1 AND pnr = $2", tenant, pnr)
        await conn.executemany(
            "INSERT INTO customer_zones (tenant_id, pnr, valid_from, zone) VALUES ($1, $2, $3, $4)",
            [(tenant, pnr, z.valid_from, z.zone) for z in zones],
        )
    if choices is not None:
        await conn.execute("DELETE FROM provider_choices WHERE tenant_id = $1 AND pnr = $2", tenant, pnr)
        await conn.executemany(
            """INSERT INTO provider_choices (tenant_id, pnr, valid_from, valid_to, provider_id)
               VALUES ($1, $2, $3, $4, $5)""",
            [(tenant, pnr, c.valid_from, c.valid_to, c.provider_id) for c in choices],
        )


async def touch_customer(conn: asyncpg.Connection, tenant: str, pnr: str) -> None:
    # Zones and choices may be replaced (rows deleted): a new changed_seq on the customer keeps
    # "has anything changed since" a single comparison for the engine.
    await conn.execute(
        """UPDATE customers SET changed_seq = nextval('input_change_seq'), updated_at = now()
           WHERE tenant_id = $1 AND pnr = $2""",
        tenant,
        pnr,
    )


async def customers(
    conn: asyncpg.Connection, tenant: str, after: str, limit: int, served_by: str | None
) -> list[Customer]:
    """Customers by ref; with `served_by`, only those the provider is or was chosen for."""
    return every(
        Customer,
        await conn.fetch(
            f"""SELECT {columns(Customer)} FROM customers c
                WHERE tenant_id = $1 AND ref > $2
                  AND ($3::text IS NULL
                       OR EXISTS (SELECT 1 FROM provider_choices p
                                  WHERE p.tenant_id = c.tenant_id AND p.pnr = c.pnr AND p.provider_id = $3))
                ORDER BY ref LIMIT $4""",
            tenant,
            after,
            served_by,
            limit,
        ),
    )


async def is_providers_customer(conn: asyncpg.Connection, tenant: str, provider_id: str, pnr: str) -> bool:
    """Whether the provider is or was the customer's chosen provider (by a provider choice)."""
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM provider_choices
                          WHERE tenant_id = $1 AND pnr = $2 AND provider_id = $3)""",
        tenant,
        pnr,
        provider_id,
    )


async def executable_decisions(
    conn: asyncpg.Connection, tenant: str, decision_ids: Sequence[str], provider_id: str | None
) -> set[str]:
    """The decisions among these that exist and whose customer is or was the provider's by a
    provider choice."""
    rows = await conn.fetch(
        """SELECT d.id FROM decisions d
           WHERE d.tenant_id = $1 AND d.id = ANY($2::text[])
             AND EXISTS (SELECT 1 FROM provider_choices p
                         WHERE p.tenant_id = d.tenant_id AND p.pnr = d.pnr AND p.provider_id = $3)""",
        tenant,
        list(decision_ids),
        provider_id,
    )
    return {r["id"] for r in rows}


async def chosen_providers(
    conn: asyncpg.Connection, tenant: str, asked: Sequence[tuple[str, date]]
) -> list[str | None]:
    """Each customer's chosen provider on the day, in the order asked: the latest choice from on or
    before the day, unless that choice ended before it (a choice without `to` lasts until the next
    one); None without one."""
    rows = await conn.fetch(
        """SELECT (SELECT CASE WHEN p.valid_to IS NULL OR p.valid_to >= q.day THEN p.provider_id END
                   FROM provider_choices p
                   WHERE p.tenant_id = $1 AND p.pnr = q.pnr AND p.valid_from <= q.day
                   ORDER BY p.valid_from DESC LIMIT 1) AS provider_id
           FROM unnest($2::text[], $3::date[]) WITH ORDINALITY AS q (pnr, day, n) ORDER BY q.n""",
        tenant,
        [pnr for pnr, _ in asked],
        [day for _, day in asked],
    )
    return [r["provider_id"] for r in rows]


# Decisions ---------------------------------------------------------------------------------------

_DECISION = """SELECT d.id, d.pnr, d.decided_on, c.ref, c.protected FROM decisions d
               JOIN customers c ON c.tenant_id = d.tenant_id AND c.pnr = d.pnr"""


async def decision(
    conn: asyncpg.Connection, tenant: str, decision_id: str, *, lock: bool = False
) -> Decision | None:
    record = await conn.fetchrow(
        f"{_DECISION} WHERE d.tenant_id = $1 AND d.id = $2 {'FOR UPDATE OF d' if lock else ''}",
        tenant,
        decision_id,
    )
    return None if record is None else Decision(**record)


async def decisions(
    conn: asyncpg.Connection, tenant: str, after: str, limit: int, customer_ref: str | None
) -> list[Decision]:
    return every(
        Decision,
        await conn.fetch(
            f"""{_DECISION} WHERE d.tenant_id = $1 AND d.id > $2 AND ($3::text IS NULL OR c.ref = $3)
                ORDER BY d.id LIMIT $4""",
            tenant,
            after,
            customer_ref,
            limit,
        ),
    )


async def decisions_by_id(conn: asyncpg.Connection, tenant: str, ids: Sequence[str]) -> dict[str, Decision]:
    rows = await conn.fetch(
        f"{_DECISION} WHERE d.tenant_id = $1 AND d.id = ANY($2::text[])", tenant, list(ids)
    )
    return {r["id"]: Decision(**r) for r in rows}


async def insert_decision(
    conn: asyncpg.Connection, tenant: str, decision_id: str, pnr: str, decided: date
) -> bool:
    """Store a new decision (without lines); False (and nothing stored) when the id exists."""
    status = await conn.execute(
        """INSERT INTO decisions (tenant_id, id, pnr, decided_on) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        tenant,
        decision_id,
        pnr,
        decided,
    )
    return status == "INSERT 0 1"


async def update_decision(conn: asyncpg.Connection, tenant: str, row: Decision) -> None:
    await _update(conn, "decisions", tenant, "id", row, ("decided_on",), _CHANGED)


async def decision_lines(
    conn: asyncpg.Connection, tenant: str, *, decisions: Sequence[str] = (), ids: Sequence[str] = ()
) -> list[DecisionLine]:
    """The lines of these decisions and the lines with these ids, by decision and id."""
    return every(
        DecisionLine,
        await conn.fetch(
            f"""SELECT {columns(DecisionLine)} FROM decision_lines
                WHERE tenant_id = $1 AND (decision_id = ANY($2::text[]) OR id = ANY($3::text[]))
                ORDER BY decision_id, id""",
            tenant,
            list(decisions),
            list(ids),
        ),
    )


async def decision_line(
    conn: asyncpg.Connection, tenant: str, line_id: str, *, lock: bool = False
) -> DecisionLine | None:
    return await _one(conn, DecisionLine, "decision_lines", "id", tenant, line_id, lock)


async def insert_lines(conn: asyncpg.Connection, tenant: str, lines: Sequence[DecisionLine]) -> None:
    fields = DecisionLine.__struct_fields__
    placeholders = ", ".join(f"${i}" for i in range(2, len(fields) + 2))
    await conn.executemany(
        f"INSERT INTO decision_lines (tenant_id, {columns(DecisionLine)}) VALUES ($1, {placeholders})",
        [(tenant, *msgspec.structs.astuple(line)) for line in lines],
    )


async def update_line(conn: asyncpg.Connection, tenant: str, line: DecisionLine) -> None:
    """Set every column of the line but its id and decision."""
    await _update(conn, "decision_lines", tenant, "id", line, DecisionLine.__struct_fields__[2:], _CHANGED)
