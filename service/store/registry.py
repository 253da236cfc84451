"""The registry (domain.md section 3): providers, the insats catalogue, customers with their zones and
provider choices, decisions with their lines. Written by role `registry`; every write is audited here.

Conventions shared by every ingestion store (also records, visits, claims):
- A create is idempotent: the same id with the same content answers the stored record again
  (`created` False); with other content it is a 409, and a correction goes through its own route.
- Semantic checks collect every problem before answering 422 (`Checks`).
- Who may see a personnummer is decided in one place, `shown_pnr`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from schemas import registry as s
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.identity import InvalidIdentity, parse_organisationsnummer, parse_personnummer
from service.domain.principal import Principal
from service.domain.visibility import shown_pnr
from service.store import audit


class Checks:
    """Collects field problems of one request; `done()` raises them together as a 422."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def pnr(self, text: str | None, field: str = "customer") -> str:
        """The canonical 12-digit number; a malformed one is recorded (and "" returned)."""
        if text is None:
            self.add(field, "a personnummer or samordningsnummer is required")
            return ""
        try:
            return parse_personnummer(text).number
        except InvalidIdentity as err:
            self.add(field, str(err))
            return ""

    def span(self, start: date, end: date | None, field: str = "to") -> None:
        if end is not None and end < start:
            self.add(field, "must not be before `from` (both are inclusive)")

    def positive(self, value: Decimal, field: str) -> None:
        if not value.is_finite() or value <= 0:
            self.add(field, "must be a positive number")

    def own_provider(self, given: str | None, who: Principal) -> None:
        # The provider is the API key's; a body naming another one is refused, never trusted.
        if given is not None and given != who.provider_id:
            self.add("provider", "must be absent or the API key's own provider id")

    def done(self) -> None:
        if self.errors:
            raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in self.errors), errors=self.errors)


def page(items: Sequence[Any], limit: int, cursor: Any) -> tuple[list[Any], Any]:
    """Keyset paging: fetch limit+1 rows; the cursor of the last shown row when there are more."""
    shown = list(items[:limit])
    return shown, (cursor(shown[-1]) if len(items) > limit else None)


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": field, "message": message}])


# Providers ---------------------------------------------------------------------------------------


def _provider(row: asyncpg.Record) -> s.Provider:
    return s.Provider(id=row["id"], orgnr=row["orgnr"], name=row["name"])


def _orgnr(text: str) -> str:
    try:
        return parse_organisationsnummer(text)
    except InvalidIdentity as err:
        raise _invalid("orgnr", str(err)) from None


async def _orgnr_free(conn: asyncpg.Connection, tenant: str, orgnr: str, provider_id: str) -> None:
    other = await conn.fetchval(
        "SELECT id FROM providers WHERE tenant_id = $1 AND orgnr = $2 AND id <> $3",
        tenant,
        orgnr,
        provider_id,
    )
    if other is not None:
        raise Conflict(f"organisationsnummer is already registered for provider {other}")


async def create_provider(
    conn: asyncpg.Connection, who: Principal, data: s.ProviderIn, payload: bytes
) -> tuple[s.Provider, bool]:
    wanted = s.Provider(id=data.id, orgnr=_orgnr(data.orgnr), name=data.name)
    row = await conn.fetchrow(
        "SELECT * FROM providers WHERE tenant_id = $1 AND id = $2 FOR UPDATE", who.tenant_id, data.id
    )
    if row is not None:
        existing = _provider(row)
        if existing != wanted:
            raise Conflict(f"provider {data.id} exists with other content; correct it with PUT")
        result, created = existing, False
    else:
        await _orgnr_free(conn, who.tenant_id, wanted.orgnr, wanted.id)
        await conn.execute(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, $3, $4)",
            who.tenant_id,
            wanted.id,
            wanted.orgnr,
            wanted.name,
        )
        result, created = wanted, True
    await audit.record(
        conn,
        who,
        action="provider.create",
        entity_kind="provider",
        entity_ids=[data.id],
        payload=payload,
        after=result,
    )
    return result, created


