"""Reconciliation runs: start one (invoice_admin), read runs, their result document, a provider-period's
lines and held lines, and one line with its trail.

A provider key sees only its own provider's part, phrased from its own view; `reader` sees lines with
customers as references. Reads that show a personnummer are audited with the customers they showed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import date
from fractions import Fraction
from uuid import UUID, uuid4

import asyncpg
import msgspec

from schemas import reconcile as s
from service.domain.errors import Invalid, NotFound, Problem
from service.domain.lines import ZERO, Amounted, InvoiceLine, exact_text, show, totals, totals_by_area
from service.domain.periods import Period, show_ranges
from service.domain.principal import Principal
from service.events import event
from service.reconcile import engine
from service.store import audit, discrepancies, progress, runs, tariffs
from service.usecases import documents as document
from service.usecases.access import own_provider, require_visible
from service.usecases.viewers import audit_shown, viewer


def period_of(text: str, field: str = "period") -> Period:
    try:
        return Period.parse(text)
    except ValueError as err:
        raise Invalid(str(err), [{"field": field, "message": str(err)}]) from None


async def visible_run(conn: asyncpg.Connection, who: Principal, run_id: UUID) -> runs.RunRow:
    """A run the caller may see: a provider key sees runs of all providers and its own."""
    run = await runs.get(conn, who.tenant_id, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    require_visible(who, run.provider_id, f"no run {run_id}")
    return run


def _run(row: runs.RunRow) -> s.Run:
    return s.Run(
        id=row.id,
        period=row.period,
        provider=row.provider_id,
        kind=row.kind,  # type: ignore[arg-type]
        tariff=row.forced_tariff,
        tariffs=row.tariffs,
        started_by=row.started_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        input_seq=row.input_seq,
        input_marks=row.input_marks,
        decision_seq=row.decision_seq,
        grand_total=row.grand_total,
        providers=[
            s.RunProvider(
                provider=p["provider"], total=p["total"], held=p["held"], open_blocking=p["open_blocking"]
            )
            for p in row.summary["providers"]
        ],
        discrepancy_counts=row.summary["discrepancy_counts"],
        warnings=row.warnings,
    )


async def begin_run(conn: asyncpg.Connection, who: Principal, data: s.RunIn) -> UUID:
    """Announce a run of a period: from now on any service process can show how far it has come
    (`run_progress`); `start_run` with the id returned carries it out."""
    announced = uuid4()
    await progress.begin(
        conn,
        who.tenant_id,
        announced,
        period=str(period_of(data.period)),
        provider=data.provider,
        forced=data.tariff,
        started_by=who.name,
    )
    return announced


async def start_run(
    pool: asyncpg.Pool, who: Principal, data: s.RunIn, announced: UUID | None = None
) -> s.Run:
    """Reconcile a period; every run stored (and first the recomputations of settled periods it books
    adjustments from) is its own audit entry, written in the transaction that stores it. Its progress
    is written as it goes (to `announced`, or to a progress row of its own); the row is marked done
    in the transaction that stores the run."""
    period = period_of(data.period)
    if announced is None:
        async with pool.acquire() as conn:
            announced = await begin_run(conn, who, data)

    async def step(conn: asyncpg.Connection, phase: str, recomputes: int) -> None:
        await progress.step(conn, who.tenant_id, announced, phase, recomputes)

    async def audited(conn: asyncpg.Connection, stored: runs.RunRow) -> None:
        if stored.kind == "recompute":
            await progress.recomputed(conn, who.tenant_id, announced)
        else:
            await progress.done(conn, who.tenant_id, announced, stored.id)
        lines = await runs.line_count(conn, who.tenant_id, stored.id)
        discrepancies = sum(stored.summary["discrepancy_counts"].values())
        await audit.record(
            conn,
            who,
            action="run.create",
            entity_kind="run",
            entity_ids=[str(stored.id)],
            after={
                "period": stored.period,
                "provider": stored.provider_id,
                "kind": stored.kind,
                "forced_tariff": stored.forced_tariff,
                "tariffs": stored.tariffs,
                "grand_total": stored.grand_total,
                "lines": lines,
                "discrepancies": discrepancies,
            },
        )
        event(
            "run.stored",
            tenant=who.tenant_id,
            run=str(stored.id),
            period=stored.period,
            provider=stored.provider_id,
            kind=stored.kind,
            grand_total=stored.grand_total,
            lines=lines,
            discrepancies=discrepancies,
            duration_ms=stored.duration_ms,
            by=who.role,
        )

    try:
        row = await engine.run(
            pool,
            who,
            period=period,
            provider=data.provider,
            forced=data.tariff,
            on_saved=audited,
            on_step=step,
        )
    except BaseException as err:
        # If even this cannot be written (the database gone), the row goes stale: read as interrupted.
        with contextlib.suppress(Exception):
            async with pool.acquire() as conn:
                await progress.failed(conn, who.tenant_id, announced, _failure(err))
        raise
    return _run(row)


def _failure(err: BaseException) -> str:
    """What a failed run's progress says: a refusal's own words; of anything else only its kind (the
    log has the rest)."""
    if isinstance(err, asyncio.CancelledError):
        return "the service stopped while it ran"
    return str(err) if isinstance(err, Problem) else f"internal error ({type(err).__name__})"


def _progress(row: progress.Progress) -> s.RunProgress:
    return s.RunProgress(
        id=row.id,
        period=row.period,
        provider=row.provider_id,
        tariff=row.forced_tariff,
        started_by=row.started_by,
        started_at=row.started_at,
        updated_at=row.updated_at,
        phase=row.phase,  # type: ignore[arg-type]
        recomputes=row.recomputes,
        recomputed=row.recomputed,
        state=row.state,  # type: ignore[arg-type]
        run=row.run_id,
        error=row.error,
    )


async def run_progress(conn: asyncpg.Connection, who: Principal, announced: UUID) -> s.RunProgress:
    found = await progress.get(conn, who.tenant_id, announced)
    if found is None:
        raise NotFound(f"no run {announced}")
    require_visible(who, found.provider_id, f"no run {announced}")
    return _progress(found)


async def runs_under_way(conn: asyncpg.Connection, who: Principal) -> s.RunsUnderWay:
    """The runs under way now, whoever started them (on a page or through the API), oldest first."""
    under_way = await progress.running(conn, who.tenant_id)
    return s.RunsUnderWay(
        items=[
            _progress(p)
            for p in under_way
            if who.role != "provider" or p.provider_id in (None, who.provider_id)
        ]
    )


async def list_runs(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    period: str | None,
    run_kind: str | None,
    after: str | None,
    limit: int,
) -> s.RunPage:
    """Newest first; `after` is the `next_after` of the previous page."""
    rows = await runs.list_runs(
        conn,
        who.tenant_id,
        period=str(period_of(period)) if period else None,
        kind=run_kind,
        before=int(after) if after and after.isdigit() else None,
        limit=limit + 1,
    )
    return s.RunPage(
        items=[_run(r) for r in rows[:limit]],
        next_after=str(rows[limit - 1].seq) if len(rows) > limit else None,
    )


async def get_run(conn: asyncpg.Connection, who: Principal, run_id: UUID) -> s.Run:
    return _run(await visible_run(conn, who, run_id))


async def run_result(
    conn: asyncpg.Connection, who: Principal, run_id: UUID, explain: document.Explain
) -> s.ResultDocument:
    """The run's result document (examples/README.md); a provider key gets its own provider's part."""
    run = await visible_run(conn, who, run_id)
    only = own_provider(who, None)
    scope = await runs.providers(conn, who.tenant_id, run.provider_id)
    lines = await runs.lines(conn, who.tenant_id, run_id, only)
    findings = await discrepancies.find(conn, who.tenant_id, run_id=run_id, provider=only, limit=1_000_000)
    shown = await viewer(conn, who, [*(x.pnr for x in lines), *(f.pnr for f in findings)])
    components = list((await tariffs.components(conn, who.tenant_id, run.tariffs)).values())
    figures = await runs.followup(conn, who.tenant_id, run_id, only)
    result = document.build(who.tenant_id, run, scope, lines, findings, components, shown, figures, explain)
    await audit_shown(conn, who, shown, "run_result.read")
    return result


async def _provider_run(
    conn: asyncpg.Connection, who: Principal, period: str, provider: str, run_id: UUID | None
) -> tuple[runs.RunRow, str]:
    """The run whose lines of a provider-period are shown (the period's current real run unless one is
    named), and the provider's name."""
    own_provider(who, provider)
    names = dict(await runs.providers(conn, who.tenant_id, provider))
    if provider not in names:
        raise NotFound(f"no provider {provider}")
    month = str(period_of(period))
    if run_id is None:
        run = await runs.current(conn, who.tenant_id, month, provider)
        if run is None:
            raise NotFound(f"no run of {month} covers {provider}")
    else:
        run = await visible_run(conn, who, run_id)
        if run.period != month or run.provider_id not in (None, provider):
            raise NotFound(f"run {run_id} does not cover {provider} in {month}")
    return run, names[provider]


