"""Reports (followup.md 2 and 3): follow-up figures over a range of months with each provider-month's
state, period over period, and one period priced under several tariffs side by side; as JSON and as
CSV (the settlement CSV's conventions).

Readable by invoice_admin, auditor and reader (the figures carry no personal data: customers are
counted, never shown), and by a provider key for its own provider only: no other provider's figures,
no tenant figures, no counts of other providers' states. Pricing a comparison starts what-if runs
(invoice_admin): simulations, never prepared or settled, never in the feed.

The functions return plain Structs (schemas/reports.py) that the JSON API, the command line and pages
render alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

import asyncpg
import msgspec

from schemas import reports as s
from schemas.reconcile import FollowupFigures, RunIn
from service.domain import followup
from service.domain.errors import Invalid, NotFound
from service.domain.export import decimal_comma, to_csv
from service.domain.followup import AREAS, LICENSED_CATEGORIES, ZERO, Figures
from service.domain.lines import show
from service.domain.periods import Period
from service.domain.principal import Principal
from service.store import changes, runs, tariffs
from service.store import reports as store
from service.usecases import runs as run_cases
from service.usecases.access import own_provider
from service.usecases.settlements import Export

MAX_MONTHS = 36  # a range of three years at most
TARGET_SHARE = "0.85"


# Ranges ----------------------------------------------------------------------------------------


def months_of(first: str, last: str, names: tuple[str, str] = ("from", "to")) -> list[str]:
    """The months from `first` to `last` inclusive; a problem names the field(s) at fault."""
    errors = []
    bounds = []
    for name, text in zip(names, (first, last), strict=True):
        try:
            bounds.append(Period.parse(text))
        except ValueError as err:
            errors.append({"field": name, "message": str(err)})
    if not errors:
        a, b = bounds
        count = (b.year - a.year) * 12 + b.month - a.month + 1
        if count < 1:
            errors.append({"field": names[1], "message": f"{b} is before {a}"})
        elif count > MAX_MONTHS:
            errors.append({"field": names[1], "message": f"at most {MAX_MONTHS} months, not {count}"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    return [str(_plus(bounds[0], n)) for n in range(count)]


def _plus(period: Period, months: int) -> Period:
    return Period(period.year + (period.month - 1 + months) // 12, (period.month - 1 + months) % 12 + 1)


def _range(periods: list[str]) -> s.Range:
    return s.Range(from_=periods[0], to=periods[-1], months=len(periods))


# Over months -----------------------------------------------------------------------------------


class _Month(msgspec.Struct, frozen=True, kw_only=True):
    row: store.MonthRow
    status: str
    stale: bool


async def _months(
    conn: asyncpg.Connection, who: Principal, periods: list[str], provider: str | None
) -> tuple[dict[str, str], list[_Month]]:
    """The providers in scope (id -> name) and their provider-months, each with its state."""
    only = own_provider(who, provider)
    names = dict(await runs.providers(conn, who.tenant_id, only))
    if only is not None and only not in names:
        raise NotFound(f"no provider {only}")
    rows = await store.months(conn, who.tenant_id, periods, only)
    unsettled = [
        (r.provider_id, r.period, r.run_id) for r in rows if r.settlement_status != "settled" and r.run_id
    ]
    stale = {(c.provider_id, c.period) for c in await changes.since(conn, who.tenant_id, unsettled) if c.any}
    return names, [
        _Month(
            row=r,
            status=r.settlement_status or ("reconciled" if r.run_id else "open"),
            stale=(r.provider_id, r.period) in stale,
        )
        for r in rows
    ]


def figures(f: Figures) -> FollowupFigures:
    return msgspec.convert(followup.document(f), FollowupFigures)


def _counts(months: Iterable[_Month]) -> s.StateCounts:
    counts = dict.fromkeys(("settled", "prepared", "reconciled", "open", "stale"), 0)
    for m in months:
        counts[m.status] += 1
        counts["stale"] += m.stale
    return s.StateCounts(**counts)


def _sum(months: Iterable[_Month]) -> Figures:
    return followup.combine(m.row.figures for m in months if m.row.figures is not None)


async def followup_report(
    conn: asyncpg.Connection, who: Principal, *, first: str, last: str, provider: str | None = None
) -> s.FollowupReport:
    """Each provider-month of the range with its state and figures, each provider's sums over the
    range, and (not for a provider key) the tenant's months with how many providers are in each
    state."""
    periods = months_of(first, last)
    names, months = await _months(conn, who, periods, provider)
    return _report(who, periods, names, months)


def _report(
    who: Principal, periods: list[str], names: dict[str, str], months: list[_Month]
) -> s.FollowupReport:
    blocks = []
    for pid, name in names.items():
        own = [m for m in months if m.row.provider_id == pid]
        blocks.append(
            s.ProviderMonths(
                provider=pid,
                name=name,
                months=[
                    s.ProviderMonth(
                        period=m.row.period,
                        status=m.status,  # type: ignore[arg-type]
                        stale=m.stale,
                        source=m.row.source,  # type: ignore[arg-type]
                        run=m.row.run_id,
                        settlement=m.row.settlement_id,
                        figures=None if m.row.figures is None else figures(m.row.figures),
                    )
                    for m in own
                ],
                total=figures(_sum(own)),
            )
        )
    tenant = None
    if who.role != "provider":
        by_period = [[m for m in months if m.row.period == p] for p in periods]
        tenant = s.TenantMonths(
            months=[
                s.TenantMonth(period=p, providers=_counts(ms), figures=figures(_sum(ms)))
                for p, ms in zip(periods, by_period, strict=True)
            ],
            total=figures(_sum(months)),
            providers=_counts(months),
        )
    return s.FollowupReport(
        tenant=who.tenant_id,
        range=_range(periods),
        target_share=TARGET_SHARE,
        providers=blocks,
        tenant_figures=tenant,
    )


# Period over period ----------------------------------------------------------------------------


def _shown(kind: str, value: Fraction | Decimal | int | None) -> str | int | None:
    if value is None or kind == "count":
        return value  # type: ignore[return-value]
    if kind == "minutes":
        return show(Fraction(value))
    return str(value)


def _changes(a: Figures, b: Figures) -> list[s.FigureChange]:
    return [
        s.FigureChange(
            figure=d.figure,
            a=_shown(d.kind, d.a),
            b=_shown(d.kind, d.b),
            difference=_shown(d.kind, d.difference),
            change=d.change,
            unit="points" if d.kind == "share" else "percent",
        )
        for d in followup.deltas(a, b)
    ]


def _block(a: list[_Month], b: list[_Month]) -> dict[str, object]:
    fa, fb = _sum(a), _sum(b)
    return {
        "a": figures(fa),
        "b": figures(fb),
        "a_months": _counts(a),
        "b_months": _counts(b),
        "changes": _changes(fa, fb),
    }


async def period_over_period(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    first: str,
    last: str,
    compare_first: str,
    compare_last: str,
    provider: str | None = None,
) -> s.PeriodOverPeriod:
    """The range reported (b: `first`..`last`) against a range of equal length (a: `compare_first`..
    `compare_last`; seed 002: Feb-Jul 2024 against Feb-Jul 2023), per provider and for the tenant."""
    a_periods, b_periods = _ranges(first, last, compare_first, compare_last)
    names, months = await _months(conn, who, sorted({*a_periods, *b_periods}), provider)
    return _periods(who, a_periods, b_periods, names, months)


async def followup_with_periods(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    first: str,
    last: str,
    compare_first: str,
    compare_last: str | None,
    provider: str | None = None,
) -> tuple[s.FollowupReport, s.PeriodOverPeriod]:
    """`followup_report` of the range reported and `period_over_period` against the range compared
    with (without `compare_last`, as long as the range reported), from one read of the months (the
    workplace shows both: each month's state is checked once)."""
    if compare_last is None:
        start = Period.parse(months_of(compare_first, compare_first, ("compare_from", "compare_from"))[0])
        compare_last = str(_plus(start, len(months_of(first, last)) - 1))
    a_periods, b_periods = _ranges(first, last, compare_first, compare_last)
    names, months = await _months(conn, who, sorted({*a_periods, *b_periods}), provider)
    reported = [m for m in months if m.row.period in b_periods]
    return _report(who, b_periods, names, reported), _periods(who, a_periods, b_periods, names, months)


def _ranges(first: str, last: str, compare_first: str, compare_last: str) -> tuple[list[str], list[str]]:
    """The months of the range compared with (a) and of the range reported (b), of equal length."""
    b_periods = months_of(first, last)
    a_periods = months_of(compare_first, compare_last, ("compare_from", "compare_to"))
    if len(a_periods) != len(b_periods):
        message = f"the ranges must be of equal length: {len(b_periods)} months against {len(a_periods)}"
        raise Invalid(message, [{"field": "compare_to", "message": message}])
    return a_periods, b_periods


def _periods(
    who: Principal, a_periods: list[str], b_periods: list[str], names: dict[str, str], months: list[_Month]
) -> s.PeriodOverPeriod:
    def part(periods: list[str], pid: str | None = None) -> list[_Month]:
        return [m for m in months if m.row.period in periods and pid in (None, m.row.provider_id)]

    blocks = [
        s.ProviderPeriods(provider=pid, name=name, **_block(part(a_periods, pid), part(b_periods, pid)))  # type: ignore[arg-type]
        for pid, name in names.items()
    ]
    tenant = None if who.role == "provider" else s.PeriodBlock(**_block(part(a_periods), part(b_periods)))  # type: ignore[arg-type]
    return s.PeriodOverPeriod(
        tenant=who.tenant_id,
        a=_range(a_periods),
        b=_range(b_periods),
        providers=blocks,
        tenant_figures=tenant,
    )


# Tariff comparison -----------------------------------------------------------------------------


async def create_comparison(pool: asyncpg.Pool, who: Principal, data: s.ComparisonIn) -> s.Comparison:
    """Price the period under each tariff on current inputs (a what-if run each, audited as any run)
    and compare them."""
    if len(set(data.tariffs)) != len(data.tariffs):
        raise Invalid("tariffs: each tariff once", [{"field": "tariffs", "message": "each tariff once"}])
    async with pool.acquire() as conn:
        known = {t.id for t in await tariffs.list_all(conn, who.tenant_id)}
    missing = [
        {"field": f"tariffs[{n}]", "message": f"no tariff {t}"}
        for n, t in enumerate(data.tariffs)
        if t not in known
    ]
    if missing:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in missing), missing)
    started = [
        await run_cases.start_run(pool, who, RunIn(period=data.period, provider=data.provider, tariff=t))
        for t in data.tariffs
    ]
    async with pool.acquire() as conn:
        priced = [await runs.get(conn, who.tenant_id, r.id) for r in started]
        return await _compare(conn, who, data.period, [r for r in priced if r is not None], data.provider)


