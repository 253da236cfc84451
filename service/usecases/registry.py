"""The registry (domain.md section 3), written by role `registry`: providers, the insats catalogue,
customers with their zones and provider choices, decisions with their lines.

Conventions shared with the provider records, visits and claims:
- A create is idempotent: the same id with the same content answers the stored record again
  (`created` False); other content is a 409, and a correction goes through its own route.
- Every problem of a request is collected before answering 422 (`Checks`).
- Every write is audited (a replay too), and so is every read of a single customer.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import asyncpg
from msgspec import UNSET
from msgspec.structs import asdict, replace

from schemas import registry as s
from service.domain.bounds import MINUTES_PER_OCCASION, OCCASIONS
from service.domain.errors import Conflict, NotFound
from service.domain.identity import InvalidIdentity, parse_organisationsnummer
from service.domain.principal import Principal
from service.domain.visibility import shown_pnr
from service.store import registry as store
from service.usecases.ingestion import Checks, audit_write, found, invalid, page
from service.usecases.viewers import audit_read

# Providers ---------------------------------------------------------------------------------------


def _orgnr(text: str) -> str:
    try:
        return parse_organisationsnummer(text)
    except InvalidIdentity as err:
        raise invalid("orgnr", str(err)) from None


async def _orgnr_free(conn: asyncpg.Connection, tenant: str, provider: s.Provider) -> None:
    other = await store.orgnr_holder(conn, tenant, provider.orgnr, provider.id)
    if other is not None:
        raise Conflict(f"organisationsnummer is already registered for provider {other}")


async def create_provider(
    conn: asyncpg.Connection, who: Principal, data: s.ProviderIn, payload: bytes
) -> tuple[s.Provider, bool]:
    wanted = s.Provider(id=data.id, orgnr=_orgnr(data.orgnr), name=data.name)
    row = await store.provider(conn, who.tenant_id, data.id, lock=True)
    if row is None:
        await _orgnr_free(conn, who.tenant_id, wanted)
        await store.insert_provider(conn, who.tenant_id, store.Provider(**asdict(wanted)))
    elif s.Provider(**asdict(row)) != wanted:
        raise Conflict(f"provider {data.id} exists with other content; correct it with PUT")
    await audit_write(conn, who, "provider.create", [data.id], payload, after=wanted)
    return wanted, row is None


async def correct_provider(
    conn: asyncpg.Connection, who: Principal, provider_id: str, data: s.ProviderCorrection, payload: bytes
) -> s.Provider:
    before = found(
        await store.provider(conn, who.tenant_id, provider_id, lock=True), f"no provider {provider_id}"
    )
    after = s.Provider(id=provider_id, orgnr=_orgnr(data.orgnr), name=data.name)
    await _orgnr_free(conn, who.tenant_id, after)
    await store.update_provider(conn, who.tenant_id, store.Provider(**asdict(after)))
    await audit_write(
        conn,
        who,
        "provider.correct",
        [provider_id],
        payload,
        before=s.Provider(**asdict(before)),
        after=after,
    )
    return after


async def get_provider(conn: asyncpg.Connection, who: Principal, provider_id: str) -> s.Provider:
    row = found(await store.provider(conn, who.tenant_id, provider_id), f"no provider {provider_id}")
    return s.Provider(**asdict(row))


async def list_providers(conn: asyncpg.Connection, who: Principal, after: str, limit: int) -> s.ProviderPage:
    rows, cursor = page(await store.providers(conn, who.tenant_id, after, limit + 1), limit, lambda p: p.id)
    return s.ProviderPage(items=[s.Provider(**asdict(r)) for r in rows], next_after=cursor)


# The insats catalogue ----------------------------------------------------------------------------


def _insats(code: str, data: s.InsatsIn | s.InsatsCorrection) -> s.Insats:
    if (data.category is not None) != (data.report_type == "bistand"):
        raise invalid("category", "category (service or omsorg) is required for bistand and only for it")
    return s.Insats(code=code, title=data.title, category=data.category, report_type=data.report_type)


async def create_insats(
    conn: asyncpg.Connection, who: Principal, data: s.InsatsIn, payload: bytes
) -> tuple[s.Insats, bool]:
    wanted = _insats(data.code, data)
    created = await store.insert_insats(conn, who.tenant_id, store.Insats(**asdict(wanted)))
    if not created and s.Insats(**asdict(await store.insats(conn, who.tenant_id, data.code))) != wanted:
        raise Conflict(f"insats {data.code} exists with other content; correct it with PUT")
    await audit_write(conn, who, "insats.create", [data.code], payload, after=wanted)
    return wanted, created


async def correct_insats(
    conn: asyncpg.Connection, who: Principal, code: str, data: s.InsatsCorrection, payload: bytes
) -> s.Insats:
    after = _insats(code, data)
    before = found(await store.insats(conn, who.tenant_id, code, lock=True), f"no insats {code}")
    await store.update_insats(conn, who.tenant_id, store.Insats(**asdict(after)))
    await audit_write(
        conn, who, "insats.correct", [code], payload, before=s.Insats(**asdict(before)), after=after
    )
    return after


async def list_insatser(conn: asyncpg.Connection, who: Principal, after: str, limit: int) -> s.InsatsPage:
    rows, cursor = page(await store.insatser(conn, who.tenant_id, after, limit + 1), limit, lambda i: i.code)
    return s.InsatsPage(items=[s.Insats(**asdict(r)) for r in rows], next_after=cursor)


# Customers ---------------------------------------------------------------------------------------

Zones = list[s.ZoneEntry]
Choices = list[s.Choice]


def new_ref() -> str:
    """An opaque customer reference: "C" and ten random base32 characters (50 bits)."""
    return "C" + base64.b32encode(secrets.token_bytes(10)).decode()[:10]


def sorted_choices(items: Iterable[s.ChoiceIn | s.Choice]) -> Choices:
    return sorted(
        (s.Choice(from_=c.from_, to=c.to, provider=c.provider) for c in items), key=lambda c: c.from_
    )


async def _history(conn: asyncpg.Connection, tenant: str, pnr: str) -> tuple[Zones, Choices]:
    zones, choices = await store.history(conn, tenant, pnr)
    return (
        [s.ZoneEntry(from_=z.valid_from, zone=z.zone) for z in zones],
        [s.Choice(from_=c.valid_from, to=c.valid_to, provider=c.provider_id) for c in choices],
    )


async def _write_history(
    conn: asyncpg.Connection, tenant: str, pnr: str, zones: Zones | None, choices: Choices | None
) -> None:
    await store.write_history(
        conn,
        tenant,
        pnr,
        None if zones is None else [store.Zone(valid_from=z.from_, zone=z.zone) for z in zones],
        None
        if choices is None
        else [store.Choice(valid_from=c.from_, valid_to=c.to, provider_id=c.provider) for c in choices],
    )


async def _check_history(
    conn: asyncpg.Connection,
    tenant: str,
    checks: Checks,
    zones: Sequence[s.ZoneEntry],
    choices: Sequence[s.ChoiceIn | s.Choice],
) -> None:
    providers = await store.known_providers(conn, tenant, {c.provider for c in choices})
    history_problems(checks, zones, choices, providers)


def history_problems(
    checks: Checks,
    zones: Sequence[s.ZoneEntry],
    choices: Sequence[s.ChoiceIn | s.Choice],
    providers: set[str],
) -> None:
    """Zones and choices of one customer: unique dates, known providers, nothing before the first zone."""
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


async def _view(conn: asyncpg.Connection, who: Principal, row: store.Customer) -> s.Customer:
    """The single-customer view: the number and name where this role may see them; a provider
    sees only its own choice spans (never whom else the customer chose)."""
    zones, choices = await _history(conn, who.tenant_id, row.pnr)
    if who.role == "provider":
        choices = [c for c in choices if c.provider == who.provider_id]
    personal = shown_pnr(row.pnr, row.protected, who.role, single=True) is not None
    return s.Customer(
        ref=row.ref,
        pnr=row.pnr if personal else None,
        name=row.name if personal else None,
        protected=row.protected,
        zones=zones,
        choices=choices,
    )


def _audited(view: s.Customer) -> dict[str, Any]:
    # The audit log keeps refs, never the number or name (it is kept for as long as the chain).
    return {"ref": view.ref, "protected": view.protected, "zones": view.zones, "choices": view.choices}


async def create_customer(
    conn: asyncpg.Connection, who: Principal, data: s.CustomerIn, payload: bytes
) -> tuple[s.Customer, bool]:
    checks = Checks()
    pnr = checks.pnr(data.pnr, "pnr")
    await _check_history(conn, who.tenant_id, checks, data.zones, data.choices)
    checks.done()
    zones = sorted(data.zones, key=lambda z: z.from_)
    choices = sorted_choices(data.choices)
    row = store.Customer(pnr=pnr, ref=new_ref(), name=data.name, protected=data.protected)
    created = await store.insert_customer(conn, who.tenant_id, row)
    if created:
        await _write_history(conn, who.tenant_id, pnr, zones, choices)
    else:
        row = await store.customer_by_pnr(conn, who.tenant_id, pnr)
        stored = await _history(conn, who.tenant_id, pnr)
        if (row.name, row.protected, *stored) != (data.name, data.protected, zones, choices):
            raise Conflict(
                f"the customer is registered (as {row.ref}) with other content; correct it with "
                f"PUT /v1/customers/{row.ref} and its zones and choices routes"
            )
    view = await _view(conn, who, row)
    await audit_write(conn, who, "customer.create", [row.ref], payload, after=_audited(view))
    return view, created


async def _customer(
    conn: asyncpg.Connection, who: Principal, ref: str, *, lock: bool = False
) -> store.Customer:
    return found(await store.customer(conn, who.tenant_id, ref, lock=lock), "no such customer")


async def correct_customer(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.CustomerCorrection, payload: bytes
) -> s.Customer:
    before = await _customer(conn, who, ref, lock=True)
    return await _view(conn, who, await store_correction(conn, who, before, data, payload))


async def store_correction(
    conn: asyncpg.Connection,
    who: Principal,
    before: store.Customer,
    data: s.CustomerCorrection,
    payload: bytes | None,
) -> store.Customer:
    """A customer's name and protected identity corrected and audited (the number never is). A
    field the correction leaves out keeps its stored value: only an explicit false lifts protected
    identity (domain.md 3)."""
    name = before.name if data.name is UNSET else data.name
    protected = before.protected if data.protected is UNSET else data.protected
    after = store.Customer(pnr=before.pnr, ref=before.ref, name=name, protected=protected)
    await store.update_customer(conn, who.tenant_id, after)
    await audit_write(
        conn,
        who,
        "customer.correct",
        [before.ref],
        payload,
        before={"protected": before.protected, "name_changed": before.name != name},
        after={"protected": protected},
    )
    return after


async def read_customer(conn: asyncpg.Connection, who: Principal, ref: str) -> s.Customer:
    """The single-customer view; a provider reads only its own customers, those it is or was chosen
    for (another's is not found, the same reply as for no customer: domain.md 2); every read is
    audited (who, when, which customer)."""
    row = await _customer(conn, who, ref)
    if who.role == "provider" and not await store.is_providers_customer(
        conn, who.tenant_id, who.provider_id, row.pnr
    ):
        raise NotFound("no such customer")
    await audit_write(conn, who, "customer.read", [ref], None)
    return await _view(conn, who, row)


async def find_customer(conn: asyncpg.Connection, who: Principal, data: s.CustomerLookup) -> s.Customer:
    """`read_customer` by personnummer (kept out of URLs)."""
    checks = Checks()
    pnr = checks.pnr(data.pnr, "pnr")
    checks.done()
    row = await store.customer_by_pnr(conn, who.tenant_id, pnr)
    if row is not None:
        with contextlib.suppress(NotFound):
            return await read_customer(conn, who, row.ref)
    raise NotFound("no customer with this number")


async def list_customers(conn: asyncpg.Connection, who: Principal, after: str, limit: int) -> s.CustomerPage:
    """Customers by ref, numbers masked; a provider's own only (by choice). The read is audited:
    one entry naming the customers listed."""
    rows, cursor = page(
        await store.customers(conn, who.tenant_id, after, limit + 1, who.provider_id), limit, lambda c: c.ref
    )
    items = []
    for r in rows:
        shown = shown_pnr(r.pnr, r.protected, who.role, single=False)
        items.append(
            s.CustomerSummary(
                ref=r.ref, pnr=shown, name=r.name if shown is not None else None, protected=r.protected
            )
        )
    await audit_read(conn, who, "customer.list", [r.ref for r in rows])
    return s.CustomerPage(items=items, next_after=cursor)


Change = Callable[[Zones, Choices], tuple[Sequence[s.ZoneEntry], Sequence[s.Choice]]]


async def _change_history(
    conn: asyncpg.Connection, who: Principal, ref: str, payload: bytes, action: str, change: Change
) -> tuple[s.Customer, bool]:
    """Apply `change(zones, choices) -> (zones, choices)` to a customer's history, check the result,
    store it and audit before/after; also say whether anything changed."""
    row = await _customer(conn, who, ref, lock=True)
    zones, choices = await _history(conn, who.tenant_id, row.pnr)
    new_zones, new_choices = change(zones, choices)
    checks = Checks()
    await _check_history(conn, who.tenant_id, checks, new_zones, new_choices)
    checks.done()
    changed = await store_history(
        conn,
        who,
        row,
        (zones, choices),
        (sorted(new_zones, key=lambda z: z.from_), sorted(new_choices, key=lambda c: c.from_)),
        action,
        payload,
    )
    return await _view(conn, who, row), changed


async def store_history(
    conn: asyncpg.Connection,
    who: Principal,
    row: store.Customer,
    before: tuple[Zones, Choices],
    after: tuple[Sequence[s.ZoneEntry], Sequence[s.Choice]],
    action: str,
    payload: bytes | None,
) -> bool:
    """Store a customer's checked, sorted zones and choices where they differ (a new change mark
    for the engine) and audit before/after; say whether anything changed."""
    (zones, choices), (new_zones, new_choices) = before, after
    changed = (new_zones, new_choices) != (zones, choices)
    if changed:
        await _write_history(
            conn,
            who.tenant_id,
            row.pnr,
            list(new_zones) if new_zones != zones else None,
            list(new_choices) if new_choices != choices else None,
        )
        await store.touch_customer(conn, who.tenant_id, row.pnr)
    await audit_write(
        conn,
        who,
        action,
        [row.ref],
        payload,
        before={"zones": zones, "choices": choices},
        after={"zones": new_zones, "choices": new_choices},
    )
    return changed


def _refuse_other(existing: Any, wanted: Any, what: str) -> None:
    if existing is not None and existing != wanted:
        raise Conflict(f"{what} exists with other content; replace the whole list with PUT to correct it")


async def add_zone(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.ZoneEntry, payload: bytes
) -> tuple[s.Customer, bool]:
    def change(zones: Zones, choices: Choices) -> tuple[Zones, Choices]:
        if data.from_ < zones[0].from_:
            raise invalid("from", "lies before the customer's first zone")
        same = next((z for z in zones if z.from_ == data.from_), None)
        _refuse_other(same, data, f"a zone from {data.from_}")
        return ([*zones, data] if same is None else zones), choices

    return await _change_history(conn, who, ref, payload, "customer.zone.add", change)


async def replace_zones(
    conn: asyncpg.Connection, who: Principal, ref: str, data: list[s.ZoneEntry], payload: bytes
) -> s.Customer:
    if not data:
        raise invalid("zones", "a customer has at least one zone")
    view, _ = await _change_history(
        conn, who, ref, payload, "customer.zones.replace", lambda _z, c: (data, c)
    )
    return view


async def add_choice(
    conn: asyncpg.Connection, who: Principal, ref: str, data: s.ChoiceIn, payload: bytes
) -> tuple[s.Customer, bool]:
    [wanted] = sorted_choices([data])

    def change(zones: Zones, choices: Choices) -> tuple[Zones, Choices]:
        same = next((c for c in choices if c.from_ == data.from_), None)
        _refuse_other(same, wanted, f"a choice from {data.from_}")
        return zones, ([*choices, wanted] if same is None else choices)

    return await _change_history(conn, who, ref, payload, "customer.choice.add", change)


async def replace_choices(
    conn: asyncpg.Connection, who: Principal, ref: str, data: list[s.ChoiceIn], payload: bytes
) -> s.Customer:
    view, _ = await _change_history(
        conn, who, ref, payload, "customer.choices.replace", lambda z, _c: (z, sorted_choices(data))
    )
    return view


async def end_choice(
    conn: asyncpg.Connection, who: Principal, ref: str, start: date, data: s.ChoiceEnd, payload: bytes
) -> s.Customer:
    def change(zones: Zones, choices: Choices) -> tuple[Zones, Choices]:
        if not any(c.from_ == start for c in choices):
            raise NotFound(f"no choice from {start} for customer {ref}")
        return zones, [
            s.Choice(from_=c.from_, to=data.to, provider=c.provider) if c.from_ == start else c
            for c in choices
        ]

    view, _ = await _change_history(conn, who, ref, payload, "customer.choice.end", change)
    return view


# Decisions ---------------------------------------------------------------------------------------


def line_view(row: store.DecisionLine) -> s.DecisionLine:
    return s.DecisionLine(
        id=row.id,
        code=row.insats_code,
        category=row.category,
        minutes=row.minutes,
        occasions=row.occasions,
        per=row.per,
        from_=row.valid_from,
        to=row.valid_to,
    )


def line_row(decision_id: str, line: s.DecisionLineIn) -> store.DecisionLine:
    return store.DecisionLine(
        id=line.id,
        decision_id=decision_id,
        insats_code=line.code,
        category=line.category,
        minutes=line.minutes,
        occasions=line.occasions,
        per=line.per,
        valid_from=line.from_,
        valid_to=line.to,
    )


def check_line(
    checks: Checks, line: s.DecisionLineIn, insatser: dict[str, store.Insats], prefix: str
) -> None:
    low, high = MINUTES_PER_OCCASION
    checks.within(line.minutes, f"{prefix}minutes", low, high, low_included=True)
    low, high = OCCASIONS
    checks.within(line.occasions, f"{prefix}occasions", low, high, low_included=False)
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
    conn: asyncpg.Connection, who: Principal, rows: Sequence[store.Decision], *, single: bool
) -> list[s.Decision]:
    lines: dict[str, list[s.DecisionLine]] = {r.id: [] for r in rows}
    for line in await store.decision_lines(conn, who.tenant_id, decisions=list(lines)):
        lines[line.decision_id].append(line_view(line))
    return [
        s.Decision(
            id=r.id,
            customer=shown_pnr(r.pnr, r.protected, who.role, single=single),
            customer_ref=r.ref,
            decided=r.decided_on,
            lines=lines[r.id],
        )
        for r in rows
    ]


async def _decision(
    conn: asyncpg.Connection, who: Principal, decision_id: str, *, lock: bool = False
) -> store.Decision:
    return found(
        await store.decision(conn, who.tenant_id, decision_id, lock=lock), f"no decision {decision_id}"
    )


async def get_decision(conn: asyncpg.Connection, who: Principal, decision_id: str) -> s.Decision:
    [decision] = await _decisions(conn, who, [await _decision(conn, who, decision_id)], single=True)
    return decision


async def read_decision(conn: asyncpg.Connection, who: Principal, decision_id: str) -> s.Decision:
    """One decision with its lines; the read (a customer's grant) is audited."""
    decision = await get_decision(conn, who, decision_id)
    await audit_read(conn, who, "decision.read", [decision.customer_ref])
    return decision


async def list_decisions(
    conn: asyncpg.Connection, who: Principal, customer_ref: str | None, after: str, limit: int
) -> s.DecisionPage:
    """Decisions by id (numbers masked), optionally of one customer; the read is audited (one entry
    naming the customers shown)."""
    rows, cursor = page(
        await store.decisions(conn, who.tenant_id, after, limit + 1, customer_ref), limit, lambda d: d.id
    )
    await audit_read(conn, who, "decision.list", [r.ref for r in rows])
    return s.DecisionPage(items=await _decisions(conn, who, rows, single=False), next_after=cursor)


async def create_decision(
    conn: asyncpg.Connection, who: Principal, data: s.DecisionIn, payload: bytes
) -> tuple[s.Decision, bool]:
    checks = Checks()
    pnr = checks.pnr(data.customer, "customer")
    insatser = await store.catalogue(conn, who.tenant_id)
    seen: set[str] = set()
    for i, line in enumerate(data.lines):
        check_line(checks, line, insatser, f"lines[{i}].")
        if line.id in seen:
            checks.add(f"lines[{i}].id", "two lines have this id")
        seen.add(line.id)
    if pnr and await store.customer_by_pnr(conn, who.tenant_id, pnr) is None:
        checks.add("customer", "unknown customer; register the customer first")
    checks.done()
    decided = data.decided or min(line.from_ for line in data.lines)
    created = await store.insert_decision(conn, who.tenant_id, data.id, pnr, decided)
    if created:
        if taken := await store.decision_lines(conn, who.tenant_id, ids=[line.id for line in data.lines]):
            raise Conflict(
                "decision line ids are unique per tenant; already used: "
                + ", ".join(f"{x.id} (decision {x.decision_id})" for x in taken)
            )
        await store.insert_lines(conn, who.tenant_id, [line_row(data.id, x) for x in data.lines])
    row = await _decision(conn, who, data.id)
    [result] = await _decisions(conn, who, [row], single=True)
    if not created:
        wanted = sorted((line_view(line_row(data.id, x)) for x in data.lines), key=lambda x: x.id)
        if (row.pnr, row.decided_on, wanted) != (pnr, decided, result.lines):
            raise Conflict(f"decision {data.id} exists with other content; correct it through its routes")
    after = {"customer_ref": result.customer_ref, "decided": result.decided, "lines": result.lines}
    await audit_write(conn, who, "decision.create", [data.id], payload, after=after)
    return result, created


async def correct_decision(
    conn: asyncpg.Connection, who: Principal, decision_id: str, data: s.DecisionCorrection, payload: bytes
) -> s.Decision:
    before = await _decision(conn, who, decision_id, lock=True)
    await store_decided(conn, who, before, data.decided, payload)
    return await get_decision(conn, who, decision_id)


async def store_decided(
    conn: asyncpg.Connection, who: Principal, before: store.Decision, decided: date, payload: bytes | None
) -> None:
    await store.update_decision(conn, who.tenant_id, replace(before, decided_on=decided))
    await audit_write(
        conn,
        who,
        "decision.correct",
        [before.id],
        payload,
        before={"decided": before.decided_on},
        after={"decided": decided},
    )


async def _checked_line(
    conn: asyncpg.Connection, who: Principal, checks: Checks, decision_id: str, data: s.DecisionLineIn
) -> store.DecisionLine:
    check_line(checks, data, await store.catalogue(conn, who.tenant_id), "")
    checks.done()
    return line_row(decision_id, data)


async def add_decision_line(
    conn: asyncpg.Connection, who: Principal, decision_id: str, data: s.DecisionLineIn, payload: bytes
) -> tuple[s.Decision, bool]:
    await _decision(conn, who, decision_id, lock=True)
    wanted = await _checked_line(conn, who, Checks(), decision_id, data)
    existing = await store.decision_line(conn, who.tenant_id, data.id)
    if existing is None:
        await store.insert_lines(conn, who.tenant_id, [wanted])
    elif existing != wanted:
        raise Conflict(f"decision line {data.id} exists with other content; correct it with PUT")
    await audit_line(conn, who, "add", wanted, payload, after=line_view(wanted))
    return await get_decision(conn, who, decision_id), existing is None


async def audit_line(
    conn: asyncpg.Connection,
    who: Principal,
    change: str,
    line: store.DecisionLine,
    payload: bytes | None,
    **states: Any,
) -> None:
    ids = [line.decision_id, line.id]
    await audit_write(conn, who, f"decision.line.{change}", ids, payload, kind="decision_line", **states)


async def _stored_line(
    conn: asyncpg.Connection, who: Principal, decision_id: str, line_id: str
) -> store.DecisionLine:
    row = await store.decision_line(conn, who.tenant_id, line_id, lock=True)
    if row is None or row.decision_id != decision_id:
        raise NotFound(f"no line {line_id} in decision {decision_id}")
    return row


async def correct_decision_line(
    conn: asyncpg.Connection,
    who: Principal,
    decision_id: str,
    line_id: str,
    data: s.DecisionLineIn,
    payload: bytes,
) -> s.Decision:
    before = await _stored_line(conn, who, decision_id, line_id)
    checks = Checks()
    if data.id != line_id:
        checks.add("id", "must be the line id of the path")
    after = await _checked_line(conn, who, checks, decision_id, data)
    await store.update_line(conn, who.tenant_id, after)
    await audit_line(conn, who, "correct", after, payload, before=line_view(before), after=line_view(after))
    return await get_decision(conn, who, decision_id)


async def end_decision_line(
    conn: asyncpg.Connection,
    who: Principal,
    decision_id: str,
    line_id: str,
    data: s.DecisionLineEnd,
    payload: bytes,
) -> s.Decision:
    before = await _stored_line(conn, who, decision_id, line_id)
    checks = Checks()
    checks.span(before.valid_from, data.to)
    checks.done()
    after = replace(before, valid_to=data.to)
    await store.update_line(conn, who.tenant_id, after)
    await audit_line(conn, who, "end", after, payload, before={"to": before.valid_to}, after={"to": data.to})
    return await get_decision(conn, who, decision_id)
