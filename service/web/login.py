"""The login page. Only the form for now: signing in arrives with personal accounts (issue 13, 1)."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from service.web.templates import page


@get("/login", include_in_schema=False, sync_to_thread=False)
def login_page(request: Request) -> Template:
    return page(request, "login.html")
