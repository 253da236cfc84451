"""Screen 4, Fakturarad: a provider-period's lines, and one line with its trail."""

from __future__ import annotations

from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from service.usecases import runs
from service.web.runs import STAFF
from service.web.templates import page


@get("/lines", guards=[STAFF])
async def lines_page(request: Request, period: FromQuery[str], provider: FromQuery[str]) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        lines = await runs.provider_lines(conn, request.user, period, provider, None)
        held = await runs.held_lines(conn, request.user, period, provider, None)
    return page(request, "lines.html", lines=lines, held=held)


@get("/lines/{line_id:uuid}", guards=[STAFF])
async def line_page(request: Request, line_id: FromPath[UUID]) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        line = await runs.line_detail(conn, request.user, line_id)
    return page(request, "line.html", line=line)


ROUTES = [lines_page, line_page]
