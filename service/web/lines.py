"""Screen 4, Fakturarad: a provider-period's lines, and one line with its trail."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from service.usecases import runs
from service.web.runs import STAFF
from service.web.templates import page

PER_PAGE = 100


@get("/lines", guards=[STAFF])
async def lines_page(
    request: Request,
    period: FromQuery[str],
    provider: FromQuery[str],
    number: Annotated[int, QueryParameter(name="page")] = 1,
) -> Template:
    """The totals of the period and one page of its lines (one more is read, to know if one follows)."""
    number = max(1, number)
    first = (number - 1) * PER_PAGE
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        lines, held = await runs.provider_page(
            conn, request.user, period, provider, slice(first, first + PER_PAGE + 1)
        )
    more = len(lines.lines) > PER_PAGE
    return page(
        request,
        "lines.html",
        lines=lines,
        listed=lines.lines[:PER_PAGE],
        held=held,
        number=number,
        more=more,
        first=first,
        query={"period": period, "provider": provider},
    )


@get("/lines/{line_id:uuid}", guards=[STAFF])
async def line_page(request: Request, line_id: FromPath[UUID]) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        line = await runs.line_detail(conn, request.user, line_id)
    return page(request, "line.html", line=line)


ROUTES = [lines_page, line_page]
