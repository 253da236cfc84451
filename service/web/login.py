"""Logging in and out of the workplace (personal accounts, workplace.md)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from service.usecases import accounts
from service.web.session import (
    LOGIN_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    local_path,
    new_login_token,
    secure,
    session_cookie,
)
from service.web.templates import page


def _login_form(
    request: Request, *, status_code: int = 200, error: str | None = None, **extra: object
) -> Template:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    settings = request.app.state.settings
    return page(
        request,
        "login.html",
        status_code=status_code,
        cookies=[
            Cookie(
                key=LOGIN_COOKIE,
                value=token,
                httponly=True,
                samesite="strict",
                secure=secure(request),
                path="/login",
            )
        ],
        login_token=token,
        next=local_path(request.query_params.get("next")),
        expired=request.query_params.get("expired") == "1",
        idle_minutes=max(1, settings.session_idle // 60),
        error=error,
        **extra,
    )


@get("/login", opt={PUBLIC: True}, sync_to_thread=False)
def login_page(request: Request) -> Template:
    return _login_form(request)


@post("/login", opt={PUBLIC: True})
async def log_in(request: Request) -> Template | Redirect:
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    target = local_path(str(form.get("next", "")))
    address = request.client.host if request.client else "unknown"
    async with request.app.state.pool.acquire() as conn:
        result = await accounts.log_in(conn, request.app.state.settings, username, password, address)
    if result.outcome == "limited":
        return _login_form(
            request,
            status_code=429,
            error="limited",
            retry_after=result.retry_after,
            headers={"Retry-After": str(result.retry_after)},
        )
    if result.outcome == "refused":
        return _login_form(request, status_code=401, error="refused")
    assert result.token is not None
    return Redirect(
        target,
        status_code=303,
        cookies=[
            session_cookie(request, result.token),
            Cookie(key=LOGIN_COOKIE, value="", max_age=0, path="/login"),
        ],
    )


@post("/logout")
async def log_out(request: Request) -> Redirect:
    async with request.app.state.pool.acquire() as conn:
        await accounts.log_out(conn, request.cookies.get(SESSION_COOKIE, ""))
    return Redirect("/login?out=1", status_code=303, cookies=[session_cookie(request, None)])
