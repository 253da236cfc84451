"""The registry import's SQL (`service/usecases/registry_import.py`): an export's checked rows are
copied into per-connection staging tables as the body streams in, then checked against, compared
with and merged into the registry's tables in a few set-based statements. SQL only.

Staging tables are temporary, made once per connection and emptied at every commit (or rollback).
`ord` is a row's index in the batch; a line's `pos` its index in its decision's `lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import asyncpg
import msgspec

from service.store.registry import Choice, DecisionLine, Zone

STAGE = [
    """CREATE TEMP TABLE IF NOT EXISTS import_customer (
           ord int NOT NULL, pnr text NOT NULL, name text, named boolean NOT NULL, protected boolean,
           known boolean) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_zone (
           pnr text NOT NULL, valid_from date NOT NULL, zone text NOT NULL) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_choice (
           pnr text NOT NULL, valid_from date NOT NULL, valid_to date, provider_id text NOT NULL)
           ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_decision (
           ord int NOT NULL, id text NOT NULL, pnr text NOT NULL, decided_on date NOT NULL, known boolean)
           ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS import_line (
           ord int NOT NULL, pos int NOT NULL, id text NOT NULL, decision_id text NOT NULL,
           insats_code text NOT NULL, category text NOT NULL, minutes numeric NOT NULL,
           occasions numeric NOT NULL, per text NOT NULL, valid_from date NOT NULL, valid_to date)
           ON COMMIT DELETE ROWS""",
]

CUSTOMER = ("ord", "pnr", "name", "named", "protected")
ZONE = ("pnr", "valid_from", "zone")
CHOICE = ("pnr", "valid_from", "valid_to", "provider_id")
DECISION = ("ord", "id", "pnr", "decided_on")
LINE = ("ord", "pos", *DecisionLine.__struct_fields__)

CustomerRow = tuple[int, str, str | None, bool, bool | None]
ZoneRow = tuple[str, date, str]
ChoiceRow = tuple[str, date, date | None, str]
DecisionRow = tuple[int, str, str, date]
LineRow = tuple[int, int, str, str, str, str, Decimal, Decimal, str, date, date | None]


class Staged(msgspec.Struct):
    """Rows waiting to be copied into the staging tables."""

    customers: list[CustomerRow] = msgspec.field(default_factory=list)
    zones: list[ZoneRow] = msgspec.field(default_factory=list)
    choices: list[ChoiceRow] = msgspec.field(default_factory=list)
    decisions: list[DecisionRow] = msgspec.field(default_factory=list)
    lines: list[LineRow] = msgspec.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.customers) + len(self.decisions)


async def prepare(conn: asyncpg.Connection) -> None:
    for statement in STAGE:
        await conn.execute(statement)


async def stage(conn: asyncpg.Connection, rows: Staged) -> None:
    """Copy the waiting rows into the staging tables and forget them."""
    for table, columns, records in (
        ("import_customer", CUSTOMER, rows.customers),
        ("import_zone", ZONE, rows.zones),
        ("import_choice", CHOICE, rows.choices),
        ("import_decision", DECISION, rows.decisions),
        ("import_line", LINE, rows.lines),
    ):
        if records:
            await conn.copy_records_to_table(table, records=records, columns=columns)
            records.clear()


async def mark_known(conn: asyncpg.Connection, tenant: str) -> None:
    """Mark the staged customers and decisions already stored, and give the planner the staging
    tables' sizes and keys (autovacuum never analyzes a temporary table; without them it takes the
    tables for tiny and the comparisons below for nested loops): only the columns they join on."""
    await conn.execute(
        """UPDATE import_customer s SET known = EXISTS
               (SELECT 1 FROM customers c WHERE c.tenant_id = $1 AND c.pnr = s.pnr)""",
        tenant,
    )
    await conn.execute(
        """UPDATE import_decision s SET known = EXISTS
               (SELECT 1 FROM decisions d WHERE d.tenant_id = $1 AND d.id = s.id)""",
        tenant,
    )
    await conn.execute(
        """ANALYZE import_customer (pnr, known), import_zone (pnr), import_choice (pnr),
                   import_decision (id, known), import_line (id, decision_id)"""
    )


async def unknown_customers(conn: asyncpg.Connection, tenant: str) -> list[int]:
    """Rows of decisions whose customer is neither stored nor among the staged customers."""
    rows = await conn.fetch(
        """SELECT d.ord FROM import_decision d
           WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = $1 AND c.pnr = d.pnr)
             AND NOT EXISTS (SELECT 1 FROM import_customer s WHERE s.pnr = d.pnr)
           ORDER BY d.ord""",
        tenant,
    )
    return [r["ord"] for r in rows]


async def decisions_of_others(conn: asyncpg.Connection, tenant: str) -> list[tuple[int, str]]:
    """Rows (and ids) of decisions stored for another customer than the staged one."""
    rows = await conn.fetch(
        """SELECT s.ord, s.id FROM import_decision s
           JOIN decisions d ON d.tenant_id = $1 AND d.id = s.id
           WHERE d.pnr <> s.pnr ORDER BY s.ord""",
        tenant,
    )
    return [(r["ord"], r["id"]) for r in rows]


async def lines_of_others(conn: asyncpg.Connection, tenant: str) -> list[tuple[int, int, str]]:
    """(row, position, stored decision) of staged lines whose id another decision's line has."""
    rows = await conn.fetch(
        """SELECT s.ord, s.pos, l.decision_id FROM import_line s
           JOIN decision_lines l ON l.tenant_id = $1 AND l.id = s.id
           WHERE l.decision_id <> s.decision_id ORDER BY s.ord, s.pos""",
        tenant,
    )
    return [(r["ord"], r["pos"], r["decision_id"]) for r in rows]