async def correct_provider(
    conn: asyncpg.Connection, who: Principal, provider_id: str, data: s.ProviderCorrection, payload: bytes
) -> s.Provider:
    row = await conn.fetchrow(
        "SELECT * FROM providers WHERE tenant_id = $1 AND id = $2 FOR UPDATE", who.tenant_id, provider_id
    )
    if row is None:
        raise NotFound(f"no provider {provider_id}")
    after = s.Provider(id=provider_id, orgnr=_orgnr(data.orgnr), name=data.name)
    await _orgnr_free(conn, who.tenant_id, after.orgnr, provider_id)
    await conn.execute(
        "UPDATE providers SET orgnr = $3, name = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        who.tenant_id,
        provider_id,
        after.orgnr,
        after.name,
    )
    await audit.record(
        conn,
        who,
        action="provider.correct",
        entity_kind="provider",
        entity_ids=[provider_id],
        payload=payload,
        before=_provider(row),
        after=after,
    )
    return after


async def get_provider(conn: asyncpg.Connection, tenant: str, provider_id: str) -> s.Provider:
    row = await conn.fetchrow("SELECT * FROM providers WHERE tenant_id = $1 AND id = $2", tenant, provider_id)
    if row is None:
        raise NotFound(f"no provider {provider_id}")
    return _provider(row)


async def list_providers(conn: asyncpg.Connection, tenant: str, after: str, limit: int) -> s.ProviderPage:
    rows = await conn.fetch(
        "SELECT * FROM providers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        tenant,
        after,
        limit + 1,
    )
    items, cursor = page([_provider(r) for r in rows], limit, lambda p: p.id)
    return s.ProviderPage(items=items, next_after=cursor)


