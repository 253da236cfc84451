"""Reconciliation: runs (invoice_admin), their results, lines and discrepancies, and rulings on
discrepancies (the API's decisions). Each handler calls one use case: service/usecases/runs.py and
reviews.py say who sees what.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter

from schemas import reconcile as s
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import Payload, get, parse, post, problem
from service.http.deps import Conn
from service.usecases import reviews, runs
from service.usecases.documents import Explain
from service.web.explain import explainer
from service.web.i18n import accepted_locale

Req = Request[Principal, None, State]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
Language = Annotated[
    str | None,
    HeaderParameter(
        name="Accept-Language",
        required=False,
        description="the language of the discrepancies' `detail`: `sv` (the default) or `en` (docs/api.md)",
    ),
]


def _explain(language: str | None) -> Explain:
    """Discrepancy explanations in the language asked for, from the workplace's catalogue."""
    return explainer(accepted_locale(language))


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
async def start_run(request: Req, state: State, data: Payload[s.RunIn]) -> s.Run:
    return await runs.start_run(state.pool, request.user, parse(s.RunIn, data))


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
    return await runs.list_runs(conn, request.user, period=period, run_kind=kind, after=after, limit=limit)


@get(
    "/v1/runs/under-way",
    operation_id="listRunsUnderWay",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor")],
    summary="The runs under way now, whoever started them, with the phase each is in",
    description="Every run writes its progress as it goes (reading, pricing, recomputing settled periods "
    "that changed, storing), so any service process can answer; a run not heard from for ten minutes "
    "(its process died) is not listed. `POST /v1/runs` answers when its run is stored, as before.",
)
async def list_runs_under_way(request: Req, conn: Conn) -> s.RunsUnderWay:
    return await runs.runs_under_way(conn, request.user)


@get(
    "/v1/runs/{run_id:uuid}",
    operation_id="getRun",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor")],
    summary="A run: who, when, the inputs' high-water marks, duration and totals",
)
async def get_run(request: Req, conn: Conn, run_id: FromPath[UUID]) -> s.Run:
    return await runs.get_run(conn, request.user, run_id)


@get(
    "/v1/runs/{run_id:uuid}/result",
    operation_id="getRunResult",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="A run's result document (lines, reductions, held lines, totals, discrepancies)",
    description="The result format of examples/README.md. A provider key gets its own provider's part.",
)
async def get_run_result(
    request: Req, conn: Conn, run_id: FromPath[UUID], accept_language: Language = None
) -> s.ResultDocument:
    return await runs.run_result(conn, request.user, run_id, _explain(accept_language))


# Lines ---------------------------------------------------------------------------------------


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
    return await runs.provider_lines(conn, request.user, period, provider_id, run)


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
    return await runs.held_lines(conn, request.user, period, provider_id, run)


@get(
    "/v1/lines/{invoice_line_id:uuid}",
    operation_id="getLine",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "reader", "provider")],
    summary="One line with its full trail: decision lines, days, visits, enrolments, claims, approvals",
)
async def get_line(request: Req, conn: Conn, invoice_line_id: FromPath[UUID]) -> s.LineDetail:
    return await runs.line_detail(conn, request.user, invoice_line_id)


# Discrepancies --------------------------------------------------------------------------------


@get(
    "/v1/discrepancies",
    operation_id="listDiscrepancies",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="Discrepancies of a period's current runs (or of one run), filtered; ordered by key",
    responses={404: problem("No such run (or not one the caller may see)")},
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
    accept_language: Language = None,
) -> s.DiscrepancyPage:
    return await reviews.list_discrepancies(
        conn,
        request.user,
        period=period,
        run_id=run,
        provider=provider,
        code=code,
        severity=kind,
        status=status,
        after=after,
        limit=limit,
        explain=_explain(accept_language),
    )


@get(
    "/v1/discrepancies/{discrepancy_id:uuid}",
    operation_id="getDiscrepancy",
    tags=["reconciliation"],
    guards=[allow("invoice_admin", "auditor", "provider")],
    summary="A discrepancy as its latest run found it, with its decision history",
)
async def get_discrepancy(
    request: Req, conn: Conn, discrepancy_id: FromPath[UUID], accept_language: Language = None
) -> s.DiscrepancyDetail:
    return await reviews.get_discrepancy(conn, request.user, discrepancy_id, _explain(accept_language))


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
    request: Req,
    conn: Conn,
    discrepancy_id: FromPath[UUID],
    data: Payload[s.RulingIn],
    accept_language: Language = None,
) -> s.DiscrepancyDetail:
    return await reviews.rule(
        conn, request.user, discrepancy_id, parse(s.RulingIn, data), _explain(accept_language)
    )


ROUTES = [
    start_run,
    list_runs,
    list_runs_under_way,
    get_run,
    get_run_result,
    list_provider_lines,
    list_held_lines,
    get_line,
    list_discrepancies,
    get_discrepancy,
    decide_discrepancy,
]
