"""Screen 2, Avstämning: start a run for a period (all providers or one), follow how far it has come,
and see its result.

The page answers at once and carries the run out after its answer (a background task of this
request, which uvicorn lets finish before it stops); the progress page polls the run's progress,
which the run writes to PostgreSQL, so any service process can answer it.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec
import structlog
from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from schemas.reconcile import RunIn, RunProgress
from service.auth import allow
from service.domain.errors import Invalid
from service.domain.principal import Principal
from service.usecases import registry, runs
from service.web.templates import page

STAFF = allow("invoice_admin", "reader", "auditor")
log = structlog.get_logger("kundval.errors")


@get("/runs", guards=[STAFF])
async def runs_page(request: Request) -> Template:
    async with request.app.state.pool.acquire() as conn:
        recent = await runs.list_runs(conn, request.user, period=None, run_kind="real", after=None, limit=20)
        providers = await registry.list_providers(conn, request.user, "", 500)
        under_way = (await runs.runs_under_way(conn, request.user)).items
    return page(request, "runs.html", runs=recent.items, providers=providers.items, under_way=under_way)


@post("/runs", guards=[allow("invoice_admin")])
async def start_run(request: Request) -> Redirect:
    form = await request.form()
    period = str(form.get("period", "")).strip()
    provider = str(form.get("provider", "")).strip() or None
    try:
        data = msgspec.convert({"period": period, "provider": provider}, RunIn)
    except msgspec.ValidationError as err:
        raise Invalid(
            f"the period is a month as YYYY-MM ({err})", [{"field": "period", "message": str(err)}]
        ) from None
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        announced = await runs.begin_run(conn, request.user, data)
    return Redirect(
        f"/runs/progress/{announced}",
        status_code=303,
        background=BackgroundTask(_carry_out, pool, request.user, data, announced),
    )


async def _carry_out(pool: asyncpg.Pool, who: Principal, data: RunIn, announced: UUID) -> None:
    """The run, after the answer; a failure is on its progress for the page, and logged."""
    try:
        await runs.start_run(pool, who, data, announced)
    except Exception as err:
        log.error("run_failed", run=str(announced), exc_info=err)


@get("/runs/progress/{announced:uuid}", guards=[STAFF])
async def progress_page(request: Request, announced: FromPath[UUID]) -> Template | Redirect:
    """How far a run has come; once it is stored, its result."""
    async with request.app.state.pool.acquire() as conn:
        now = await runs.run_progress(conn, request.user, announced)
    if now.state == "done":
        return Redirect(f"/runs/{now.run}", status_code=303)
    return page(request, "run_progress.html", progress=now, mark=_mark(now))


@get("/runs/progress/{announced:uuid}/status", guards=[STAFF])
async def progress_status(
    request: Request, announced: FromPath[UUID], seen: FromQuery[str] = ""
) -> Template | Response:
    """The progress page's polled part: nothing (204, htmx leaves the page as it is) while the run is
    where the page last saw it; once it is stored, htmx loads its result; once it failed or was
    interrupted, the polling stops (286)."""
    async with request.app.state.pool.acquire() as conn:
        now = await runs.run_progress(conn, request.user, announced)
    if now.state == "done":
        return Response(b"", status_code=200, headers={"HX-Redirect": f"/runs/{now.run}"})
    if now.state == "running" and seen == _mark(now):
        return Response(b"", status_code=204)
    stop = 286 if now.state != "running" else 200
    return page(request, "run_progress_status.html", status_code=stop, progress=now, mark=_mark(now))


def _mark(now: RunProgress) -> str:
    """Where a run is, as far as its progress page shows it."""
    return f"{now.phase}:{now.recomputed}:{now.recomputes}"


@get("/runs/{run_id:uuid}", guards=[STAFF])
async def run_page(request: Request, run_id: FromPath[UUID]) -> Template:
    async with request.app.state.pool.acquire() as conn:
        run = await runs.get_run(conn, request.user, run_id)
    return page(request, "run.html", run=run)


ROUTES = [runs_page, start_run, progress_page, progress_status, run_page]
