"""Screen 10, Granskningslogg: the audit log filtered by who, what and when; verify the chain. For
the auditor, as the API's audit routes are."""

from __future__ import annotations

from datetime import datetime

from litestar import Request, get
from litestar.response import Template

from service.auth import allow
from service.domain.errors import Invalid
from service.usecases import audit
from service.web.templates import TIMEZONE, page

FILTERS = ("actor", "action", "since", "until")


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=TIMEZONE)
    except ValueError:
        raise Invalid(f"{field}: a date as YYYY-MM-DD", [{"field": field, "message": "YYYY-MM-DD"}]) from None


@get("/audit", guards=[allow("auditor")])
async def audit_page(request: Request) -> Template:
    q = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    after = request.query_params.get("after", "0")
    where = audit.AuditFilter(
        actor=q["actor"] or None,
        action=q["action"] or None,
        since=_day(q["since"], "since"),
        until=_day(q["until"], "until"),
    )
    async with request.app.state.pool.acquire() as conn:
        entries = await audit.entries(
            conn, request.user, where, after=int(after) if after.isdigit() else 0, limit=100
        )
        verified = await audit.verify(conn, request.user) if request.query_params.get("verify") else None
    return page(request, "audit.html", entries=entries, filters=q, verified=verified)


ROUTES = [audit_page]