async def known_providers(conn: asyncpg.Connection, tenant: str, ids: set[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT id FROM providers WHERE tenant_id = $1 AND id = ANY($2::text[])", tenant, list(ids)
    )
    return {r["id"] for r in rows}


# The insats catalogue ----------------------------------------------------------------------------


def _insats(row: asyncpg.Record) -> s.Insats:
    return s.Insats(
        code=row["code"], title=row["title"], category=row["category"], report_type=row["report_type"]
    )


def _check_insats(category: str | None, report_type: str) -> None:
    if (category is not None) != (report_type == "bistand"):
        raise _invalid("category", "category (service or omsorg) is required for bistand and only for it")


async def catalogue(conn: asyncpg.Connection, tenant: str) -> dict[str, s.Insats]:
    rows = await conn.fetch("SELECT * FROM insatser WHERE tenant_id = $1", tenant)
    return {r["code"]: _insats(r) for r in rows}


async def create_insats(
    conn: asyncpg.Connection, who: Principal, data: s.InsatsIn, payload: bytes
) -> tuple[s.Insats, bool]:
    _check_insats(data.category, data.report_type)
    wanted = s.Insats(code=data.code, title=data.title, category=data.category, report_type=data.report_type)
    row = await conn.fetchrow(
        """INSERT INTO insatser (tenant_id, code, title, category, report_type) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING *""",
        who.tenant_id,
        data.code,
        data.title,
        data.category,
        data.report_type,
    )
    created = row is not None
    if not created:
        row = await conn.fetchrow(
            "SELECT * FROM insatser WHERE tenant_id = $1 AND code = $2", who.tenant_id, data.code
        )
        if _insats(row) != wanted:
            raise Conflict(f"insats {data.code} exists with other content; correct it with PUT")
    await audit.record(
        conn,
        who,
        action="insats.create",
        entity_kind="insats",
        entity_ids=[data.code],
        payload=payload,
        after=wanted,
    )
    return wanted, created


async def correct_insats(
    conn: asyncpg.Connection, who: Principal, code: str, data: s.InsatsCorrection, payload: bytes
) -> s.Insats:
    _check_insats(data.category, data.report_type)
    before = await conn.fetchrow(
        "SELECT * FROM insatser WHERE tenant_id = $1 AND code = $2 FOR UPDATE", who.tenant_id, code
    )
    if before is None:
        raise NotFound(f"no insats {code}")
    row = await conn.fetchrow(
        """UPDATE insatser SET title = $3, category = $4, report_type = $5,
                  changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND code = $2 RETURNING *""",
        who.tenant_id,
        code,
        data.title,
        data.category,
        data.report_type,
    )
    after = _insats(row)
    await audit.record(
        conn,
        who,
        action="insats.correct",
        entity_kind="insats",
        entity_ids=[code],
        payload=payload,
        before=_insats(before),
        after=after,
    )
    return after


async def list_insatser(conn: asyncpg.Connection, tenant: str, after: str, limit: int) -> s.InsatsPage:
    rows = await conn.fetch(
        "SELECT * FROM insatser WHERE tenant_id = $1 AND code > $2 ORDER BY code LIMIT $3",
        tenant,
        after,
        limit + 1,
    )
    items, cursor = page([_insats(r) for r in rows], limit, lambda i: i.code)
    return s.InsatsPage(items=items, next_after=cursor)


# Customers ---------------------------------------------------------------------------------------


def new_ref() -> str:
    """An opaque customer reference: "C" and ten random base32 characters (50 bits)."""
    return "C" + base64.b32encode(secrets.token_bytes(10)).decode()[:10]


def _check_history(
    checks: Checks, zones: Sequence[s.ZoneEntry], choices: Sequence[s.ChoiceIn], providers: set[str]
) -> None:
    """Zones and choices of one customer: unique dates, and nothing before the first zone."""
    first_zone = min((z.from_ for z in zones), default=None)
    for name, dates in (("zones", [z.from_ for z in zones]), ("choices", [c.from_ for c in choices])):
        seen: set[date] = set()
        for i, day in enumerate(dates):
            if day in seen:
                checks.add(f"{name}[{i}].from", "two entries start on the same day")
            seen.add(day)
    for i, choice in enumerate(choices):
        checks.span(choice.from_, choice.to, f"choices[{i}].to")
        if first_zone is not None and choice.from_ < first_zone:
            checks.add(f"choices[{i}].from", "lies before the customer's first zone")
        if choice.provider not in providers:
            checks.add(f"choices[{i}].provider", "unknown provider")


async def _customer_row(
    conn: asyncpg.Connection, tenant: str, ref: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"SELECT * FROM customers WHERE tenant_id = $1 AND ref = $2{' FOR UPDATE' if lock else ''}",
        tenant,
        ref,
    )
    if row is None:
        raise NotFound("no such customer")
    return row


async def _history(
    conn: asyncpg.Connection, tenant: str, pnr: str
) -> tuple[list[s.ZoneEntry], list[s.Choice]]:
    zones = await conn.fetch(
        "SELECT valid_from, zone FROM customer_zones WHERE tenant_id = $1 AND pnr = $2 ORDER BY valid_from",
        tenant,
        pnr,
    )
    choices = await conn.fetch(
        """SELECT valid_from, valid_to, provider_id FROM provider_choices
           WHERE tenant_id = $1 AND pnr = $2 ORDER BY valid_from""",
        tenant,
        pnr,
    )
    return (
        [s.ZoneEntry(from_=z["valid_from"], zone=z["zone"]) for z in zones],
        [s.Choice(from_=c["valid_from"], to=c["valid_to"], provider=c["provider_id"]) for c in choices],
    )


async def _view(conn: asyncpg.Connection, row: asyncpg.Record, role: str) -> s.Customer:
    zones, choices = await _history(conn, row["tenant_id"], row["pnr"])
    personal = shown_pnr(row["pnr"], row["protected"], role, single=True) is not None
    return s.Customer(
        ref=row["ref"],
        pnr=row["pnr"] if personal else None,
        name=row["name"] if personal else None,
        protected=row["protected"],
        zones=zones,
        choices=choices,
    )


async def _touch(conn: asyncpg.Connection, tenant: str, pnr: str) -> None:
    # Zones and choices may be replaced (rows deleted); a new changed_seq on the customer keeps
    # "has anything changed since" a single comparison for the engine.
    await conn.execute(
        """UPDATE customers SET changed_seq = nextval('input_change_seq'), updated_at = now()
           WHERE tenant_id = $1 AND pnr = $2""",
        tenant,
        pnr,
    )


async def _write_history(
    conn: asyncpg.Connection,
    tenant: str,
    pnr: str,
    zones: Sequence[s.ZoneEntry] | None,
    choices: Sequence[s.ChoiceIn | s.Choice] | None,
) -> None:
    if zones is not None:
        await conn.execute("DELETE FROM customer_zones WHERE tenant_id = $1 AND pnr = $2", tenant, pnr)
        await conn.executemany(
            "INSERT INTO customer_zones (tenant_id, pnr, valid_from, zone) VALUES ($1, $2, $3, $4)",
            [(tenant, pnr, z.from_, z.zone) for z in zones],
        )
    if choices is not None:
        await conn.execute("DELETE FROM provider_choices WHERE tenant_id = $1 AND pnr = $2", tenant, pnr)
        await conn.executemany(
            """INSERT INTO provider_choices (tenant_id, pnr, valid_from, valid_to, provider_id)
               VALUES ($1, $2, $3, $4, $5)""",
            [(tenant, pnr, c.from_, c.to, c.provider) for c in choices],
        )


def _choices(items: Sequence[s.ChoiceIn]) -> list[s.Choice]:
    return sorted(
        (s.Choice(from_=c.from_, to=c.to, provider=c.provider) for c in items), key=lambda c: c.from_
    )


async def create_customer(
    conn: asyncpg.Connection, who: Principal, data: s.CustomerIn, payload: bytes
) -> tuple[s.Customer, bool]:
    checks = Checks()
    pnr = checks.pnr(data.pnr, "pnr")
    providers = await known_providers(conn, who.tenant_id, {c.provider for c in data.choices})
    _check_history(checks, data.zones, data.choices, providers)
    checks.done()
    zones = sorted(data.zones, key=lambda z: z.from_)
    choices = _choices(data.choices)
    ref = new_ref()
    row = await conn.fetchrow(
        """INSERT INTO customers (tenant_id, pnr, ref, name, protected) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING *""",
        who.tenant_id,
        pnr,
        ref,
        data.name,
        data.protected,
    )
    created = row is not None
    if created:
        await _write_history(conn, who.tenant_id, pnr, zones, choices)
    else:
        row = await conn.fetchrow(
            "SELECT * FROM customers WHERE tenant_id = $1 AND pnr = $2", who.tenant_id, pnr
        )
        stored = await _history(conn, who.tenant_id, pnr)
        if (row["name"], row["protected"], *stored) != (data.name, data.protected, zones, choices):
            raise Conflict(
                f"the customer is registered (as {row['ref']}) with other content; correct it with "
                f"PUT /v1/customers/{row['ref']} and its zones and choices routes"
            )
    view = await _view(conn, row, who.role)
    await audit.record(
        conn,
        who,
        action="customer.create",
        entity_kind="customer",
        entity_ids=[row["ref"]],
        payload=payload,
        after=_audit_view(view),
    )
    return view, created


def _audit_view(view: s.Customer) -> dict[str, Any]:
    # The audit log keeps refs, never the number or name (it is kept for as long as the chain).
    return {"ref": view.ref, "protected": view.protected, "zones": view.zones, "choices": view.choices}


async def correct_customer(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.CustomerCorrection, payload: bytes
) -> s.Customer:
    row = await _customer_row(conn, who.tenant_id, ref, lock=True)
    updated = await conn.fetchrow(
        """UPDATE customers SET name = $3, protected = $4, updated_at = now(),
                  changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND ref = $2 RETURNING *""",
        who.tenant_id,
        ref,
        data.name,
        data.protected,
    )
    await audit.record(
        conn,
        who,
        action="customer.correct",
        entity_kind="customer",
        entity_ids=[ref],
        payload=payload,
        before={"protected": row["protected"], "name_changed": row["name"] != data.name},
        after={"protected": data.protected},
    )
    return await _view(conn, updated, who.role)


async def read_customer(conn: asyncpg.Connection, who: Principal, ref: str) -> s.Customer:
    """The single-customer view; every read is audited (who, when, which customer)."""
    row = await _customer_row(conn, who.tenant_id, ref)
    if who.role == "provider" and not await is_providers_customer(conn, who, row["pnr"]):
        raise NotFound("no such customer")
    await audit.record(conn, who, action="customer.read", entity_kind="customer", entity_ids=[ref])
    return await _view(conn, row, who.role)


async def lookup_customer(conn: asyncpg.Connection, who: Principal, data: s.CustomerLookup) -> s.Customer:
    checks = Checks()
    pnr = checks.pnr(data.pnr, "pnr")
    checks.done()
    ref = await conn.fetchval(
        "SELECT ref FROM customers WHERE tenant_id = $1 AND pnr = $2", who.tenant_id, pnr
    )
    if ref is None:
        raise NotFound("no customer with this number")
    try:
        return await read_customer(conn, who, ref)
    except NotFound:
        raise NotFound("no customer with this number") from None


async def is_providers_customer(
    conn: asyncpg.Connection, who: Principal, pnr: str, *, on_or_before: date | None = None
) -> bool:
    """Whether the customer is (or was) the provider's by choice or enrolment on some day, on or
    before `on_or_before` when given."""
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM provider_choices
                          WHERE tenant_id = $1 AND pnr = $2 AND provider_id = $3
                            AND ($4::date IS NULL OR valid_from <= $4))
               OR EXISTS (SELECT 1 FROM enrolments
                          WHERE tenant_id = $1 AND pnr = $2 AND provider_id = $3
                            AND ($4::date IS NULL OR valid_from <= $4))""",
        who.tenant_id,
        pnr,
        who.provider_id,
        on_or_before,
    )


async def list_customers(conn: asyncpg.Connection, who: Principal, after: str, limit: int) -> s.CustomerPage:
    rows = await conn.fetch(
        """SELECT ref, pnr, name, protected FROM customers c
           WHERE tenant_id = $1 AND ref > $2
             AND ($3::text IS NULL
                  OR EXISTS (SELECT 1 FROM provider_choices p
                             WHERE p.tenant_id = c.tenant_id AND p.pnr = c.pnr AND p.provider_id = $3)
                  OR EXISTS (SELECT 1 FROM enrolments e
                             WHERE e.tenant_id = c.tenant_id AND e.pnr = c.pnr AND e.provider_id = $3))
           ORDER BY ref LIMIT $4""",
        who.tenant_id,
        after,
        who.provider_id,
        limit + 1,
    )
    items = []
    for r in rows:
        shown = shown_pnr(r["pnr"], r["protected"], who.role, single=False)
        items.append(
            s.CustomerSummary(
                ref=r["ref"],
                pnr=shown,
                name=r["name"] if shown is not None else None,
                protected=r["protected"],
            )
        )
    items, cursor = page(items, limit, lambda c: c.ref)
    return s.CustomerPage(items=items, next_after=cursor)


async def _change_history(
    conn: asyncpg.Connection,
    who: Principal,
    ref: str,
    payload: bytes,
    action: str,
    change: Any,
) -> tuple[s.Customer, bool]:
    """Apply `change(zones, choices) -> (zones, choices)` to a customer's history, check the result,
    store it and audit before/after; also say whether anything changed."""
    row = await _customer_row(conn, who.tenant_id, ref, lock=True)
    zones, choices = await _history(conn, who.tenant_id, row["pnr"])
    new_zones, new_choices = change(zones, choices)
    checks = Checks()
    providers = await known_providers(conn, who.tenant_id, {c.provider for c in new_choices})
    _check_history(checks, new_zones, new_choices, providers)
    checks.done()
    new_zones = sorted(new_zones, key=lambda z: z.from_)
    new_choices = sorted(new_choices, key=lambda c: c.from_)
    changed = (new_zones, new_choices) != (zones, choices)
    if changed:
        await _write_history(
            conn,
            who.tenant_id,
            row["pnr"],
            new_zones if new_zones != zones else None,
            new_choices if new_choices != choices else None,
        )
        await _touch(conn, who.tenant_id, row["pnr"])
    await audit.record(
        conn,
        who,
        action=action,
        entity_kind="customer",
        entity_ids=[ref],
        payload=payload,
        before={"zones": zones, "choices": choices},
        after={"zones": new_zones, "choices": new_choices},
    )
    return await _view(conn, row, who.role), changed


def _refuse_other(existing: Any, wanted: Any, what: str) -> None:
    if existing is not None and existing != wanted:
        raise Conflict(f"{what} exists with other content; replace the whole list with PUT to correct it")


async def add_zone(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.ZoneEntry, payload: bytes
) -> tuple[s.Customer, bool]:
    def change(zones: list[s.ZoneEntry], choices: list[s.Choice]) -> tuple[list, list]:
        if data.from_ < zones[0].from_:
            raise _invalid("from", "lies before the customer's first zone")
        same = next((z for z in zones if z.from_ == data.from_), None)
        _refuse_other(same, data, f"a zone from {data.from_}")
        return ([*zones, data] if same is None else zones), choices

    return await _change_history(conn, who, ref, payload, "customer.zone.add", change)


async def replace_zones(
    conn: asyncpg.Connection, who: Principal, ref: str, data: list[s.ZoneEntry], payload: bytes
) -> s.Customer:
    if not data:
        raise _invalid("zones", "a customer has at least one zone")
    view, _ = await _change_history(
        conn, who, ref, payload, "customer.zones.replace", lambda _z, c: (data, c)
    )
    return view


async def add_choice(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.ChoiceIn, payload: bytes
) -> tuple[s.Customer, bool]:
    wanted = _choices([data])[0]

    def change(zones: list[s.ZoneEntry], choices: list[s.Choice]) -> tuple[list, list]:
        same = next((c for c in choices if c.from_ == data.from_), None)
        _refuse_other(same, wanted, f"a choice from {data.from_}")
        return zones, ([*choices, wanted] if same is None else choices)

    return await _change_history(conn, who, ref, payload, "customer.choice.add", change)


async def replace_choices(
    conn: asyncpg.Connection, who: Principal, ref: str, data: list[s.ChoiceIn], payload: bytes
) -> s.Customer:
    view, _ = await _change_history(
        conn, who, ref, payload, "customer.choices.replace", lambda z, _c: (z, _choices(data))
    )
    return view


async def end_choice(
    conn: asyncpg.Connection, who: Principal, ref: str, start: date, data: s.ChoiceEnd, payload: bytes
) -> s.Customer:
    def change(zones: list[s.ZoneEntry], choices: list[s.Choice]) -> tuple[list, list]:
        if not any(c.from_ == start for c in choices):
            raise NotFound(f"no choice from {start} for customer {ref}")
        return zones, [
            s.Choice(from_=c.from_, to=data.to, provider=c.provider) if c.from_ == start else c
            for c in choices
        ]

    view, _ = await _change_history(conn, who, ref, payload, "customer.choice.end", change)
    return view


# Decisions ---------------------------------------------------------------------------------------


def _line(row: asyncpg.Record) -> s.DecisionLine:
    return s.DecisionLine(
        id=row["id"],
        code=row["insats_code"],
        category=row["category"],
        minutes=row["minutes"],
        occasions=row["occasions"],
        per=row["per"],
        from_=row["valid_from"],
        to=row["valid_to"],
    )


def _wanted_line(data: s.DecisionLineIn) -> s.DecisionLine:
    return s.DecisionLine(
        id=data.id,
        code=data.code,
        category=data.category,
        minutes=data.minutes,
        occasions=data.occasions,
        per=data.per,
        from_=data.from_,
        to=data.to,
    )


def _check_line(checks: Checks, line: s.DecisionLineIn, insatser: dict[str, s.Insats], prefix: str) -> None:
    checks.positive(line.minutes, f"{prefix}minutes")
    checks.positive(line.occasions, f"{prefix}occasions")
    checks.span(line.from_, line.to, f"{prefix}to")
    insats = insatser.get(line.code)
    if insats is None:
        checks.add(f"{prefix}code", "unknown insats code")
    elif insats.report_type != "bistand":
        checks.add(
            f"{prefix}code",
            f"insats {line.code} is not granted by decision (report type {insats.report_type})",
        )
    elif insats.category != line.category:
        checks.add(f"{prefix}category", f"differs from the catalogue's category ({insats.category})")


async def _decisions(
    conn: asyncpg.Connection, who: Principal, rows: Sequence[asyncpg.Record], *, single: bool
) -> list[s.Decision]:
    lines: dict[str, list[s.DecisionLine]] = {r["id"]: [] for r in rows}
    for line in await conn.fetch(
        """SELECT * FROM decision_lines WHERE tenant_id = $1 AND decision_id = ANY($2::text[])
           ORDER BY decision_id, id""",
        who.tenant_id,
        list(lines),
    ):
        lines[line["decision_id"]].append(_line(line))
    return [
        s.Decision(
            id=r["id"],
            customer=shown_pnr(r["pnr"], r["protected"], who.role, single=single),
            customer_ref=r["ref"],
            decided=r["decided_on"],
            lines=lines[r["id"]],
        )
        for r in rows
    ]


_DECISION = """SELECT d.*, c.ref, c.protected FROM decisions d
               JOIN customers c ON c.tenant_id = d.tenant_id AND c.pnr = d.pnr"""


async def _decision_row(
    conn: asyncpg.Connection, tenant: str, decision_id: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"{_DECISION} WHERE d.tenant_id = $1 AND d.id = $2{' FOR UPDATE OF d' if lock else ''}",
        tenant,
        decision_id,
    )
    if row is None:
        raise NotFound(f"no decision {decision_id}")
    return row


async def _insert_lines(
    conn: asyncpg.Connection, tenant: str, decision_id: str, lines: Sequence[s.DecisionLineIn]
) -> None:
    await conn.executemany(
        """INSERT INTO decision_lines (tenant_id, id, decision_id, insats_code, category, minutes, occasions,
                                       per, valid_from, valid_to)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        [
            (tenant, x.id, decision_id, x.code, x.category, x.minutes, x.occasions, x.per, x.from_, x.to)
            for x in lines
        ],
    )