async def comparison(
    conn: asyncpg.Connection, who: Principal, *, period: str, tariffs_: list[str], provider: str | None = None
) -> s.Comparison:
    """The latest what-if runs of the period under these tariffs (the first the baseline), compared."""
    month = str(run_cases.period_of(period))
    if len(tariffs_) < 2 or len(set(tariffs_)) != len(tariffs_):
        message = "name two or more different tariffs, the baseline first"
        raise Invalid(message, [{"field": "tariff", "message": message}])
    only = own_provider(who, provider)
    priced = []
    for tariff in tariffs_:
        run = await store.latest_whatif(conn, who.tenant_id, month, tariff, only)
        if run is None:
            raise NotFound(
                f"no what-if run of {month} under {tariff}: an invoice_admin prices it with "
                "POST /v1/reports/comparisons"
            )
        priced.append(run)
    return await _compare(conn, who, month, priced, provider)


def _cells(amounts: list[Decimal], absent: list[bool], tariff_ids: list[str]) -> list[s.Cell]:
    base = amounts[0]
    return [
        s.Cell(
            tariff=t,
            amount=amount,
            absent=gone,
            difference=amount - base,
            change=followup.change_percent(base, amount),
        )
        for t, amount, gone in zip(tariff_ids, amounts, absent, strict=True)
    ]