async def new_customers(conn: asyncpg.Connection) -> int:
    """How many staged customers are not stored yet (after `mark_known`)."""
    return await conn.fetchval("SELECT count(*) FROM import_customer WHERE NOT known")


async def insert_new(conn: asyncpg.Connection, tenant: str, refs: Sequence[str]) -> int:
    """Store the staged customers and decisions not yet stored, with their zones, choices and
    lines, the customers with these refs in row order; how many decisions were new."""
    await conn.execute(
        """INSERT INTO customers (tenant_id, pnr, ref, name, protected)
           SELECT $1, s.pnr, r.ref, s.name, coalesce(s.protected, false)
           FROM (SELECT *, row_number() OVER (ORDER BY ord) AS n FROM import_customer WHERE NOT known) s
           JOIN unnest($2::text[]) WITH ORDINALITY AS r (ref, n) USING (n)
           ORDER BY s.ord""",
        tenant,
        list(refs),
    )
    await conn.execute(
        """INSERT INTO customer_zones (tenant_id, pnr, valid_from, zone)
           SELECT $1, z.pnr, z.valid_from, z.zone FROM import_zone z
           JOIN import_customer s ON s.pnr = z.pnr AND NOT s.known""",
        tenant,
    )
    await conn.execute(
        """INSERT INTO provider_choices (tenant_id, pnr, valid_from, valid_to, provider_id)
           SELECT $1, x.pnr, x.valid_from, x.valid_to, x.provider_id FROM import_choice x
           JOIN import_customer s ON s.pnr = x.pnr AND NOT s.known""",
        tenant,
    )
    decisions = await conn.fetchval(
        """WITH new AS (
               INSERT INTO decisions (tenant_id, id, pnr, decided_on)
               SELECT $1, id, pnr, decided_on FROM import_decision WHERE NOT known ORDER BY ord
               RETURNING 1)
           SELECT count(*) FROM new""",
        tenant,
    )
    fields = ", ".join(DecisionLine.__struct_fields__)
    await conn.execute(
        f"""INSERT INTO decision_lines (tenant_id, {fields})
            SELECT $1, {", ".join("l." + f for f in DecisionLine.__struct_fields__)} FROM import_line l
            JOIN import_decision d ON d.id = l.decision_id AND NOT d.known
            ORDER BY l.ord, l.pos""",
        tenant,
    )
    return decisions


class ChangedCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """A stored customer the export changes: what the export says (`named` false or `protected`
    None: keep the stored name or flag)."""

    pnr: str
    name: str | None
    named: bool
    protected: bool | None
    zones: list[Zone]
    choices: list[Choice]


