"""Screen 3, Avvikelser: the discrepancy queue. Filters live in the URL; largest amount at stake
first; pick many and decide them with one reason (a result per item); open the record behind a row
in place (htmx); export the filtered list as CSV."""

from __future__ import annotations

from uuid import UUID

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from schemas.reconcile import RulingIn
from service.auth import allow
from service.domain.errors import Invalid
from service.usecases import queue, reviews
from service.usecases.documents import Explain
from service.web.explain import explainer
from service.web.i18n import N_
from service.web.runs import STAFF
from service.web.templates import locale_of, page

FILTERS = ("period", "provider", "code", "kind", "status", "customer")
# The common reasons offered beside free text (workplace.md, screen 3).
REASONS = [
    N_("Checked with the provider: the visit was performed"),
    N_("Confirmed by the customer's decision"),
    N_("Documentation is missing"),
    N_("Not part of the customer's granted care"),
]


def _explain(request: Request) -> Explain:
    """Discrepancy explanations in the page's language."""
    return explainer(locale_of(request))


def _filters(values: dict[str, str]) -> queue.Filters | None:
    chosen = {k: v.strip() for k in FILTERS if (v := values.get(k)) and v.strip()}
    if "period" not in chosen:
        return None
    return queue.Filters(**chosen)


async def _queue_page(request: Request, values: dict[str, str], **extra: object) -> Template:
    wanted = _filters(values)
    result = None
    if wanted is not None:
        number = values.get("page", "1")
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            result = await queue.page(
                conn, request.user, wanted, _explain(request), page=int(number) if number.isdigit() else 1
            )
    chosen = {k: values.get(k, "") for k in FILTERS}
    return page(request, "queue.html", filters=chosen, result=result, reasons=REASONS, **extra)


@get("/discrepancies", guards=[STAFF])
async def queue_page(request: Request) -> Template:
    return await _queue_page(request, dict(request.query_params))


@post("/discrepancies/decisions", guards=[allow("invoice_admin")])
async def decide_many(request: Request) -> Template:
    form = await request.form()
    ids = []
    for value in form.getall("id", []):
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            raise Invalid(
                "a picked discrepancy is not an id", [{"field": "id", "message": str(value)}]
            ) from None
    reason = str(form.get("reason_text", "")).strip() or str(form.get("reason", "")).strip()
    errors = []
    if not ids:
        errors.append({"field": "id", "message": "pick at least one discrepancy"})
    if not reason:
        errors.append({"field": "reason", "message": "give a reason"})
    if form.get("decision") not in ("approve", "reject"):
        errors.append({"field": "decision", "message": "approve or reject"})
    values = {k: str(form.get(k, "")) for k in (*FILTERS, "page")}
    if errors:
        return await _queue_page(request, values, errors=errors)
    async with request.app.state.pool.acquire() as conn:
        outcomes = await queue.decide_many(
            conn,
            request.user,
            ids,
            str(form["decision"]),
            reason,
            str(form.get("amount", "")).strip() or None,
            _explain(request),
        )
    return await _queue_page(request, values, outcomes=outcomes)


@get("/discrepancies/{discrepancy_id:uuid}", guards=[STAFF])
async def discrepancy_page(request: Request, discrepancy_id: FromPath[UUID]) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        detail = await reviews.get_discrepancy(conn, request.user, discrepancy_id, _explain(request))
    name = "discrepancy_detail.html" if request.headers.get("hx-request") else "discrepancy.html"
    return page(request, name, detail=detail, reasons=REASONS)


@post("/discrepancies/{discrepancy_id:uuid}/decision", guards=[allow("invoice_admin")])
async def decide_one(request: Request, discrepancy_id: FromPath[UUID]) -> Template:
    form = await request.form()
    reason = str(form.get("reason_text", "")).strip() or str(form.get("reason", "")).strip()
    decision = str(form.get("decision", ""))
    if not reason or decision not in ("approve", "reject"):
        raise Invalid("give a decision and a reason", [{"field": "reason", "message": "required"}])
    amount = str(form.get("amount", "")).strip() or None
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        detail = await reviews.rule(
            conn,
            request.user,
            discrepancy_id,
            RulingIn(decision=decision, reason=reason, amount=amount),  # type: ignore[arg-type]
            _explain(request),
        )
    name = "discrepancy_detail.html" if request.headers.get("hx-request") else "discrepancy.html"
    return page(request, name, detail=detail, reasons=REASONS, decided=True)


@get("/discrepancies.csv", guards=[STAFF])
async def export(request: Request) -> Response[bytes]:
    wanted = _filters(dict(request.query_params))
    if wanted is None:
        raise Invalid("give a period", [{"field": "period", "message": "required"}])
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        body = await queue.export_csv(conn, request.user, wanted, _explain(request))
    name = f"kundval-avvikelser-{wanted.period}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


ROUTES = [queue_page, decide_many, discrepancy_page, decide_one, export]