async def provider_lines(
    conn: asyncpg.Connection,
    who: Principal,
    period: str,
    provider: str,
    run_id: UUID | None,
) -> s.ProviderLines:
    """A provider-period's lines, reductions and adjustments, with totals per component and area."""
    run, name = await _provider_run(conn, who, period, provider, run_id)
    every = [x for x in await runs.lines(conn, who.tenant_id, run.id, provider) if x.kind != "held"]
    listed = [x for x in every if x.kind == "line"]
    return await _lines_of(
        conn, who, run, provider, name, listed, [x for x in every if x.kind != "line"], every
    )


async def _lines_of(
    conn: asyncpg.Connection,
    who: Principal,
    run: runs.RunRow,
    provider: str,
    name: str,
    listed: list[InvoiceLine],
    others: list[InvoiceLine],
    sums: Iterable[Amounted],
) -> s.ProviderLines:
    """The lines `listed`, the reductions and adjustments among `others`, and the totals of `sums`
    (the lines of the whole period, or their sums)."""
    shown = await viewer(conn, who, (x.pnr for x in (*listed, *others)))
    components = list((await tariffs.components(conn, who.tenant_id, run.tariffs)).values())
    sums = list(sums)
    by_component = totals(sums, components)
    result = s.ProviderLines(
        period=run.period,
        provider=provider,
        name=name,
        run=run.id,
        kind=run.kind,  # type: ignore[arg-type]
        tariffs=run.tariffs,
        lines=[document.result_line(x, shown) for x in listed],
        reductions=[document.result_reduction(x, shown) for x in others if x.kind == "reduction"],
        adjustments=[document.result_adjustment(x, shown) for x in others if x.kind == "adjustment"],
        totals=by_component,
        totals_by_area=totals_by_area(sums),
        total=sum(by_component.values(), ZERO),
    )
    await audit_shown(conn, who, shown, "lines.read")
    return result


