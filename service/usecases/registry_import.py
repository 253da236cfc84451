"""The registry import (domain.md 3, "Registry sync"): the case system's nightly export of customers
(with zones and choices) and decisions (with lines) in one request, all or nothing.

Rows are checked as the body streams in (every bad field of every row named), then the batch is
compared with what is stored in a few set queries: a record identical to the stored one is
unchanged (a replay writes nothing but the batch's audit entry), a new one is stored in a few
statements, and a changed one is corrected through the same core as the single-record routes
(`service/usecases/registry.py`: versions marked for the engine, per-record audit before/after, late
data for a settled month). Records absent from the export are left as they are; stored decision
lines an exported decision leaves out too (ending one is an explicit `to`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable

import asyncpg
from msgspec import UNSET

from schemas import registry as s
from service.domain.principal import Principal
from service.store import audit
from service.store import registry as store
from service.usecases import registry
from service.usecases.ingestion import Checks, Rows

# Customers and decisions together: a Stockholm-sized registry (20 000 of each) fits.
MAX_ROWS = 50_000


class _Customer:
    __slots__ = ("choices", "index", "name", "pnr", "protected", "zones")

    def __init__(self, index: int, pnr: str, row: s.CustomerRow) -> None:
        self.index, self.pnr, self.name, self.protected = index, pnr, row.name, row.protected
        self.zones = sorted(row.zones, key=lambda z: z.from_)
        self.choices = registry.sorted_choices(row.choices)

    def same(self, other: _Customer) -> bool:
        return (self.name, self.protected, self.zones, self.choices) == (
            other.name,
            other.protected,
            other.zones,
            other.choices,
        )


class _Decision:
    __slots__ = ("decided", "index", "lines", "pnr")

    def __init__(self, index: int, pnr: str, row: s.DecisionRow) -> None:
        self.index, self.pnr = index, pnr
        self.decided = row.decided or min(line.from_ for line in row.lines)
        self.lines = {line.id: registry.line_row(row.id, line) for line in row.lines}


class Export(Rows):
    """The rows of one export, checked one by one as they arrive; `checked` adds the checks that
    need the stored registry (customers of decisions, line ids of other decisions)."""

    def __init__(self, providers: set[str], insatser: dict[str, store.Insats]) -> None:
        super().__init__(s.ImportRow, MAX_ROWS, "customers and decisions")
        self.providers = providers
        self.insatser = insatser
        self.customers: dict[str, _Customer] = {}
        self.decisions: dict[str, _Decision] = {}
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
        self.errors.extend({"row": index, **e} for e in checks.errors)

    def _customer(self, index: int, row: s.CustomerRow, checks: Checks) -> None:
        pnr = self._pnr(checks, row.pnr, "pnr")
        registry.history_problems(checks, row.zones, row.choices, self.providers)
        if checks.errors:
            return
        wanted = _Customer(index, pnr, row)
        seen = self.customers.setdefault(pnr, wanted)
        if seen is not wanted and not seen.same(wanted):
            checks.add("pnr", f"repeats the customer of row {seen.index} with other content")

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
        wanted = _Decision(index, pnr, row)
        seen = self.decisions.setdefault(row.id, wanted)
        if seen is not wanted:
            if (seen.pnr, seen.decided, seen.lines) != (pnr, wanted.decided, wanted.lines):
                checks.add("id", f"repeats the decision of row {seen.index} with other content")
            return
        for line_id in wanted.lines:
            self._line_owner[line_id] = row.id

    async def checked(
        self, conn: asyncpg.Connection, tenant: str
    ) -> tuple[dict[str, store.Customer], dict[str, store.Decision], dict[str, store.DecisionLine]]:
        """The stored counterparts of the batch's records, after the checks against them."""
        pnrs = set(self.customers) | {d.pnr for d in self.decisions.values()}
        customers = await store.customers_by_pnr(conn, tenant, list(pnrs))
        decisions = await store.decisions_by_id(conn, tenant, list(self.decisions))
        lines = {
            x.id: x
            for x in await store.decision_lines(
                conn, tenant, decisions=list(self.decisions), ids=list(self._line_owner)
            )
        }
        for decision_id, d in self.decisions.items():
            if d.pnr not in customers and d.pnr not in self.customers:
                self.error(d.index, "customer", "unknown customer; register the customer first")
            stored = decisions.get(decision_id)
            if stored is not None and stored.pnr != d.pnr:
                self.error(d.index, "customer", f"decision {decision_id} is stored for another customer")
            for i, line_id in enumerate(d.lines):
                other = lines.get(line_id)
                if other is not None and other.decision_id != decision_id:
                    self.error(
                        d.index,
                        f"lines[{i}].id",
                        f"decision line ids are unique per tenant; used by decision {other.decision_id}",
                    )
        self.done()
        return customers, decisions, lines


