"""Provider records (domain.md section 3), written by role `provider`: executions, pauses, enrolments
and delegations.

The four kinds share one shape, so one `Kind` serves them all: a record is keyed by the API key's
provider and its external id, created idempotently, corrected whole or ended (its `to`), and
audited. Another provider's record is simply not found (404), so its existence is never revealed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from schemas import records as r
from schemas import registry as reg
from service.domain.errors import Conflict, Forbidden
from service.domain.lines import show_quantity
from service.domain.principal import Principal
from service.domain.visibility import record_customer, shown_pnr
from service.store import audit, registry
from service.store import records as store
from service.usecases import registry as registry_cases
from service.usecases.access import listed_provider, record_owner
from service.usecases.ingestion import Checks, Collected, after_record, audit_write, found, own, record_page
from service.usecases.runs import period_of
from service.usecases.viewers import audit_read, audit_shown, label, viewer

MAX_ROWS = 10_000  # per batch, for each kind and for claims

# The API's name of a content column where it is not the column's own.
FIELDS = {
    "pnr": "customer",
    "decision_id": "decision",
    "insats_code": "code",
    "valid_from": "from_",
    "valid_to": "to",
}

# Checks of a kind against the stored registry, of one record or a batch's at once (a few queries
# for the batch, not a few per row): each record's problems go to its own Checks.
Validate = Callable[[asyncpg.Connection, Principal, list[tuple[Checks, dict[str, Any]]]], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    name: str  # in audit actions and messages
    table: store.Table
    out: type[msgspec.Struct]
    page: type[msgspec.Struct]
    validate: Validate | None = None  # checks beyond the shared ones, given the content columns

    def _out(self, row: store.Record, role: str, *, single: bool) -> Any:
        fields: dict[str, Any] = {"id": row.external_id, "provider": row.provider_id}
        for column in self.table.columns:
            fields[FIELDS.get(column, column)] = getattr(row, column)
        if "pnr" in self.table.columns:
            fields["customer"], fields["customer_ref"] = record_customer(
                row.pnr, row.ref, row.protected, row.chosen, role, single=single
            )
        return self.out(**fields)

    def _audited(self, row: store.Record) -> Any:
        # The audit log keeps the customer's ref (or the masked number), never the number itself.
        return self._out(row, "invoice_admin", single=False)

    async def _content(self, conn: asyncpg.Connection, who: Principal, data: Any) -> dict[str, Any]:
        """The content columns from a request, checked; every problem at once as a 422."""
        checks = Checks()
        content = await self._checked(conn, who, checks, data)
        checks.done()
        return content

    async def _checked(
        self, conn: asyncpg.Connection, who: Principal, checks: Checks, data: Any
    ) -> dict[str, Any]:
        """The content columns from a request, its problems recorded in `checks`."""
        content = self._shared(who, checks, data)
        if self.validate is not None:
            await self.validate(conn, who, [(checks, content)])
        return content

    def _shared(self, who: Principal, checks: Checks, data: Any) -> dict[str, Any]:
        """The content columns, with the checks every kind has (those that need no query)."""
        checks.own_provider(data.provider, who)
        content = {column: getattr(data, FIELDS.get(column, column)) for column in self.table.columns}
        if "pnr" in content:
            content["pnr"] = checks.pnr(content["pnr"])
        checks.span(content["valid_from"], content["valid_to"])
        return content

    async def _stored(
        self, conn: asyncpg.Connection, who: Principal, external_id: str, *, lock: bool = False
    ) -> store.Record:
        row = await store.record(conn, self.table, own(who, external_id), lock=lock)
        return found(row, f"no {self.name} {external_id}")

    async def create(
        self, conn: asyncpg.Connection, who: Principal, data: Any, payload: bytes
    ) -> tuple[Any, bool]:
        content = await self._content(conn, who, data)
        created = await store.insert(conn, self.table.name, own(who, data.id), content)
        row = await self._stored(conn, who, data.id)
        if not created and any(getattr(row, c) != v for c, v in content.items()):
            raise Conflict(f"{self.name} {data.id} exists with other content; correct it with PUT")
        ids = [f"{who.provider_id}:{data.id}"]
        await audit_write(conn, who, f"{self.name}.create", ids, payload, after=self._audited(row))
        return self._out(row, who.role, single=True), created

    async def create_batch(
        self, conn: asyncpg.Connection, who: Principal, body_type: type, body: bytes | AsyncIterable[bytes]
    ) -> r.RecordBatchResult:
        """Records of one request (a JSON array or NDJSON), all or nothing, with the checks of
        `create`: every bad field of every row named (422); the same id again with the same content
        is unchanged, with other content a 409 naming the ids. One audit entry for the batch."""
        batch = Collected(body_type, MAX_ROWS, f"{self.name}s")
        await batch.read(body)
        rows = []
        for index, data in batch.items:
            checks = Checks()
            rows.append((index, data.id, checks, self._shared(who, checks, data)))
        if self.validate is not None:
            await self.validate(conn, who, [(checks, content) for _, _, checks, content in rows])
        contents: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, external_id, checks, content in rows:
            if checks.errors:
                batch.errors.extend({"row": index, **e} for e in checks.errors)
                continue
            seen = contents.setdefault(external_id, (index, content))
            if seen[1] != content:
                batch.error(index, "id", f"repeats the id of row {seen[0]} with other content")
        batch.done()
        wanted = {external_id: content for external_id, (_, content) in contents.items()}
        columns = {c: [x[c] for x in wanted.values()] for c in self.table.columns}
        tenant, provider = who.tenant_id, who.provider_id
        stored = await store.insert_many(conn, self.table.name, tenant, provider, list(wanted), columns)
        inserted = len(stored)
        existing = await store.records_by_id(
            conn, self.table, tenant, provider, [i for i in wanted if i not in stored]
        )
        conflicts = [
            i
            for i in wanted
            if i in existing and any(getattr(existing[i], c) != v for c, v in wanted[i].items())
        ]
        if conflicts:
            raise Conflict(
                "nothing of this batch was stored: these ids are stored with other content; correct "
                f"a {self.name} with PUT: " + ", ".join(conflicts[:100]),
                conflicts=[{"id": x} for x in conflicts[:100]],
            )
        result = r.RecordBatchResult(inserted=inserted, unchanged=len(contents) - inserted)
        await audit.record(
            conn,
            who,
            action=f"{self.name}.batch",
            entity_kind=f"{self.name}_batch",
            payload_sha256=batch.digest.hexdigest(),
            after={"received": batch.received, "inserted": inserted, "unchanged": result.unchanged},
        )
        return result

    async def _update(
        self,
        conn: asyncpg.Connection,
        who: Principal,
        before: store.Record,
        content: dict[str, Any],
        payload: bytes,
        change: str,
    ) -> Any:
        external_id = before.external_id
        await store.update(conn, self.table.name, own(who, external_id), content)
        after = await self._stored(conn, who, external_id)
        await audit_write(
            conn,
            who,
            f"{self.name}.{change}",
            [f"{who.provider_id}:{external_id}"],
            payload,
            before=self._audited(before),
            after=self._audited(after),
        )
        return self._out(after, who.role, single=True)

    async def correct(
        self, conn: asyncpg.Connection, who: Principal, external_id: str, data: Any, payload: bytes
    ) -> Any:
        """Replace the record's content (its id stays)."""
        before = await self._stored(conn, who, external_id, lock=True)
        if data.id != external_id:
            checks = Checks()
            checks.add("id", "must be the id in the path (ids are not renamed)")
            checks.done()
        content = await self._content(conn, who, data)
        return await self._update(conn, who, before, content, payload, "correct")

    async def end(
        self, conn: asyncpg.Connection, who: Principal, external_id: str, data: r.RecordEnd, payload: bytes
    ) -> Any:
        """Set (or, with null, clear) the record's inclusive last day."""
        before = await self._stored(conn, who, external_id, lock=True)
        checks = Checks()
        checks.span(before.valid_from, data.to)
        checks.done()
        return await self._update(conn, who, before, {"valid_to": data.to}, payload, "end")

    async def get(
        self, conn: asyncpg.Connection, who: Principal, external_id: str, provider: str | None = None
    ) -> Any:
        """One record: a provider's own, or (invoice_admin, auditor) the named provider's. A read
        that shows a customer is audited."""
        key = (who.tenant_id, record_owner(who, provider), external_id)
        row = found(await store.record(conn, self.table, key), f"no {self.name} {external_id}")
        await audit_read(conn, who, f"{self.name}.read", _customers([row]))
        return self._out(row, who.role, single=True)

    async def listing(
        self, conn: asyncpg.Connection, who: Principal, provider: str | None, after: str, limit: int
    ) -> Any:
        """A provider's own records, or (invoice_admin, auditor) every provider's, optionally one's.
        The cursor is `provider:external_id`. A list that shows customers is audited (one entry)."""
        provider = listed_provider(who, provider)
        rows = await store.records(conn, self.table, who.tenant_id, provider, after_record(after), limit + 1)
        items, cursor = record_page(rows, limit)
        await audit_read(conn, who, f"{self.name}.list", _customers(items))
        return self.page(items=[self._out(x, who.role, single=False) for x in items], next_after=cursor)