async def create_decision(
    conn: asyncpg.Connection, who: Principal, data: s.DecisionIn, payload: bytes
) -> tuple[s.Decision, bool]:
    checks = Checks()
    pnr = checks.pnr(data.customer, "customer")
    insatser = await catalogue(conn, who.tenant_id)
    seen: set[str] = set()
    for i, line in enumerate(data.lines):
        _check_line(checks, line, insatser, f"lines[{i}].")
        if line.id in seen:
            checks.add(f"lines[{i}].id", "two lines have this id")
        seen.add(line.id)
    if pnr and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE tenant_id = $1 AND pnr = $2)", who.tenant_id, pnr
    ):
        checks.add("customer", "unknown customer; register the customer first")
    checks.done()
    decided = data.decided or min(line.from_ for line in data.lines)
    inserted = await conn.fetchval(
        """INSERT INTO decisions (tenant_id, id, pnr, decided_on) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING id""",
        who.tenant_id,
        data.id,
        pnr,
        decided,
    )
    created = inserted is not None
    if created:
        taken = await conn.fetch(
            "SELECT id, decision_id FROM decision_lines WHERE tenant_id = $1 AND id = ANY($2::text[])",
            who.tenant_id,
            [line.id for line in data.lines],
        )
        if taken:
            raise Conflict(
                "decision line ids are unique per tenant; already used: "
                + ", ".join(f"{r['id']} (decision {r['decision_id']})" for r in taken)
            )
        await _insert_lines(conn, who.tenant_id, data.id, data.lines)
    row = await _decision_row(conn, who.tenant_id, data.id)
    [result] = await _decisions(conn, who, [row], single=True)
    if not created:
        wanted = sorted((_wanted_line(x) for x in data.lines), key=lambda x: x.id)
        same = row["pnr"] == pnr and row["decided_on"] == decided and wanted == result.lines
        if not same:
            raise Conflict(f"decision {data.id} exists with other content; correct it through its routes")
    await audit.record(
        conn,
        who,
        action="decision.create",
        entity_kind="decision",
        entity_ids=[data.id],
        payload=payload,
        after=_decision_audit(result),
    )
    return result, created