async def held_lines(
    conn: asyncpg.Connection, who: Principal, period: str, provider: str, run_id: UUID | None
) -> s.ProviderHeld:
    """A provider-period's held lines, each with the discrepancy holding it and its amount if approved."""
    run, _ = await _provider_run(conn, who, period, provider, run_id)
    return await _held_of(
        conn, who, run, provider, await runs.lines(conn, who.tenant_id, run.id, provider, kinds=["held"])
    )


async def provider_page(
    conn: asyncpg.Connection, who: Principal, period: str, provider: str, page: slice
) -> tuple[s.ProviderLines, s.ProviderHeld]:
    """The workplace's lines page: a slice of the current run's lines with the period's totals
    (summed in the database), its reductions and adjustments, and the held lines."""
    run, name = await _provider_run(conn, who, period, provider, None)
    tenant = who.tenant_id
    listed = await runs.lines(
        conn, tenant, run.id, provider, kinds=["line"], offset=page.start, limit=page.stop - page.start
    )
    others = await runs.lines(conn, tenant, run.id, provider, kinds=["held", "reduction", "adjustment"])
    sums = await runs.line_sums(conn, tenant, run.id, provider)
    return (
        await _lines_of(
            conn, who, run, provider, name, listed, [x for x in others if x.kind != "held"], sums
        ),
        await _held_of(conn, who, run, provider, [x for x in others if x.kind == "held"]),
    )


