"""Screen 7, Uppföljning (in part): the follow-up figures of a range of months per provider (followup.md
1-2), with graph 1 (the share of granted time performed, against the 85 % target) and payout per area
drawn as SVG beside their tables."""

from __future__ import annotations

from decimal import Decimal

from litestar import Request, get
from litestar.response import Template
from markupsafe import Markup

from service.auth import allow
from service.usecases import reports
from service.web import charts
from service.web.i18n import translate
from service.web.templates import locale_of, page


def _percent(share: str | None) -> Decimal | None:
    return None if share is None else Decimal(share) * 100


@get("/followup", guards=[allow("invoice_admin", "auditor", "reader")])
async def followup_page(request: Request) -> Template:
    first = request.query_params.get("from", "").strip()
    last = request.query_params.get("to", "").strip() or first
    provider = request.query_params.get("provider", "").strip() or None
    report, graphs = None, {}
    if first:
        async with request.app.state.pool.acquire() as conn:
            report = await reports.followup_report(
                conn, request.user, first=first, last=last, provider=provider
            )
        gettext = translate(locale_of(request)).gettext
        target = Decimal(report.target_share) * 100
        for p in report.providers:
            share = [(m.period, _percent(m.figures.performed_share) if m.figures else None) for m in p.months]
            payout = {area: Decimal(v) for area, v in p.total.payout_by_area.items()}
            graphs[p.provider] = {
                "share": Markup(  # noqa: S704  (built by charts.bars, which escapes every text)
                    charts.bars(
                        gettext("Share of granted time performed, %(name)s") % {"name": p.name},
                        share,
                        maximum=Decimal(100),
                        unit=" %",
                        target=target,
                        target_label=gettext("target %(share)s %%") % {"share": f"{target:.0f}"},
                    )
                ),
                "payout": Markup(  # noqa: S704
                    charts.bars(
                        gettext("Payout per area, %(name)s") % {"name": p.name},
                        sorted(payout.items()),
                        maximum=max([*payout.values(), Decimal(1)]),
                    )
                ),
            }
    filters = {"from": first, "to": last, "provider": provider or ""}
    return page(request, "followup.html", report=report, graphs=graphs, filters=filters)


ROUTES = [followup_page]
