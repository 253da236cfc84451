"""Screen 7, Uppföljning: the follow-up figures of a range of months (followup.md 1-2), for the whole
tenant and per provider: graph 1 (the share of granted time performed, against the 85 % target),
graph 2 (visits by licensed staff per month, by category), payout per area and month, declined visits
per provider, and, with a second range, period over period. Each chart is SVG drawn here, beside its
data table; the figures come from the use cases the JSON API answers with."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import get_decimal_symbol, get_group_symbol, get_minus_sign_symbol
from litestar import Request, get
from litestar.response import Template
from markupsafe import Markup

from schemas.reconcile import FollowupFigures
from schemas.reports import FigureChange, FollowupReport, PeriodBlock, PeriodOverPeriod
from service.auth import allow
from service.domain.errors import Invalid
from service.domain.followup import AREAS, LICENSED_CATEGORIES
from service.usecases import reports
from service.web import charts
from service.web.i18n import N_, translate
from service.web.labels import AREA_NAMES
from service.web.templates import locale_of, page

CATEGORY_NAMES = {
    "sjukskoterska": N_("registered nurse"),
    "distriktsskoterska": N_("district nurse"),
    "fysioterapeut": N_("physiotherapist"),
    "arbetsterapeut": N_("occupational therapist"),
}
# Period over period: a figure's name (followup.md 2); "a.b" names b within a.
FIGURE_NAMES = {
    "granted_minutes": N_("Granted time (min)"),
    "performed_minutes": N_("Performed time (min)"),
    "performed_share": N_("Share of granted time performed"),
    "customers_below_target": N_("Customers below the target"),
    "licensed_visits": N_("Visits by licensed staff"),
    "declined_visits": N_("Declined visits"),
    "declined_customers": N_("Customers who declined visits"),
    "customers": N_("Unique customers"),
    "customers_by_area": N_("Unique customers"),
    "payout": N_("Payout (kr)"),
    "payout_by_area": N_("Payout (kr)"),
}
# Period over period per provider, beside the tenant's every figure: what seed 002 compares.
KEY_FIGURES = ("payout", "performed_share", "licensed_visits", "customers")


def _chart(svg: str) -> Markup:
    return Markup(svg)  # noqa: S704  (built by service/web/charts.py, which escapes every text)


class _Draw:
    """The charts and numbers of the page, in its language."""

    def __init__(self, lang: str, target: Decimal) -> None:
        self.gettext = translate(lang).gettext
        # The language's digit grouping and decimal sign, from its CLDR data (sv: 1 234,50). Numbers
        # are formatted here rather than by babel's format_decimal: a page of sixty providers formats
        # thousands, and that took 50 ms of it.
        self.symbols = str.maketrans({",": get_group_symbol(lang), ".": get_decimal_symbol(lang)})
        self.minus = get_minus_sign_symbol(lang)
        self.target = target

    def format(self, value: Decimal, kind: str) -> str:
        """`value` with the decimals of its kind: amounts 2, shares (as per cent) and changes 1, counts
        none, minutes up to 4."""
        decimals = {"amount": 2, "share": 1, "change": 1, "minutes": 4}.get(kind, 0)
        text = f"{value:,.{decimals}f}"
        if kind == "minutes" and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.translate(self.symbols)

    def scale(self, v: Decimal) -> str:
        return self.format(v, "count")

    def name(self, key: str) -> str:
        names = CATEGORY_NAMES | AREA_NAMES
        return self.gettext(names[key]) if key in names else key

    def share(self, ident: str, whose: str, months: Sequence[tuple[str, FollowupFigures | None]]) -> Markup:
        values = [
            (period, None if f is None or f.performed_share is None else Decimal(f.performed_share) * 100)
            for period, f in months
        ]
        _ = self.gettext
        return _chart(
            charts.bars(
                _("Share of granted time performed, %(name)s") % {"name": whose},
                values,
                ident=ident,
                number=self.scale,
                desc=_("Per month, in per cent; the dashed line is the target of %(target)s %%.")
                % {"target": f"{self.target:.0f}"},
                maximum=Decimal(100),
                unit=" %",
                target=self.target,
                target_label=_("target %(share)s %%") % {"share": f"{self.target:.0f}"},
            )
        )

    def licensed(
        self, ident: str, whose: str, months: Sequence[tuple[str, FollowupFigures | None]]
    ) -> Markup:
        _ = self.gettext
        return _chart(
            charts.series(
                _("Visits by licensed staff, %(name)s") % {"name": whose},
                [period for period, _f in months],
                [
                    (self.name(c), [None if f is None else f.licensed_visits.get(c, 0) for _p, f in months])
                    for c in LICENSED_CATEGORIES
                ],
                ident=ident,
                number=self.scale,
                desc=_("Per month, one bar of visits stacked by the staff's category."),
                stacked=True,
            )
        )

    def payout(self, ident: str, whose: str, months: Sequence[tuple[str, FollowupFigures | None]]) -> Markup:
        _ = self.gettext
        return _chart(
            charts.series(
                _("Payout per area, %(name)s") % {"name": whose},
                [period for period, _f in months],
                [
                    (
                        self.name(a),
                        [None if f is None else Decimal(f.payout_by_area.get(a, 0)) for _p, f in months],
                    )
                    for a in AREAS
                ],
                ident=ident,
                number=self.scale,
                desc=_("Per month, in kronor: one bar stacked by area."),
                stacked=True,
            )
        )

    def declined(self, report: FollowupReport) -> Markup:
        _ = self.gettext
        counts = [(p.name, Decimal(p.total.declined_visits)) for p in report.providers]
        return _chart(
            charts.bars(
                _("Declined visits per provider"),
                counts,
                ident="declined",
                number=self.scale,
                desc=_("The months chosen together: one bar per provider."),
                maximum=charts.nice(max([v for _n, v in counts] + [Decimal(1)])),
            )
        )

    def periods(self, ident: str, whose: str, pop: PeriodOverPeriod, block: PeriodBlock) -> Markup:
        _ = self.gettext
        return _chart(
            charts.series(
                _("Payout per area in both ranges, %(name)s") % {"name": whose},
                [self.name(a) for a in AREAS],
                [
                    (_span(pop.a), [Decimal(block.a.payout_by_area.get(a, 0)) for a in AREAS]),
                    (_span(pop.b), [Decimal(block.b.payout_by_area.get(a, 0)) for a in AREAS]),
                ],
                ident=ident,
                number=self.scale,
                desc=_("Per area, the range compared with beside the range reported, in kronor."),
                stacked=False,
            )
        )

    # Period over period as the pages show it: Swedish numbers, shares as per cent, differences
    # signed, a share's difference in percentage points (followup.md 2).

    def number(self, kind: str, value: str | int | None) -> str:
        if value is None:
            return "–"
        if kind == "share":
            return self.format(Decimal(value) * 100, kind) + " %"
        return self.format(Decimal(value), kind)

    def signed(self, value: Decimal | str | int, kind: str) -> str:
        number = Decimal(value)
        sign = "+" if number > 0 else self.minus if number < 0 else ""
        return sign + self.format(abs(number), kind)

    def row(self, c: FigureChange) -> dict[str, Any]:
        kind = reports.figure_kind(c.figure)
        head, _dot, part = c.figure.partition(".")
        label = self.gettext(FIGURE_NAMES.get(head, head)) + (f", {self.name(part)}" if part else "")
        if kind == "share":
            difference = (
                "–"
                if c.change is None
                else self.gettext("%(points)s percentage points")
                % {"points": self.signed(c.change, "change")}
            )
            change = "–"
            brief = difference
        else:
            difference = "–" if c.difference is None else self.signed(c.difference, kind)
            change = "–" if c.change is None else self.signed(c.change, "change") + " %"
            brief = change
        return {
            "figure": c.figure,
            "label": label,
            "part": bool(part),
            "a": self.number(kind, c.a),
            "b": self.number(kind, c.b),
            "difference": difference,
            "change": change,
            "brief": brief,  # a narrow table's one column: the change, for a share the difference
        }


def _span(r: Any) -> str:
    """A range as a heading names it: 2024-02, 2024-02–07, 2023-11–2024-01."""
    if r.from_ == r.to:
        return str(r.from_)
    return f"{r.from_}–{r.to[5:]}" if r.from_[:4] == r.to[:4] else f"{r.from_}–{r.to}"


def _text(request: Request, name: str) -> str:
    return request.query_params.get(name, "").strip()


@get("/followup", guards=[allow("invoice_admin", "auditor", "reader")])
async def followup_page(request: Request) -> Template:
    first, provider = _text(request, "from"), _text(request, "provider") or None
    last = _text(request, "to") or first
    compare_from = _text(request, "compare_from")
    compare_to = _text(request, "compare_to") or None  # none: as long as the range reported
    report, pop, problem = None, None, None
    if first:
        async with request.app.state.pool.acquire() as conn:
            if compare_from:
                try:
                    report, pop = await reports.followup_with_periods(
                        conn,
                        request.user,
                        first=first,
                        last=last,
                        compare_first=compare_from,
                        compare_last=compare_to,
                        provider=provider,
                    )
                except Invalid as err:
                    if not all(e["field"].startswith("compare") for e in err.extra["errors"]):
                        raise
                    problem = err.detail  # the range reported is still shown
            if report is None:
                report = await reports.followup_report(
                    conn, request.user, first=first, last=last, provider=provider
                )
    filters = {
        "from": first,
        "to": last,
        "provider": provider or "",
        "compare_from": compare_from,
        "compare_to": pop.a.to if pop else compare_to or "",
    }
    context: dict[str, Any] = {"report": report, "pop": pop, "problem": problem, "filters": filters}
    if report is not None:
        draw = _Draw(locale_of(request), Decimal(report.target_share) * 100)
        context |= _drawn(draw, report, pop, whole=provider is None)
    return page(request, "followup.html", **context)


def _drawn(draw: _Draw, report: FollowupReport, pop: PeriodOverPeriod | None, whole: bool) -> dict[str, Any]:
    """The charts and the period-over-period rows of the page. `whole`: the tenant's figures are the
    whole tenant's (no provider chosen); then period over period is every figure for the tenant and
    the key figures per provider, else every figure of the provider chosen."""
    _ = draw.gettext
    everyone = _("the whole tenant")
    graphs: dict[str, dict[str, Markup]] = {}
    if whole and report.tenant_figures is not None:
        months = [(m.period, m.figures) for m in report.tenant_figures.months]
        graphs[""] = {
            "share": draw.share("share-all", everyone, months),
            "licensed": draw.licensed("licensed-all", everyone, months),
            "declined": draw.declined(report),
            "payout": draw.payout("payout-all", everyone, months),
        }
    for n, p in enumerate(report.providers):
        months = [(m.period, m.figures) for m in p.months]
        graphs[p.provider] = {
            "share": draw.share(f"share-{n}", p.name, months),
            "licensed": draw.licensed(f"licensed-{n}", p.name, months),
            "payout": draw.payout(f"payout-{n}", p.name, months),
        }
    periods: list[dict[str, Any]] = []  # (a block's name, its chart, its rows)
    key_rows: list[dict[str, Any]] = []  # per provider, the key figures only
    if pop is not None:
        if whole and pop.tenant_figures is not None:
            block = pop.tenant_figures
            periods.append(
                {
                    "caption": _("Period over period, the whole tenant"),
                    "chart": draw.periods("periods-all", everyone, pop, block),
                    "rows": [draw.row(c) for c in block.changes],
                }
            )
            for p in pop.providers:
                by_figure = {c.figure: c for c in p.changes}
                key_rows.append({"name": p.name, "cells": [draw.row(by_figure[f]) for f in KEY_FIGURES]})
        else:
            periods = [
                {
                    "caption": _("Period over period, %(name)s") % {"name": p.name},
                    "chart": draw.periods(f"periods-{n}", p.name, pop, p),
                    "rows": [draw.row(c) for c in p.changes],
                }
                for n, p in enumerate(pop.providers)
            ]
    return {
        "whole": whole and report.tenant_figures is not None,
        "graphs": graphs,
        "periods": periods,
        "key_rows": key_rows,
        "label": draw.name,
        "shown": draw.number,
        "categories": LICENSED_CATEGORIES,
        "areas": AREAS,
        "span": _span,
    }


ROUTES = [followup_page]
