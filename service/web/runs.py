"""Screen 2, Avstämning: start a run for a period (all providers or one) and see its result."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from schemas.reconcile import RunIn
from service.auth import allow
from service.domain.errors import Invalid
from service.usecases import registry, runs
from service.web.templates import page

STAFF = allow("invoice_admin", "reader", "auditor")


@get("/runs", guards=[STAFF])
async def runs_page(request: Request) -> Template:
    async with request.app.state.pool.acquire() as conn:
        recent = await runs.list_runs(conn, request.user, period=None, run_kind="real", after=None, limit=20)
        providers = await registry.list_providers(conn, request.user, "", 500)
    return page(request, "runs.html", runs=recent.items, providers=providers.items)


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
    run = await runs.start_run(request.app.state.pool, request.user, data)
    return Redirect(f"/runs/{run.id}", status_code=303)


@get("/runs/{run_id:uuid}", guards=[STAFF])
async def run_page(request: Request, run_id: FromPath[UUID]) -> Template:
    async with request.app.state.pool.acquire() as conn:
        run = await runs.get_run(conn, request.user, run_id)
    return page(request, "run.html", run=run)


ROUTES = [runs_page, start_run, run_page]