def _decision_audit(decision: s.Decision) -> dict[str, Any]:
    return {
        "customer_ref": decision.customer_ref,
        "decided": decision.decided,
        "lines": decision.lines,
    }


async def get_decision(conn: asyncpg.Connection, who: Principal, decision_id: str) -> s.Decision:
    [decision] = await _decisions(
        conn, who, [await _decision_row(conn, who.tenant_id, decision_id)], single=True
    )
    return decision


async def list_decisions(
    conn: asyncpg.Connection, who: Principal, customer_ref: str | None, after: str, limit: int
) -> s.DecisionPage:
    rows = await conn.fetch(
        f"""{_DECISION} WHERE d.tenant_id = $1 AND d.id > $2 AND ($3::text IS NULL OR c.ref = $3)
            ORDER BY d.id LIMIT $4""",
        who.tenant_id,
        after,
        customer_ref,
        limit + 1,
    )
    items, cursor = page(rows, limit, lambda r: r["id"])
    return s.DecisionPage(items=await _decisions(conn, who, items, single=False), next_after=cursor)


async def correct_decision(
    conn: asyncpg.Connection, who: Principal, decision_id: str, data: s.DecisionCorrection, payload: bytes
) -> s.Decision:
    row = await _decision_row(conn, who.tenant_id, decision_id, lock=True)
    await conn.execute(
        """UPDATE decisions SET decided_on = $3, changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND id = $2""",
        who.tenant_id,
        decision_id,
        data.decided,
    )
    await audit.record(
        conn,
        who,
        action="decision.correct",
        entity_kind="decision",
        entity_ids=[decision_id],
        payload=payload,
        before={"decided": row["decided_on"]},
        after={"decided": data.decided},
    )
    return await get_decision(conn, who, decision_id)


