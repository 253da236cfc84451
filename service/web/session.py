"""The workplace's sessions: who a page request is (its session cookie), and its CSRF token.

Pages never read `Authorization`: an API key opens no page, and the JSON API never reads the session
cookie (service/auth.py), so a session opens no API route. `SessionMiddleware` runs on every page:
it resumes the session (idle ones end, service/usecases/accounts.py) and sends a visitor without one
to the login page. `check_csrf` runs before every page handler: an unsafe method (POST and the like)
must carry the session's CSRF token, as the form field `_csrf` or, from htmx, the `X-CSRF-Token`
header (base.html sets it on every htmx request). The login form, which comes before any session,
carries a token that must match its own cookie instead (a double submit).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from service.usecases import accounts

SESSION_COOKIE = "kundval_session"
LOGIN_COOKIE = "kundval_login"  # the login form's own CSRF token
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = "public"  # opt key: a page anyone may open (the login page)


def is_public(scope: Scope) -> bool:
    return bool(scope["route_handler"].opt.get(PUBLIC))


def secure(connection: ASGIConnection) -> bool:
    """Cookies are marked Secure when the page came over HTTPS (behind a TLS proxy: forwarded)."""
    return connection.url.scheme == "https" or connection.headers.get("x-forwarded-proto") == "https"


def session_cookie(connection: ASGIConnection, token: str | None) -> Cookie:
    """The session cookie: HttpOnly, SameSite=Lax, for the browser's session only; None clears it."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token or "",
        max_age=None if token else 0,
        httponly=True,
        samesite="lax",
        secure=secure(connection),
        path="/",
    )


def login_url(path: str, *, expired: bool = False) -> str:
    query = {"next": path} | ({"expired": "1"} if expired else {})
    return f"/login?{urlencode(query, quote_via=quote)}"


def local_path(value: str | None) -> str:
    """A path to go back to after logging in: only one of this service (never `//host` or a URL)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


class SessionMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection = ASGIConnection(scope)
        app = connection.app
        token = connection.cookies.get(SESSION_COOKIE, "")
        async with app.state.pool.acquire() as conn:
            resumed = await accounts.resume(conn, app.state.settings, token)
        scope["user"] = resumed.who
        scope["auth"] = resumed
        if resumed.who is None and not is_public(scope):
            path = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
            target = login_url(path if scope["method"] in SAFE else "/", expired=resumed.expired)
            # htmx follows a redirect inside the page; HX-Redirect makes it load the login page whole.
            htmx = bool(connection.headers.get("hx-request"))
            response = ASGIResponse(
                status_code=401 if htmx else 303,
                headers={"HX-Redirect": target} if htmx else {"Location": target},
                cookies=[session_cookie(connection, None)] if token else None,
            )
            await response(scope, receive, send)
            return
        await next_app(scope, receive, send)


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request without the right CSRF token (403)."""
    if request.method in SAFE:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = (await request.form()).get(CSRF_FIELD)
    if is_public(request.scope):
        expected = request.cookies.get(LOGIN_COOKIE)
    else:
        expected = request.scope["auth"].csrf
    if not (isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)):
        raise PermissionDeniedException("the form has expired or did not come from this service: reload it")