async def import_registry(
    conn: asyncpg.Connection, who: Principal, body: bytes | AsyncIterable[bytes]
) -> s.ImportResult:
    """Store an export: a JSON array (`bytes`) or NDJSON read as it arrives (chunks) of tagged
    customers and decisions. Nothing is stored when a row is bad (422)."""
    tenant = who.tenant_id
    providers = await store.provider_ids(conn, tenant)
    export = Export(providers, await store.catalogue(conn, tenant))
    await export.read(body)
    customers, decisions, lines = await export.checked(conn, tenant)
    changed_customers = await _customers(conn, who, export, customers)
    changed_decisions = await _decisions(conn, who, export, decisions, lines)
    new_customers = sum(1 for pnr in export.customers if pnr not in customers)
    new_decisions = sum(1 for d in export.decisions if d not in decisions)
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


async def _customers(
    conn: asyncpg.Connection, who: Principal, export: Export, stored: dict[str, store.Customer]
) -> list[str]:
    """Store the new customers in a few statements and correct the changed ones; the changed refs."""
    new = [
        (
            store.Customer(
                pnr=c.pnr,
                ref=registry.new_ref(),
                name=None if c.name is UNSET else c.name,
                protected=bool(c.protected),
            ),
            [store.Zone(valid_from=z.from_, zone=z.zone) for z in c.zones],
            [store.Choice(valid_from=x.from_, valid_to=x.to, provider_id=x.provider) for x in c.choices],
        )
        for c in export.customers.values()
        if c.pnr not in stored
    ]
    await store.insert_customers(conn, who.tenant_id, new)
    known = [pnr for pnr in export.customers if pnr in stored]
    histories = await store.histories(conn, who.tenant_id, known)
    changed = []
    for pnr in known:
        wanted, row = export.customers[pnr], stored[pnr]
        protected = row.protected if wanted.protected is None else wanted.protected
        name = row.name if wanted.name is UNSET else wanted.name
        zones, choices = histories[pnr]
        before = (
            [s.ZoneEntry(from_=z.valid_from, zone=z.zone) for z in zones],
            [s.Choice(from_=c.valid_from, to=c.valid_to, provider=c.provider_id) for c in choices],
        )
        moved = before != (wanted.zones, wanted.choices)
        renamed = (row.name, row.protected) != (name, protected)
        if renamed:
            correction = s.CustomerCorrection(name=name, protected=protected)
            row = await registry.store_correction(conn, who, row, correction, None)
        if moved:
            after = (wanted.zones, wanted.choices)
            await registry.store_history(conn, who, row, before, after, "customer.import", None)
        if renamed or moved:
            changed.append(row.ref)
    return changed


async def _decisions(
    conn: asyncpg.Connection,
    who: Principal,
    export: Export,
    stored: dict[str, store.Decision],
    lines: dict[str, store.DecisionLine],
) -> list[str]:
    """Store the new decisions in two statements and correct the changed ones; the changed ids."""
    new = {i: d for i, d in export.decisions.items() if i not in stored}
    await store.insert_decisions(conn, who.tenant_id, [(i, d.pnr, d.decided) for i, d in new.items()])
    await store.insert_lines(conn, who.tenant_id, [x for d in new.values() for x in d.lines.values()])
    changed = []
    for decision_id, row in stored.items():
        wanted = export.decisions[decision_id]
        touched = False
        if row.decided_on != wanted.decided:
            await registry.store_decided(conn, who, row, wanted.decided, None)
            touched = True
        for line in wanted.lines.values():
            before = lines.get(line.id)
            if before is None:
                await store.insert_lines(conn, who.tenant_id, [line])
                await registry.audit_line(conn, who, "add", line, None, after=registry.line_view(line))
            elif before != line:
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
            else:
                continue
            touched = True
        if touched:
            changed.append(decision_id)
    return sorted(changed)