def _compared(
    paid: list[dict[str, Decimal]], components: list[dict[str, str]], tariff_ids: list[str]
) -> dict[str, object]:
    """One provider's (or the tenant's) amounts per area, component and in total, per tariff:
    `paid[i]` component -> amount of tariff i, `components[i]` its component -> area."""
    ids: list[str] = []
    for own in components:
        ids += [c for c in own if c not in ids]
    area_of = {c: next(own[c] for own in components if c in own) for c in ids}
    none = [False] * len(tariff_ids)

    def amount(i: int, of: Iterable[str]) -> Decimal:
        return sum((paid[i].get(c, ZERO) for c in of), ZERO)

    return {
        "areas": [
            s.ComparedRow(
                key=area,
                area=None,
                cells=_cells(
                    [amount(i, [c for c, a in own.items() if a == area]) for i, own in enumerate(components)],
                    none,
                    tariff_ids,
                ),
            )
            for area in AREAS
        ],
        "components": [
            s.ComparedRow(
                key=c,
                area=area_of[c],
                cells=_cells(
                    [amount(i, [c]) for i in range(len(tariff_ids))],
                    [c not in own for own in components],
                    tariff_ids,
                ),
            )
            for c in ids
        ],
        "total": s.ComparedRow(
            key="total",
            area=None,
            cells=_cells([amount(i, own) for i, own in enumerate(components)], none, tariff_ids),
        ),
    }


