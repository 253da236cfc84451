"""The registry import (domain.md 3, "Registry sync"): the case system's nightly export of customers
(with zones and choices) and decisions (with lines) in one request, all or nothing.

Rows are checked as the body streams in (every bad field of every row named) and copied into
staging tables a few thousand at a time (`service/store/registry_import.py`), so the service holds
a chunk of the body, not the batch. Then, imports of a tenant taking turns, the batch is checked
against the stored registry and compared with it in a few set-based statements: a record identical
to the stored one is unchanged (a replay writes nothing but the batch's audit entry), the new ones
are stored with one statement per table, and only a changed one comes back to Python, corrected
through the same core as the single-record routes (`service/usecases/registry.py`: versions marked
for the engine, per-record audit before/after, late data for a settled month). Records absent from
the export are left as they are; stored decision lines an exported decision leaves out too (ending
one is an explicit `to`).

Two imports of one tenant at once take turns (a transaction-scoped advisory lock): the second
compares with what the first stored, so a customer both create is created by the first and
unchanged for the second. A single-record route storing a record of the batch at the same moment
makes the import a 409, to be sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable

import asyncpg
from msgspec import UNSET

from schemas import registry as s
from service.domain.errors import Conflict
from service.domain.principal import Principal
from service.store import audit
from service.store import registry as store
from service.store import registry_import as staging
from service.usecases import registry
from service.usecases.ingestion import Checks, Rows

# Customers and decisions together: a Stockholm-sized registry (20 000 of each) fits.
MAX_ROWS = 50_000
# Checked rows are copied into the staging tables once this many wait.
STAGE_ROWS = 2_000


class Export(Rows):
    """The rows of one export, checked one by one as they arrive and staged in chunks. What is kept
    per row is what the checks across rows need: a content fingerprint per customer and decision
    (the same record twice must say the same), and which decision each line id belongs to."""

    def __init__(
        self, conn: asyncpg.Connection, providers: set[str], insatser: dict[str, store.Insats]
    ) -> None:
        super().__init__(s.ImportRow, MAX_ROWS, "customers and decisions")
        self.conn = conn
        self.providers = providers
        self.insatser = insatser
        self.staged = staging.Staged()
        self._copying: asyncio.Task[None] | None = None
        self.customers: dict[str, tuple[int, int]] = {}  # number -> (row, fingerprint)
        self.decisions: dict[str, tuple[int, int]] = {}  # id -> (row, fingerprint)
        self._line_owner: dict[str, str] = {}  # line id -> decision id, within the batch
        self._pnrs: dict[str, tuple[str, list[dict]]] = {}  # text -> (number, problems): once each

    def _pnr(self, checks: Checks, text: str, field: str) -> str:
        # A customer's number comes again in its decisions: check each text once.
        known = self._pnrs.get(text)
        if known is None:
            once = Checks()
            known = self._pnrs[text] = (once.pnr(text, field), once.errors)
        for e in known[1]:
            checks.add(field, e["message"])
        return known[0]

    def check(self, index: int, row: s.ImportRow) -> None:
        checks = Checks()
        if isinstance(row, s.CustomerRow):
            self._customer(index, row, checks)
        else:
            self._decision(index, row, checks)
        if checks.errors:
            self.errors.extend({"row": index, **e} for e in checks.errors)

    def _customer(self, index: int, row: s.CustomerRow, checks: Checks) -> None:
        pnr = self._pnr(checks, row.pnr, "pnr")
        registry.history_problems(checks, row.zones, row.choices, self.providers)
        if checks.errors:
            return
        zones = sorted((z.from_, z.zone) for z in row.zones)
        choices = sorted((c.from_, c.to, c.provider) for c in row.choices)
        fingerprint = hash((row.name, row.protected, tuple(zones), tuple(choices)))
        seen = self.customers.setdefault(pnr, (index, fingerprint))
        if seen[0] != index:
            if seen[1] != fingerprint:
                checks.add("pnr", f"repeats the customer of row {seen[0]} with other content")
            return
        staged = self.staged
        named = row.name is not UNSET  # an absent name keeps the stored one
        staged.customers.append((index, pnr, row.name if named else None, named, row.protected))
        staged.zones.extend((pnr, day, zone) for day, zone in zones)
        staged.choices.extend((pnr, *c) for c in choices)

    def _decision(self, index: int, row: s.DecisionRow, checks: Checks) -> None:
        pnr = self._pnr(checks, row.customer, "customer")
        seen_lines: set[str] = set()
        for i, line in enumerate(row.lines):
            registry.check_line(checks, line, self.insatser, f"lines[{i}].")
            owner = self._line_owner.get(line.id, row.id)
            if line.id in seen_lines or owner != row.id:
                checks.add(f"lines[{i}].id", f"the line id is used twice (decision {owner})")
            seen_lines.add(line.id)
        if checks.errors:
            return
        decided = row.decided or min(line.from_ for line in row.lines)
        lines = [(x.id, x.code, x.category, x.minutes, x.occasions, x.per, x.from_, x.to) for x in row.lines]
        fingerprint = hash((pnr, decided, frozenset(lines)))  # line ids are distinct
        seen = self.decisions.setdefault(row.id, (index, fingerprint))
        if seen[0] != index:
            if seen[1] != fingerprint:
                checks.add("id", f"repeats the decision of row {seen[0]} with other content")
            return
        for line_id in seen_lines:
            self._line_owner[line_id] = row.id
        self.staged.decisions.append((index, row.id, pnr, decided))
        self.staged.lines.extend(
            (index, pos, line_id, row.id, *rest) for pos, (line_id, *rest) in enumerate(lines)
        )

    async def arrived(self) -> None:
        if len(self.staged) >= STAGE_ROWS:
            await self.copied()
            rows, self.staged = self.staged, staging.Staged()
            # PostgreSQL stores one chunk while the next is checked.
            self._copying = asyncio.create_task(staging.stage(self.conn, rows))

    async def copied(self) -> None:
        """Wait for the chunk being copied, if any (the connection does one thing at a time)."""
        if self._copying is not None:
            copying, self._copying = self._copying, None
            await copying

    async def checked(self, tenant: str) -> None:
        """The checks against the stored registry (customers of decisions, decisions of other
        customers, line ids of other decisions), the batch staged whole; 422 when a row is bad."""
        await self.copied()
        await staging.stage(self.conn, self.staged)
        await staging.mark_known(self.conn, tenant)
        for index in await staging.unknown_customers(self.conn, tenant):
            self.error(index, "customer", "unknown customer; register the customer first")
        for index, decision_id in await staging.decisions_of_others(self.conn, tenant):
            self.error(index, "customer", f"decision {decision_id} is stored for another customer")
        for index, pos, other in await staging.lines_of_others(self.conn, tenant):
            self.error(
                index,
                f"lines[{pos}].id",
                f"decision line ids are unique per tenant; used by decision {other}",
            )
        self.done()


async def import_registry(
    conn: asyncpg.Connection, who: Principal, body: bytes | AsyncIterable[bytes]
) -> s.ImportResult:
    """Store an export: a JSON array (`bytes`) or NDJSON read as it arrives (chunks) of tagged
    customers and decisions. Nothing is stored when a row is bad (422)."""
    tenant = who.tenant_id
    providers = await store.provider_ids(conn, tenant)
    export = Export(conn, providers, await store.catalogue(conn, tenant))
    await staging.prepare(conn)
    try:
        await export.read(body)
    finally:
        await export.copied()
    # From here to the commit this tenant's imports take turns: each compares with what the one
    # before it stored.
    await staging.lock_tenant(conn, tenant)
    await export.checked(tenant)
    new_customers = await staging.new_customers(conn)
    try:
        new_decisions = await staging.insert_new(
            conn, tenant, [registry.new_ref() for _ in range(new_customers)]
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "another request stored some of these customers or decisions at the same time; nothing of "
            "this batch was stored: send it again"
        ) from None
    changed_customers = await _customers(conn, who)
    changed_decisions = await _decisions(conn, who)
    result = s.ImportResult(
        received=export.received,
        customers=s.ImportCounts(
            created=new_customers,
            changed=len(changed_customers),
            unchanged=len(export.customers) - new_customers - len(changed_customers),
        ),
        decisions=s.ImportCounts(
            created=new_decisions,
            changed=len(changed_decisions),
            unchanged=len(export.decisions) - new_decisions - len(changed_decisions),
        ),
        changed_customers=changed_customers,
        changed_decisions=changed_decisions,
    )
    await audit.record(
        conn,
        who,
        action="registry.import",
        entity_kind="registry_batch",
        payload_sha256=export.digest.hexdigest(),
        after={
            "received": result.received,
            "customers": result.customers,
            "decisions": result.decisions,
        },
    )
    return result


async def _customers(conn: asyncpg.Connection, who: Principal) -> list[str]:
    """Correct the stored customers the export changes; their refs."""
    changed = await staging.changed_customers(conn, who.tenant_id)
    pnrs = [c.pnr for c in changed]
    stored = await store.customers_by_pnr(conn, who.tenant_id, pnrs)
    histories = await store.histories(conn, who.tenant_id, pnrs)
    refs = []
    for wanted in changed:
        row = stored[wanted.pnr]
        protected = row.protected if wanted.protected is None else wanted.protected
        name = wanted.name if wanted.named else row.name
        zones, choices = histories[wanted.pnr]
        before = (
            [s.ZoneEntry(from_=z.valid_from, zone=z.zone) for z in zones],
            [s.Choice(from_=c.valid_from, to=c.valid_to, provider=c.provider_id) for c in choices],
        )
        after = (
            [s.ZoneEntry(from_=z.valid_from, zone=z.zone) for z in wanted.zones],
            [s.Choice(from_=c.valid_from, to=c.valid_to, provider=c.provider_id) for c in wanted.choices],
        )
        if (row.name, row.protected) != (name, protected):
            correction = s.CustomerCorrection(name=name, protected=protected)
            row = await registry.store_correction(conn, who, row, correction, None)
        if before != after:
            await registry.store_history(conn, who, row, before, after, "customer.import", None)
        refs.append(row.ref)
    return refs


async def _decisions(conn: asyncpg.Connection, who: Principal) -> list[str]:
    """Correct the stored decisions the export changes (their date, new and changed lines); their ids."""
    changed: set[str] = set()
    decided = await staging.changed_decided(conn, who.tenant_id)
    stored = await store.decisions_by_id(conn, who.tenant_id, [i for i, _ in decided])
    for decision_id, day in decided:
        await registry.store_decided(conn, who, stored[decision_id], day, None)
        changed.add(decision_id)
    for line, before in await staging.changed_lines(conn, who.tenant_id):
        if before is None:
            await store.insert_lines(conn, who.tenant_id, [line])
            await registry.audit_line(conn, who, "add", line, None, after=registry.line_view(line))
        else:
            await store.update_line(conn, who.tenant_id, line)
            await registry.audit_line(
                conn,
                who,
                "correct",
                line,
                None,
                before=registry.line_view(before),
                after=registry.line_view(line),
            )
        changed.add(line.decision_id)
    return sorted(changed)
