"""Screen 8, Jämför modeller: a period under several tariffs side by side (followup.md 3), as a table
per provider and for the whole tenant, with the totals drawn as SVG beside it. Pricing the period
under the tariffs (what-if runs) is a write: a form for the invoice administrator; reading the latest
comparison is a GET whose URL holds the choice."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from litestar import Request, get, post
from litestar.response import Redirect, Template
from markupsafe import Markup

from schemas.reports import ComparisonIn
from service.auth import allow
from service.domain.errors import Invalid, NotFound
from service.usecases import reports, tariffs
from service.web import charts
from service.web.i18n import translate
from service.web.templates import locale_of, page, url_of

READERS = allow("invoice_admin", "auditor", "reader")


def _choice(values: dict[str, object]) -> dict[str, object]:
    chosen = [str(t).strip() for t in values.get("tariff", []) if str(t).strip()]  # type: ignore[attr-defined]
    return {
        "period": str(values.get("period", "")).strip(),
        "tariffs": chosen,
        "provider": values.get("provider") or None,
    }


@get("/compare", guards=[READERS])
async def compare_page(request: Request) -> Template:
    choice = _choice({**request.query_params, "tariff": request.query_params.getall("tariff", [])})
    result, missing, chart = None, None, None
    async with request.app.state.pool.acquire() as conn:
        versions = await tariffs.list_all(conn, request.user)
        if choice["period"] and len(choice["tariffs"]) >= 2:  # type: ignore[arg-type]
            try:
                result = await reports.comparison(
                    conn,
                    request.user,
                    period=choice["period"],
                    tariffs_=choice["tariffs"],
                    provider=choice["provider"],  # type: ignore[arg-type]
                )
            except NotFound as err:
                missing = err.detail
    if result is not None and result.tenant_figures is not None:
        gettext = translate(locale_of(request)).gettext
        totals = [(c.tariff, Decimal(c.amount)) for c in result.tenant_figures.total.cells]
        chart = Markup(  # noqa: S704  (charts.bars escapes every text)
            charts.bars(
                gettext("Total under each tariff, %(period)s") % {"period": result.period},
                totals,
                ident="compare-total",
                desc=gettext("The baseline tariff first, in kronor."),
                maximum=charts.nice(max([v for _, v in totals] + [Decimal(1)])),
            )
        )
    return page(
        request, "compare.html", choice=choice, versions=versions, result=result, missing=missing, chart=chart
    )


@post("/compare", guards=[allow("invoice_admin")])
async def price(request: Request) -> Redirect:
    form = await request.form()
    choice = _choice(
        {"period": form.get("period"), "provider": form.get("provider"), "tariff": form.getall("tariff", [])}
    )
    try:
        data = msgspec.convert(choice, ComparisonIn)
    except msgspec.ValidationError as err:
        raise Invalid(str(err), [{"field": "tariff", "message": str(err)}]) from None
    await reports.create_comparison(request.app.state.pool, request.user, data)
    return Redirect(
        url_of("/compare", {"period": data.period, "provider": data.provider, "tariff": data.tariffs}),
        status_code=303,
    )


ROUTES = [compare_page, price]