async def _compare(
    conn: asyncpg.Connection, who: Principal, period: str, priced: list[runs.RunRow], provider: str | None
) -> s.Comparison:
    tenant = who.tenant_id
    only = own_provider(who, provider)
    names = dict(await runs.providers(conn, tenant, only))
    if only is not None and only not in names:
        raise NotFound(f"no provider {only}")
    tariff_ids = [r.forced_tariff or "" for r in priced]
    components = [
        {c.id: c.area for (_, _), c in (await tariffs.components(conn, tenant, [t])).items()}
        for t in tariff_ids
    ]
    amounts = [await store.amounts(conn, tenant, r.id, only) for r in priced]
    stale = {
        r.id
        for r in priced
        if any(c.any for c in await changes.since(conn, tenant, [(p, period, r.id) for p in names]))
    }

    def paid(pid: str | None) -> list[dict[str, Decimal]]:
        out = []
        for run_amounts in amounts:
            sums: dict[str, Decimal] = {}
            for (p, component), amount in run_amounts.items():
                if pid in (None, p) and p in names:
                    sums[component] = sums.get(component, ZERO) + amount
            out.append(sums)
        return out

    return s.Comparison(
        tenant=tenant,
        period=period,
        baseline=tariff_ids[0],
        runs=[
            s.ComparedRun(tariff=t, run=r.id, stale=r.id in stale)
            for t, r in zip(tariff_ids, priced, strict=True)
        ],
        providers=[
            s.ComparedProvider(provider=pid, name=name, **_compared(paid(pid), components, tariff_ids))  # type: ignore[arg-type]
            for pid, name in names.items()
        ],
        tenant_figures=None
        if who.role == "provider"
        else s.ComparedBlock(**_compared(paid(None), components, tariff_ids)),  # type: ignore[arg-type]
    )


# CSV -------------------------------------------------------------------------------------------


def _csv_value(kind: str, value: Fraction | Decimal | int | None) -> str:
    """A figure as a spreadsheet shows it: decimal comma; a share as a Swedish percentage."""
    if value is None:
        return ""
    if kind == "share":
        return followup.swedish_percent(Decimal(value))
    if kind == "minutes":
        return decimal_comma(show(Fraction(value)))
    return decimal_comma(str(value))


_FIGURE_HEADER = (
    "granted_minutes",
    "performed_minutes",
    "performed_share",
    "customers_below_target",
    *(f"licensed_visits_{c}" for c in LICENSED_CATEGORIES),
    "declined_visits",
    "declined_customers",
    *(f"customers_{a}" for a in AREAS),
    *(f"payout_{a}" for a in AREAS),
    "payout",
)


def _figure_cells(f: FollowupFigures | None) -> list[str]:
    if f is None:
        return [""] * len(_FIGURE_HEADER)
    share = None if f.performed_share is None else Decimal(f.performed_share)
    return [
        decimal_comma(f.granted_minutes),
        decimal_comma(f.performed_minutes),
        _csv_value("share", share),
        str(f.customers_below_target),
        *(str(f.licensed_visits.get(c, 0)) for c in LICENSED_CATEGORIES),
        str(f.declined_visits),
        str(f.declined_customers),
        *(str(f.customers_by_area.get(a, 0)) for a in AREAS),
        *(decimal_comma(f.payout_by_area.get(a, ZERO)) for a in AREAS),
        decimal_comma(sum(f.payout_by_area.values(), ZERO)),
    ]


_STATES = ("settled", "prepared", "reconciled", "open", "stale")
FOLLOWUP_HEADER = ("level", "provider", "period", "status", "stale", "source", *_FIGURE_HEADER, *_STATES)


