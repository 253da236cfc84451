"""Screen 9, Tariffer: versions and their validity; load a new version (a TOML file); a second
administrator activates it (four eyes, per person)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from service.auth import allow
from service.domain.errors import Conflict, Invalid
from service.usecases import tariffs
from service.web.runs import STAFF
from service.web.templates import page

MAX_TARIFF_BYTES = 1 << 20


async def _list(request: Request, **extra: object) -> Template:
    async with request.app.state.pool.acquire() as conn:
        versions = await tariffs.list_all(conn, request.user)
    return page(request, "tariffs.html", versions=versions, **extra)


@get("/tariffs", guards=[STAFF])
async def tariffs_page(request: Request) -> Template:
    return await _list(request)


@post("/tariffs", guards=[allow("invoice_admin")])
async def load(request: Request) -> Template | Redirect:
    form = await request.form()
    upload = form.get("file")
    data = await upload.read() if hasattr(upload, "read") else b""
    if not data or len(data) > MAX_TARIFF_BYTES:
        raise Invalid("choose a tariff file (TOML, at most 1 MB)", [{"field": "file", "message": "required"}])
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text", [{"field": "file", "message": "not UTF-8"}]) from None
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            loaded, created = await tariffs.load(conn, request.user, source)
    except (Conflict, Invalid) as err:
        return await _list(request, refusal=err.detail, status_code=err.status)
    return await _list(request, loaded=loaded, created=created)


@post("/tariffs/{tariff_id:str}/activation", guards=[allow("invoice_admin")])
async def activate(request: Request, tariff_id: FromPath[str]) -> Template | Redirect:
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            await tariffs.activate(conn, request.user, tariff_id)
    except Conflict as err:
        return await _list(request, refusal=err.detail, status_code=409)
    return Redirect("/tariffs", status_code=303)


ROUTES = [tariffs_page, load, activate]