async def add_line(
    conn: asyncpg.Connection, who: Principal, decision_id: str, data: s.DecisionLineIn, payload: bytes
) -> tuple[s.Decision, bool]:
    await _decision_row(conn, who.tenant_id, decision_id, lock=True)
    checks = Checks()
    _check_line(checks, data, await catalogue(conn, who.tenant_id), "")
    checks.done()
    existing = await conn.fetchrow(
        "SELECT * FROM decision_lines WHERE tenant_id = $1 AND id = $2", who.tenant_id, data.id
    )
    if existing is not None and (
        existing["decision_id"] != decision_id or _line(existing) != _wanted_line(data)
    ):
        raise Conflict(f"decision line {data.id} exists with other content; correct it with PUT")
    if existing is None:
        await _insert_lines(conn, who.tenant_id, decision_id, [data])
    await audit.record(
        conn,
        who,
        action="decision.line.add",
        entity_kind="decision_line",
        entity_ids=[decision_id, data.id],
        payload=payload,
        after=_wanted_line(data),
    )
    return await get_decision(conn, who, decision_id), existing is None


async def _line_row(conn: asyncpg.Connection, tenant: str, decision_id: str, line_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM decision_lines WHERE tenant_id = $1 AND decision_id = $2 AND id = $3 FOR UPDATE",
        tenant,
        decision_id,
        line_id,
    )
    if row is None:
        raise NotFound(f"no line {line_id} in decision {decision_id}")
    return row


