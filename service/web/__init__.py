"""The workplace: HTML pages for the invoice administrator, in Swedish first (issue 13).

An interface like `service.http`: pages parse, call one use case, render; they import no store,
engine or database module. Every page is behind a session (service/web/session.py) except the login
page; the API-key authentication of the JSON API is off for them (`exclude_from_auth`), so a key
opens no page.
"""

from litestar import Router

from service.web import (
    assets,
    audit,
    compare,
    customers,
    errors,
    followup,
    lines,
    login,
    overview,
    queue,
    runs,
    settlements,
    tariffs,
)
from service.web.session import SessionMiddleware, check_csrf

PAGES = [
    login.login_page,
    login.log_in,
    login.log_out,
    *overview.ROUTES,
    *runs.ROUTES,
    *queue.ROUTES,
    *lines.ROUTES,
    *settlements.ROUTES,
    *tariffs.ROUTES,
    *audit.ROUTES,
    *customers.ROUTES,
    *followup.ROUTES,
    *compare.ROUTES,
]


def pages() -> Router:
    return Router(
        path="/",
        route_handlers=PAGES,
        middleware=[SessionMiddleware()],
        before_request=check_csrf,
        exception_handlers=errors.EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )


ROUTES = [assets.router(), pages()]
