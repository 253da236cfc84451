"""Reconciliation: runs (invoice_admin), their results, lines and discrepancies, and decisions.

A `provider` key sees only its own provider's lines and discrepancies, phrased from its own view;
`reader` sees lines and totals with customers as references. Reads that show a personnummer are
written to the audit log with the customers they showed.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas import reconcile as s
from service.auth import allow
from service.domain.errors import Invalid, NotFound
from service.domain.lines import exact_text
from service.domain.periods import Period
from service.domain.principal import Principal
from service.http import views
from service.http.deps import Conn
from service.reconcile import engine
from service.store import discrepancies, runs, tariffs
from service.usecases import documents as document

Req = Request[Principal, None, State]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


def _period(text: str, field: str = "period") -> Period:
    try:
        return Period.parse(text)
    except ValueError as err:
        raise Invalid(str(err), [{"field": field, "message": str(err)}]) from None


def _own(who: Principal, provider: str | None) -> str | None:
    """A provider key acts for its own provider only."""
    if who.role != "provider":
        return provider
    if provider is not None and provider != who.provider_id:
        raise PermissionDeniedException("a provider key sees only its own provider")
    return who.provider_id


def _run_view(row: runs.RunRow) -> s.Run:
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


# Runs ----------------------------------------------------------------------------------------


@post(
    "/v1/runs",
    operation_id="startRun",
    tags=["reconciliation"],
    guards=[allow("invoice_admin")],
    status_code=201,
    summary="Reconcile a period for every provider or one; with `tariff`, a what-if kept apart",
    description="Prices the period from the registry, decisions, visits and claims under the tariff "
    "versions in force (or, with `tariff`, every day under that version), applies the decisions on "
    "discrepancies made so far, and stores the lines, held lines, reductions and discrepancies. "
    "Re-running on unchanged inputs yields identical lines.",
)
async def start_run(request: Req, state: State, data: JSONBody[s.RunIn]) -> s.Run:
    row = await engine.run(
        state.pool, request.user, period=_period(data.period), provider=data.provider, forced=data.tariff
    )
    return _run_view(row)


@get(
    "/v1/runs",
    operation_id="listRuns",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor")],
    summary="Runs, newest first",
)
async def list_runs(
    request: Req,
    conn: Conn,
    period: FromQuery[str | None] = None,
    kind: Annotated[str | None, QueryParameter(pattern="^(real|whatif|recompute)$")] = None,
    after: Annotated[str | None, QueryParameter(description="`next_after` of the previous page")] = None,
    limit: Limit = 100,
) -> s.RunPage:
    before = int(after) if after and after.isdigit() else None
    rows = await runs.list_runs(
        conn,
        request.user.tenant_id,
        period=str(_period(period)) if period else None,
        kind=kind,
        before=before,
        limit=limit + 1,
    )
    return s.RunPage(
        items=[_run_view(r) for r in rows[:limit]],
        next_after=str(rows[limit - 1].seq) if len(rows) > limit else None,
    )


@get(
    "/v1/runs/{run_id:uuid}",
    operation_id="getRun",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor")],
    summary="A run: who, when, the inputs' high-water marks, duration and totals",
)
async def get_run(request: Req, conn: Conn, run_id: FromPath[UUID]) -> s.Run:
    return _run_view(await runs.get(conn, request.user.tenant_id, run_id))


@get(
    "/v1/runs/{run_id:uuid}/result",
    operation_id="getRunResult",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="A run's result document (lines, reductions, held lines, totals, discrepancies)",
    description="The result format of examples/README.md. A provider key gets its own provider's part.",
)
async def get_run_result(request: Req, conn: Conn, run_id: FromPath[UUID]) -> s.ResultDocument:
    who = request.user
    run = await runs.get(conn, who.tenant_id, run_id)
    if who.role == "provider" and run.provider_id not in (None, who.provider_id):
        raise NotFound(f"no run {run_id}")
    scope = await runs.providers(conn, who.tenant_id, run.provider_id)
    lines = await runs.lines(conn, who.tenant_id, run_id, _own(who, None))
    findings = await discrepancies.find(
        conn, who.tenant_id, run_id=run_id, provider=_own(who, None), limit=1_000_000
    )
    viewer = await views.viewer(conn, who, [*(x.pnr for x in lines), *(f.pnr for f in findings)])
    components = list((await tariffs.components(conn, who.tenant_id, run.tariffs)).values())
    figures = await runs.followup(conn, who.tenant_id, run_id, _own(who, None))
    result = document.build(who.tenant_id, run, scope, lines, findings, components, viewer, figures)
    await views.audit_shown(conn, who, viewer, "run_result.read")
    return result


# Lines ---------------------------------------------------------------------------------------


async def _provider_run(conn: Conn, who: Principal, period: str, provider_id: str, run_id: UUID | None):
    _own(who, provider_id)
    names = dict(await runs.providers(conn, who.tenant_id, provider_id))
    if provider_id not in names:
        raise NotFound(f"no provider {provider_id}")
    month = str(_period(period))
    if run_id is None:
        run = await runs.current(conn, who.tenant_id, month, provider_id)
        if run is None:
            raise NotFound(f"no run of {month} covers {provider_id}")
    else:
        run = await runs.get(conn, who.tenant_id, run_id)
        if run.period != month or run.provider_id not in (None, provider_id):
            raise NotFound(f"run {run_id} does not cover {provider_id} in {month}")
    return run, names[provider_id]


RunParam = Annotated[
    UUID | None,
    QueryParameter(description="a specific run (e.g. a what-if); default: the period's current real run"),
]


@get(
    "/v1/periods/{period:str}/providers/{provider_id:str}/lines",
    operation_id="listProviderLines",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "reader", "provider")],
    summary="A provider-period's invoice lines and reductions, with totals per component and area",
)
async def list_provider_lines(
    request: Req, conn: Conn, period: FromPath[str], provider_id: FromPath[str], run: RunParam = None
) -> s.ProviderLines:
    who = request.user
    found, name = await _provider_run(conn, who, period, provider_id, run)
    lines = [x for x in await runs.lines(conn, who.tenant_id, found.id, provider_id) if x.kind != "held"]
    viewer = await views.viewer(conn, who, (x.pnr for x in lines))
    components = list((await tariffs.components(conn, who.tenant_id, found.tariffs)).values())
    sums = document.totals(lines, components)
    result = s.ProviderLines(
        period=found.period,
        provider=provider_id,
        name=name,
        run=found.id,
        kind=found.kind,  # type: ignore[arg-type]
        tariffs=found.tariffs,
        lines=[document.result_line(x, viewer) for x in lines if x.kind == "line"],
        reductions=[document.result_reduction(x, viewer) for x in lines if x.kind == "reduction"],
        adjustments=[document.result_adjustment(x, viewer) for x in lines if x.kind == "adjustment"],
        totals=sums,
        totals_by_area=document.totals_by_area(lines),
        total=sum(sums.values(), document.ZERO),
    )
    await views.audit_shown(conn, who, viewer, "lines.read")
    return result


@get(
    "/v1/periods/{period:str}/providers/{provider_id:str}/held",
    operation_id="listHeldLines",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="A provider-period's held lines: each with the discrepancy holding it and its amount if approved",
)
async def list_held_lines(
    request: Req, conn: Conn, period: FromPath[str], provider_id: FromPath[str], run: RunParam = None
) -> s.ProviderHeld:
    who = request.user
    found, _ = await _provider_run(conn, who, period, provider_id, run)
    held = [x for x in await runs.lines(conn, who.tenant_id, found.id, provider_id) if x.kind == "held"]
    viewer = await views.viewer(conn, who, (x.pnr for x in held))
    result = s.ProviderHeld(
        period=found.period,
        provider=provider_id,
        run=found.id,
        held=[document.result_held(x, viewer) for x in held],
        total_if_approved=sum((x.amount for x in held), document.ZERO),
    )
    await views.audit_shown(conn, who, viewer, "held_lines.read")
    return result


@get(
    "/v1/lines/{invoice_line_id:uuid}",
    operation_id="getLine",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "reader", "provider")],
    summary="One line with its full trail: decision lines, days, visits, enrolments, claims, approvals",
)
async def get_line(request: Req, conn: Conn, invoice_line_id: FromPath[UUID]) -> s.LineDetail:
    who = request.user
    line = await runs.line(conn, who.tenant_id, invoice_line_id)
    if who.role == "provider" and line.provider_id != who.provider_id:
        raise NotFound(f"no line {invoice_line_id}")
    run = await runs.get(conn, who.tenant_id, line.run_id)
    viewer = await views.viewer(conn, who, [line.pnr], single=True)
    shown = (
        document.result_held(line, viewer)
        if line.kind == "held"
        else document.result_reduction(line, viewer)
        if line.kind == "reduction"
        else document.result_adjustment(line, viewer)
        if line.kind == "adjustment"
        else document.result_line(line, viewer)
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
        customer=viewer.customer(line.pnr),
        customer_ref=viewer.ref(line.pnr),
        zone=line.zone,
        unit=line.unit,
        quantity=getattr(shown, "quantity", None),
        quantity_exact=exact_text(line.quantity) if line.quantity is not None else None,
        unit_price=line.unit_price,
        amount=line.amount,
        held_by=line.held_by and viewer.text(line.held_by, line.pnr),
        discrepancy=line.discrepancy,
        sources=shown.sources,
        detail=document.line_detail(line),
        trail=await runs.trail(conn, who.tenant_id, line),
    )
    await views.audit_shown(conn, who, viewer, "line.read")
    return result


# Discrepancies --------------------------------------------------------------------------------


@get(
    "/v1/discrepancies",
    operation_id="listDiscrepancies",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="Discrepancies of a period's current runs (or of one run), filtered; ordered by key",
)
async def list_discrepancies(
    request: Req,
    conn: Conn,
    period: Annotated[
        str | None, QueryParameter(description="YYYY-MM; required unless `run` is given")
    ] = None,
    run: RunParam = None,
    provider: FromQuery[str | None] = None,
    code: FromQuery[str | None] = None,
    kind: Annotated[str | None, QueryParameter(pattern="^(blocking|hard|info)$")] = None,
    status: Annotated[
        str | None, QueryParameter(pattern="^(open|approved|rejected)$", description="as decided now")
    ] = None,
    after: Annotated[UUID | None, QueryParameter(description="`next_after` of the previous page")] = None,
    limit: Limit = 100,
) -> s.DiscrepancyPage:
    who = request.user
    if run is None and period is None:
        raise Invalid(
            "give a period or a run", [{"field": "period", "message": "required unless run is given"}]
        )
    if run is not None:
        found = await runs.get(conn, who.tenant_id, run)
        if who.role == "provider" and found.provider_id not in (None, who.provider_id):
            raise NotFound(f"no run {run}")
    rows = await discrepancies.find(
        conn,
        who.tenant_id,
        period=str(_period(period)) if period else None,
        run_id=run,
        provider=_own(who, provider),
        code=code,
        kind=kind,
        status=status,
        after=after,
        limit=limit + 1,
    )
    viewer = await views.viewer(conn, who, (f.pnr for f in rows))
    items = [document.discrepancy(f, viewer) for f in rows[:limit]]
    await views.audit_shown(conn, who, viewer, "discrepancies.read")
    return s.DiscrepancyPage(items=items, next_after=str(items[-1].id) if len(rows) > limit else None)


async def _detail(conn: Conn, who: Principal, found: discrepancies.StoredFinding) -> s.DiscrepancyDetail:
    viewer = await views.viewer(conn, who, [found.pnr], single=True)
    shown = document.discrepancy(found, viewer)
    history = [
        s.Decision(
            seq=h["seq"],
            decision=h["decision"],
            reason=h["reason"],
            amount=h["amount"],
            version=h["version"],
            decided_by=h["decided_by"],
            decided_at=h["decided_at"],
            in_force=h["seq"] == found.decision_seq and found.status_now != "open",
        )
        for h in await discrepancies.history(conn, who.tenant_id, found.key)
    ]
    await views.audit_shown(conn, who, viewer, "discrepancy.read")
    return s.DiscrepancyDetail(discrepancy=shown, history=history)


@get(
    "/v1/discrepancies/{discrepancy_id:uuid}",
    operation_id="getDiscrepancy",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="A discrepancy as its latest run found it, with its decision history",
)
async def get_discrepancy(request: Req, conn: Conn, discrepancy_id: FromPath[UUID]) -> s.DiscrepancyDetail:
    who = request.user
    found = await discrepancies.latest(conn, who.tenant_id, discrepancy_id)
    if who.role == "provider" and found.provider_id != who.provider_id:
        raise NotFound(f"no discrepancy {discrepancy_id}")
    return await _detail(conn, who, found)


@post(
    "/v1/discrepancies/{discrepancy_id:uuid}/decisions",
    operation_id="decideDiscrepancy",
    tags=["reconciliation"],
    guards=[allow("invoice_admin")],
    status_code=201,
    summary="Approve or reject a blocking discrepancy, with a reason (EXTRAORDINARY approvals set the amount)",
    description="The decision is stored against the discrepancy's stable key and the version of the "
    "record its latest run saw, so it survives re-runs and applies from the next run; a correction of "
    "the record reopens it. Hard and info discrepancies take no decision (409). Audited.",
)
async def decide_discrepancy(
    request: Req, conn: Conn, discrepancy_id: FromPath[UUID], data: JSONBody[s.DecisionIn]
) -> s.DiscrepancyDetail:
    found = await discrepancies.decide(conn, request.user, discrepancy_id, data)
    return await _detail(conn, request.user, found)


ROUTES = [
    start_run,
    list_runs,
    get_run,
    get_run_result,
    list_provider_lines,
    list_held_lines,
    get_line,
    list_discrepancies,
    get_discrepancy,
    decide_discrepancy,
]