# Known customers whose staged name, protection, zones or choices differ from the stored: a zone
# or choice on one side without its equal on the other (full joins on every column), in row order.
_CHANGED_CUSTOMERS = """
WITH k AS (SELECT ord, pnr, name, named, protected FROM import_customer WHERE known),
     z AS (SELECT coalesce(s.pnr, c.pnr) AS pnr
           FROM (SELECT z.* FROM import_zone z JOIN k USING (pnr)) s
           FULL JOIN (SELECT z.* FROM customer_zones z JOIN k USING (pnr) WHERE z.tenant_id = $1) c
             ON c.pnr = s.pnr AND c.valid_from = s.valid_from AND c.zone = s.zone
           WHERE s.pnr IS NULL OR c.pnr IS NULL),
     x AS (SELECT coalesce(s.pnr, c.pnr) AS pnr
           FROM (SELECT x.* FROM import_choice x JOIN k USING (pnr)) s
           FULL JOIN (SELECT x.* FROM provider_choices x JOIN k USING (pnr) WHERE x.tenant_id = $1) c
             ON c.pnr = s.pnr AND c.valid_from = s.valid_from AND c.provider_id = s.provider_id
                AND c.valid_to IS NOT DISTINCT FROM s.valid_to
           WHERE s.pnr IS NULL OR c.pnr IS NULL)
SELECT k.pnr FROM k JOIN customers c ON c.tenant_id = $1 AND c.pnr = k.pnr
WHERE k.named AND c.name IS DISTINCT FROM k.name OR c.protected <> coalesce(k.protected, c.protected)
   OR k.pnr IN (SELECT pnr FROM z) OR k.pnr IN (SELECT pnr FROM x)
ORDER BY k.ord"""


async def changed_customers(conn: asyncpg.Connection, tenant: str) -> list[ChangedCustomer]:
    """The stored customers whose staged name, protection, zones or choices differ, in row order."""
    pnrs = [r["pnr"] for r in await conn.fetch(_CHANGED_CUSTOMERS, tenant)]
    if not pnrs:
        return []
    rows = {
        r["pnr"]: r
        for r in await conn.fetch(
            "SELECT pnr, name, named, protected FROM import_customer WHERE pnr = ANY($1::text[])", pnrs
        )
    }
    zones: dict[str, list[Zone]] = {p: [] for p in pnrs}
    for r in await conn.fetch(
        """SELECT pnr, valid_from, zone FROM import_zone WHERE pnr = ANY($1::text[])
           ORDER BY pnr, valid_from""",
        pnrs,
    ):
        zones[r["pnr"]].append(Zone(valid_from=r["valid_from"], zone=r["zone"]))
    choices: dict[str, list[Choice]] = {p: [] for p in pnrs}
    for r in await conn.fetch(
        """SELECT pnr, valid_from, valid_to, provider_id FROM import_choice WHERE pnr = ANY($1::text[])
           ORDER BY pnr, valid_from""",
        pnrs,
    ):
        choices[r["pnr"]].append(
            Choice(valid_from=r["valid_from"], valid_to=r["valid_to"], provider_id=r["provider_id"])
        )
    return [
        ChangedCustomer(
            pnr=p,
            name=rows[p]["name"],
            named=rows[p]["named"],
            protected=rows[p]["protected"],
            zones=zones[p],
            choices=choices[p],
        )
        for p in pnrs
    ]


async def changed_decided(conn: asyncpg.Connection, tenant: str) -> list[tuple[str, date]]:
    """(id, staged date) of stored decisions whose decision date the export changes."""
    rows = await conn.fetch(
        """SELECT s.id, s.decided_on FROM import_decision s
           JOIN decisions d ON d.tenant_id = $1 AND d.id = s.id
           WHERE s.known AND d.decided_on <> s.decided_on ORDER BY s.ord""",
        tenant,
    )
    return [(r["id"], r["decided_on"]) for r in rows]


async def changed_lines(
    conn: asyncpg.Connection, tenant: str
) -> list[tuple[DecisionLine, DecisionLine | None]]:
    """(staged, stored or None) of the lines of stored decisions that are new or differ, in row
    and position order."""
    fields = DecisionLine.__struct_fields__
    staged = ", ".join(f"s.{f}" for f in fields)
    stored = ", ".join(f"l.{f} AS stored_{f}" for f in fields)
    differ = " OR ".join(f"l.{f} IS DISTINCT FROM s.{f}" for f in fields[2:])
    rows = await conn.fetch(
        f"""SELECT {staged}, l.id IS NOT NULL AS stored, {stored} FROM import_line s
            JOIN import_decision d ON d.id = s.decision_id AND d.known
            LEFT JOIN decision_lines l ON l.tenant_id = $1 AND l.id = s.id
            WHERE l.id IS NULL OR {differ}
            ORDER BY s.ord, s.pos""",
        tenant,
    )
    return [
        (
            DecisionLine(**{f: r[f] for f in fields}),
            DecisionLine(**{f: r[f"stored_{f}"] for f in fields}) if r["stored"] else None,
        )
        for r in rows
    ]


async def lock_tenant(conn: asyncpg.Connection, tenant: str) -> None:
    """Serialize registry imports per tenant until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('kundval.registry_import:' || $1, 0))", tenant
    )
