"""Reports (followup.md 2 and 3): follow-up figures over months, period over period, and one period
under several tariffs side by side; JSON and CSV. Each handler calls one use case
(service/usecases/reports.py says who sees what)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response
from litestar.datastructures import State
from litestar.params import FromQuery, QueryParameter

from schemas import reports as s
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import CSV, Payload, csv_attachment, get, parse, post
from service.http.deps import Conn
from service.usecases import reports

READERS = allow("invoice_admin", "auditor", "reader", "provider")
Req = Request[Principal, None, State]

From = Annotated[str, QueryParameter(name="from", description="first month of the range, YYYY-MM")]
To = Annotated[str, QueryParameter(description="last month of the range, YYYY-MM (at most 36 months)")]
CompareFrom = Annotated[str, QueryParameter(description="first month of the range compared with (a)")]
CompareTo = Annotated[str, QueryParameter(description="last month of the range compared with (a)")]
Provider = Annotated[
    str | None, QueryParameter(description="one provider's figures (a provider key sees only its own)")
]
Tariffs = Annotated[
    list[str], QueryParameter(name="tariff", description="the tariffs compared, the baseline first")
]


@get(
    "/v1/reports/followup",
    operation_id="getFollowupReport",
    tags=["reports"],
    guards=[READERS],
    summary="Follow-up figures over a range of months: each provider-month's state and figures, the tenant's",
    description="Per provider and month: settled (figures frozen when attested), prepared, reconciled "
    "(the current run's figures) or open, and stale when inputs changed since the month's run; each "
    "provider's sums over the range (customers counted once). The tenant's months show how many "
    "providers are in each state. A provider key gets its own provider only, without tenant figures.",
)
async def followup_report(
    request: Req, conn: Conn, first: From, to: To, provider: Provider = None
) -> s.FollowupReport:
    return await reports.followup_report(conn, request.user, first=first, last=to, provider=provider)


@get(
    "/v1/reports/followup.csv",
    operation_id="exportFollowupReportCsv",
    tags=["reports"],
    guards=[READERS],
    summary="The follow-up report as CSV: semicolon-separated, decimal comma, shares as percentages",
    media_type=CSV,
)
async def followup_csv(
    request: Req, conn: Conn, first: From, to: To, provider: Provider = None
) -> Response[bytes]:
    report = await reports.followup_report(conn, request.user, first=first, last=to, provider=provider)
    return csv_attachment(reports.followup_csv(report))


@get(
    "/v1/reports/followup/period-over-period",
    operation_id="getPeriodOverPeriod",
    tags=["reports"],
    guards=[READERS],
    summary="Two ranges of equal length side by side, with differences and changes in percent",
    description="b is the range reported (`from`..`to`), a the range compared with (`compare_from`.."
    "`compare_to`). Minutes, visits and amounts are summed, customers counted once per range, shares "
    "recomputed from the sums; a change is (b - a) / |a| x 100 half up to one decimal (null when a is "
    "0), for a share the difference in percentage points.",
)
async def period_over_period(
    request: Req,
    conn: Conn,
    first: From,
    to: To,
    compare_from: CompareFrom,
    compare_to: CompareTo,
    provider: Provider = None,
) -> s.PeriodOverPeriod:
    return await reports.period_over_period(
        conn,
        request.user,
        first=first,
        last=to,
        compare_first=compare_from,
        compare_last=compare_to,
        provider=provider,
    )


@get(
    "/v1/reports/followup/period-over-period.csv",
    operation_id="exportPeriodOverPeriodCsv",
    tags=["reports"],
    guards=[READERS],
    summary="Period over period as CSV: one row per figure, shares as percentages",
    media_type=CSV,
)
async def period_over_period_csv(
    request: Req,
    conn: Conn,
    first: From,
    to: To,
    compare_from: CompareFrom,
    compare_to: CompareTo,
    provider: Provider = None,
) -> Response[bytes]:
    report = await reports.period_over_period(
        conn,
        request.user,
        first=first,
        last=to,
        compare_first=compare_from,
        compare_last=compare_to,
        provider=provider,
    )
    return csv_attachment(reports.period_over_period_csv(report))


@post(
    "/v1/reports/comparisons",
    operation_id="createComparison",
    tags=["reports"],
    guards=[allow("invoice_admin")],
    status_code=201,
    summary="Price a period under several tariffs on current inputs (what-if runs) and compare them",
    description="One what-if run per tariff (each audited as a run; simulations, never prepared or "
    "settled), then the comparison: per provider and for the tenant, each tariff's amount per area, "
    "per component (0.00 and `absent` where a tariff lacks it) and in total, with the difference to "
    "the first tariff (the baseline) and the change in percent.",
)
async def create_comparison(request: Req, state: State, data: Payload[s.ComparisonIn]) -> s.Comparison:
    return await reports.create_comparison(state.pool, request.user, parse(s.ComparisonIn, data))


@get(
    "/v1/reports/comparison",
    operation_id="getComparison",
    tags=["reports"],
    guards=[READERS],
    summary="The latest what-if runs of a period under these tariffs, compared (the first the baseline)",
)
async def comparison(
    request: Req, conn: Conn, period: FromQuery[str], tariff: Tariffs, provider: Provider = None
) -> s.Comparison:
    return await reports.comparison(conn, request.user, period=period, tariffs_=tariff, provider=provider)


@get(
    "/v1/reports/comparison.csv",
    operation_id="exportComparisonCsv",
    tags=["reports"],
    guards=[READERS],
    summary="The comparison as CSV: per tariff its amount, absent, difference and change in percent",
    media_type=CSV,
)
async def comparison_csv(
    request: Req, conn: Conn, period: FromQuery[str], tariff: Tariffs, provider: Provider = None
) -> Response[bytes]:
    report = await reports.comparison(conn, request.user, period=period, tariffs_=tariff, provider=provider)
    return csv_attachment(reports.comparison_csv(report))


ROUTES = [
    followup_report,
    followup_csv,
    period_over_period,
    period_over_period_csv,
    create_comparison,
    comparison,
    comparison_csv,
]