def followup_csv(report: s.FollowupReport) -> Export:
    """One row per provider-month and per provider's range; then, but for a provider key, one per
    tenant month (with how many providers are in each state) and the tenant's range."""
    span = f"{report.range.from_}..{report.range.to}"
    rows: list[list[str]] = []
    for p in report.providers:
        for m in p.months:
            state = [m.status, "yes" if m.stale else "", m.source or ""]
            rows.append(["provider", p.provider, m.period, *state, *_figure_cells(m.figures), *[""] * 5])
        rows.append(["provider", p.provider, span, "", "", "", *_figure_cells(p.total), *[""] * 5])
    if report.tenant_figures is not None:
        whole = report.tenant_figures
        for t in whole.months:
            counts = [str(getattr(t.providers, x)) for x in _STATES]
            rows.append(["tenant", "", t.period, "", "", "", *_figure_cells(t.figures), *counts])
        counts = [str(getattr(whole.providers, x)) for x in _STATES]
        rows.append(["tenant", "", span, "", "", "", *_figure_cells(whole.total), *counts])
    return Export(
        filename=f"kundval-followup-{report.range.from_}-{report.range.to}.csv",
        body=to_csv(rows, FOLLOWUP_HEADER),
    )


PERIODS_HEADER = (
    "level",
    "provider",
    "figure",
    "a_from",
    "a_to",
    "a",
    "b_from",
    "b_to",
    "b",
    "difference",
    "change",
    "unit",
)


def figure_kind(figure: str) -> str:
    """How a period-over-period figure is written: minutes, share, amount or count."""
    head = figure.split(".")[0]
    if head in ("granted_minutes", "performed_minutes"):
        return "minutes"
    if head == "performed_share":
        return "share"
    return "amount" if head.startswith("payout") else "count"


def period_over_period_csv(report: s.PeriodOverPeriod) -> Export:
    """One row per figure, per provider and for the tenant: a, b, the difference and the change."""
    a, b = report.a, report.b
    blocks: list[tuple[str, str, s.PeriodBlock]] = [("provider", p.provider, p) for p in report.providers]
    if report.tenant_figures is not None:
        blocks.append(("tenant", "", report.tenant_figures))
    rows = []
    for level, pid, block in blocks:
        for c in block.changes:
            kind = figure_kind(c.figure)
            # a share's difference is in percentage points, as its change
            difference = _csv_value("count", c.change) if kind == "share" else _csv_value(kind, c.difference)  # type: ignore[arg-type]
            rows.append(
                [
                    level,
                    pid,
                    c.figure,
                    a.from_,
                    a.to,
                    _csv_value(kind, c.a),  # type: ignore[arg-type]
                    b.from_,
                    b.to,
                    _csv_value(kind, c.b),  # type: ignore[arg-type]
                    difference,
                    decimal_comma(c.change),
                    "procentenheter" if c.unit == "points" else "%",
                ]
            )
    return Export(
        filename=f"kundval-followup-{a.from_}-{a.to}-{b.from_}-{b.to}.csv", body=to_csv(rows, PERIODS_HEADER)
    )


def comparison_csv(report: s.Comparison) -> Export:
    """One row per provider (and the tenant) and area, component or total; per tariff its amount,
    whether the tariff lacks the component, the difference to the baseline and the change in percent."""
    tariff_ids = [r.tariff for r in report.runs]
    header = [
        "level",
        "provider",
        "row",
        "key",
        "area",
        *(f"{column} {t}" for t in tariff_ids for column in ("amount", "absent", "difference", "change %")),
    ]
    blocks: list[tuple[str, str, s.ComparedBlock]] = [("provider", p.provider, p) for p in report.providers]
    if report.tenant_figures is not None:
        blocks.append(("tenant", "", report.tenant_figures))
    rows = []
    for level, pid, block in blocks:
        for kind, compared in (
            *(("area", r) for r in block.areas),
            *(("component", r) for r in block.components),
            ("total", block.total),
        ):
            cells = [
                value
                for cell in compared.cells
                for value in (
                    decimal_comma(cell.amount),
                    "yes" if cell.absent else "",
                    decimal_comma(cell.difference),
                    decimal_comma(cell.change),
                )
            ]
            rows.append([level, pid, kind, compared.key, compared.area or "", *cells])
    return Export(filename=f"kundval-comparison-{report.period}.csv", body=to_csv(rows, header))