def _customers(rows: Iterable[store.Record]) -> list[str]:
    return [label(x.pnr, x.ref) for x in rows if x.pnr]


async def _execution(
    conn: asyncpg.Connection, who: Principal, items: list[tuple[Checks, dict[str, Any]]]
) -> None:
    # A decision of a customer the provider is not (and was never) chosen for is, to it, unknown: the
    # same reply as for no such decision, so that no provider learns another's decisions (domain.md 2).
    wanted = list({c["decision_id"] for _, c in items})
    executable = await registry.executable_decisions(conn, who.tenant_id, wanted, who.provider_id)
    for checks, content in items:
        if content["decision_id"] not in executable:
            checks.add("decision", "unknown decision")


async def _pause(
    conn: asyncpg.Connection, who: Principal, items: list[tuple[Checks, dict[str, Any]]]
) -> None:
    # A pause stops granted time for every provider, so only the provider chosen on its first day may
    # register one (domain.md 2); the reply is the same for an unknown number, another provider's
    # customer and a protected one.
    asked = [(checks, content) for checks, content in items if content["pnr"]]
    chosen = await registry.chosen_providers(
        conn, who.tenant_id, [(c["pnr"], c["valid_from"]) for _, c in asked]
    )
    for (checks, _), provider in zip(asked, chosen, strict=True):
        if provider != who.provider_id:
            checks.add("customer", "not your customer (by a provider choice) on the pause's first day")