async def correct_line(
    conn: asyncpg.Connection,
    who: Principal,
    decision_id: str,
    line_id: str,
    data: s.DecisionLineIn,
    payload: bytes,
) -> s.Decision:
    before = await _line_row(conn, who.tenant_id, decision_id, line_id)
    checks = Checks()
    if data.id != line_id:
        checks.add("id", "must be the line id of the path")
    _check_line(checks, data, await catalogue(conn, who.tenant_id), "")
    checks.done()
    await conn.execute(
        """UPDATE decision_lines SET insats_code = $4, category = $5, minutes = $6, occasions = $7, per = $8,
                  valid_from = $9, valid_to = $10, changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND decision_id = $2 AND id = $3""",
        who.tenant_id,
        decision_id,
        line_id,
        data.code,
        data.category,
        data.minutes,
        data.occasions,
        data.per,
        data.from_,
        data.to,
    )
    await audit.record(
        conn,
        who,
        action="decision.line.correct",
        entity_kind="decision_line",
        entity_ids=[decision_id, line_id],
        payload=payload,
        before=_line(before),
        after=_wanted_line(data),
    )
    return await get_decision(conn, who, decision_id)


async def end_line(
    conn: asyncpg.Connection,
    who: Principal,
    decision_id: str,
    line_id: str,
    data: s.DecisionLineEnd,
    payload: bytes,
) -> s.Decision:
    before = await _line_row(conn, who.tenant_id, decision_id, line_id)
    checks = Checks()
    checks.span(before["valid_from"], data.to)
    checks.done()
    await conn.execute(
        """UPDATE decision_lines SET valid_to = $4, changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND decision_id = $2 AND id = $3""",
        who.tenant_id,
        decision_id,
        line_id,
        data.to,
    )
    await audit.record(
        conn,
        who,
        action="decision.line.end",
        entity_kind="decision_line",
        entity_ids=[decision_id, line_id],
        payload=payload,
        before={"to": before["valid_to"]},
        after={"to": data.to},
    )
    return await get_decision(conn, who, decision_id)
