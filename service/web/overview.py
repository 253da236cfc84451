"""Screen 1, Översikt: where each provider-period stands, and the next thing to do."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from service.usecases import overview
from service.web.templates import page


@get("/")
async def overview_page(request: Request) -> Template:
    async with request.app.state.pool.acquire() as conn:
        rows = await overview.overview(conn, request.user)
    return page(request, "overview.html", rows=rows)


ROUTES = [overview_page]