async def _delegation(
    conn: asyncpg.Connection, who: Principal, items: list[tuple[Checks, dict[str, Any]]]
) -> None:
    catalogue = await registry.catalogue(conn, who.tenant_id)
    for checks, content in items:
        insats = catalogue.get(content["insats_code"])
        if insats is None:
            checks.add("code", "unknown insats code")
        elif insats.report_type != "hsl_delegated":
            checks.add(
                "code", f"insats {insats.code} is not a delegable task (report type {insats.report_type})"
            )


EXECUTION = Kind("execution", store.EXECUTIONS, r.Execution, r.ExecutionPage, _execution)
PAUSE = Kind("pause", store.PAUSES, r.Pause, r.PausePage, _pause)
ENROLMENT = Kind("enrolment", store.ENROLMENTS, r.Enrolment, r.EnrolmentPage)
DELEGATION = Kind("delegation", store.DELEGATIONS, r.Delegation, r.DelegationPage, _delegation)


# A customer in a period (the workplace's screen 5) -------------------------------------------------

# Those who read every record of every provider (domain.md 2): the customer screen shows registry
# data, every provider's records and lines together.
CUSTOMER_READERS = ("invoice_admin", "auditor")
STOCKHOLM = ZoneInfo("Europe/Stockholm")  # whose month "this month" is