async def _held_of(
    conn: asyncpg.Connection, who: Principal, run: runs.RunRow, provider: str, held: list[InvoiceLine]
) -> s.ProviderHeld:
    shown = await viewer(conn, who, (x.pnr for x in held))
    result = s.ProviderHeld(
        period=run.period,
        provider=provider,
        run=run.id,
        held=[document.result_held(x, shown) for x in held],
        total_if_approved=sum((x.amount for x in held), ZERO),
    )
    await audit_shown(conn, who, shown, "held_lines.read")
    return result


def _trail(rows: runs.TrailRows, line: InvoiceLine) -> s.Trail:
    days = [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in line.detail.get("days", [])]
    return s.Trail(
        days=show_ranges(days),
        decision_lines=[msgspec.convert(r, s.TrailDecisionLine) for r in rows.decision_lines],
        delegations=[msgspec.convert(r, s.TrailPeriodRecord) for r in rows.delegations],
        enrolments=[msgspec.convert(r, s.TrailPeriodRecord) for r in rows.enrolments],
        visits=[
            s.TrailVisit(
                **{k: v for k, v in r.items() if k != "seconds"},
                minutes=show(Fraction(r["seconds"]) / 60),
            )
            for r in rows.visits
        ],
        claims=[s.TrailClaim(**r) for r in rows.claims],
        approvals=[msgspec.convert(a, s.TrailApproval, from_attributes=True) for a in rows.approvals],
    )


async def line_detail(conn: asyncpg.Connection, who: Principal, line_id: UUID) -> s.LineDetail:
    """One line with its full trail: decision lines, days, visits, enrolments, claims, approvals."""
    line = await runs.line(conn, who.tenant_id, line_id)
    if line is None:
        raise NotFound(f"no line {line_id}")
    require_visible(who, line.provider_id, f"no line {line_id}")
    run = await visible_run(conn, who, line.run_id)
    shown = await viewer(conn, who, [line.pnr], single=True)
    view = (
        document.result_held(line, shown)
        if line.kind == "held"
        else document.result_reduction(line, shown)
        if line.kind == "reduction"
        else document.result_adjustment(line, shown)
        if line.kind == "adjustment"
        else document.result_line(line, shown)
    )
    result = s.LineDetail(
        id=line.id,
        run=run.id,
        run_kind=run.kind,  # type: ignore[arg-type]
        period=run.period,
        provider=line.provider_id,
        kind=line.kind,  # type: ignore[arg-type]
        component=line.component,
        area=line.area,
        basis=line.basis,
        tariff=line.tariff_id,
        rule=line.rule,
        customer=shown.customer(line.pnr),
        customer_ref=shown.ref(line.pnr),
        zone=line.zone,
        unit=line.unit,
        quantity=getattr(view, "quantity", None),
        quantity_exact=exact_text(line.quantity) if line.quantity is not None else None,
        unit_price=line.unit_price,
        amount=line.amount,
        held_by=line.held_by and shown.text(line.held_by, line.pnr),
        discrepancy=line.discrepancy,
        sources=view.sources,
        detail=document.line_detail(line),
        trail=_trail(await runs.trail(conn, who.tenant_id, line), line),
    )
    await audit_shown(conn, who, shown, "line.read")
    return result