class CustomerLine(msgspec.Struct, frozen=True, kw_only=True):
    """One of the customer's lines: paid, held (its amount if approved), reduction or adjustment."""

    id: UUID
    provider: str
    kind: str
    component: str
    area: str
    zone: str | None
    quantity: str | None
    unit: str | None
    unit_price: Decimal | None
    amount: Decimal


class CustomerPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """A customer with what concerns it in a period: the decisions with their lines valid in it, every
    provider's pauses, enrolments and delegations valid on a day of it, and its lines in the period's
    current runs."""

    period: str
    customer: reg.Customer
    decisions: list[reg.Decision]
    pauses: list[r.Pause]
    enrolments: list[r.Enrolment]
    delegations: list[r.Delegation]
    lines: list[CustomerLine]


def _within(first: date, last: date, start: date, end: date | None) -> bool:
    return start <= last and (end is None or end >= first)


async def customer_period(
    conn: asyncpg.Connection, who: Principal, ref: str, period: str | None
) -> CustomerPeriod:
    """The customer in `period`, or else in the last period a run has lines of it (else this month,
    in Swedish time). Each read is audited as the JSON API audits it: `customer.read`, and `decision.list`,
    `pause.list`, `enrolment.list`, `delegation.list` and `lines.read` naming the customer when they
    show something. A fixed number of queries, whatever the customer has."""
    if who.role not in CUSTOMER_READERS:
        raise Forbidden("the customer screen is for invoice_admin and auditor")
    customer = await registry_cases.read_customer(conn, who, ref)
    row = found(await registry.customer(conn, who.tenant_id, ref), "no such customer")
    if not period:
        latest = await store.latest_line_period(conn, who.tenant_id, row.pnr)
        period = latest or datetime.now(STOCKHOLM).strftime("%Y-%m")
    month = period_of(period)
    first, last = month.first, month.last

    decided = await registry.decisions(conn, who.tenant_id, "", MAX_ROWS, ref)
    valid: dict[str, list[reg.DecisionLine]] = {d.id: [] for d in decided}
    for line in await registry.decision_lines(conn, who.tenant_id, decisions=list(valid)):
        if _within(first, last, line.valid_from, line.valid_to):
            valid[line.decision_id].append(registry_cases.line_view(line))
    decisions = [
        reg.Decision(
            id=d.id,
            customer=shown_pnr(d.pnr, d.protected, who.role, single=True),
            customer_ref=d.ref,
            decided=d.decided_on,
            lines=valid[d.id],
        )
        for d in decided
        if valid[d.id]
    ]
    await audit_read(conn, who, "decision.list", [d.customer_ref for d in decisions])

    records: dict[str, list[Any]] = {}
    for kind in (PAUSE, ENROLMENT, DELEGATION):
        rows = await store.customer_records(conn, kind.table, who.tenant_id, row.pnr, first, last)
        await audit_read(conn, who, f"{kind.name}.list", _customers(rows))
        records[kind.name] = [kind._out(x, who.role, single=True) for x in rows]

    seen = await viewer(conn, who, [row.pnr], single=True)
    lines = [
        CustomerLine(
            id=x.id,  # type: ignore[arg-type]
            provider=x.provider_id,
            kind=x.kind,
            component=x.component,
            area=x.area,
            zone=x.zone,
            quantity=None if x.quantity is None or x.unit is None else show_quantity(x.quantity, x.unit),
            unit=x.unit,
            unit_price=x.unit_price,
            amount=x.amount,
        )
        for x in await store.customer_lines(conn, who.tenant_id, row.pnr, str(month))
    ]
    if lines:
        seen.customer(row.pnr)  # the lines are the customer's
    await audit_shown(conn, who, seen, "lines.read")
    return CustomerPeriod(
        period=str(month),
        customer=customer,
        decisions=decisions,
        pauses=records["pause"],
        enrolments=records["enrolment"],
        delegations=records["delegation"],
        lines=lines,
    )
