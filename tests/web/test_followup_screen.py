"""Screen 7, Uppföljning, in a real browser: two months of 2023 against the same two of 2024 (the data
of tests/api/test_reports_followup.py), each month run. Graph 2 (visits by licensed staff per month),
declined visits per provider and period over period are checked against figures counted here from
the visits posted; every chart's bars against its data table; axe finds nothing serious; English
through the catalogue."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from service.scenario_load import load_scenario
from tests.api.test_reports_followup import scenario
from tests.conftest import auth
from tests.web.axe import assert_accessible
from tests.web.test_workplace import SCREENSHOTS, log_in
from tests.web.users import create_user

A_MONTHS, B_MONTHS = ["2023-02", "2023-03"], ["2024-02", "2024-03"]
DATA = scenario(A_MONTHS + B_MONTHS)
LICENSED = ("sjukskoterska", "distriktsskoterska", "fysioterapeut", "arbetsterapeut")
NAMES_SV = ("sjuksköterska", "distriktssköterska", "fysioterapeut", "arbetsterapeut")
NAMES = {"prov-a": "PROV-A", "prov-b": "PROV-B"}


@pytest.fixture
async def months(client, keys, conn):
    """The four months loaded through the API and each run; an invoice administrator."""
    loader = {"registry": keys["registry"], "prov-a": keys["provider"], "prov-b": keys["provider_b"]}
    await load_scenario(client, DATA, loader)
    for period in A_MONTHS + B_MONTHS:
        ran = await client.post("/v1/runs", json={"period": period}, headers=auth(keys["invoice_admin"]))
        assert ran.status_code == 201, ran.text
    await create_user(conn, "anna", "invoice_admin", "Anna")


def _month(visit: dict) -> str:
    return visit["start"][:7]


def licensed(periods: list[str], provider: str | None = None) -> Counter:
    """(period, category) -> performed visits by licensed staff, as posted."""
    return Counter(
        (_month(v), v["staff_category"])
        for v in DATA["visits"]
        if v["status"] == "performed"
        and v["staff_category"] in LICENSED
        and _month(v) in periods
        and provider in (None, v["provider"])
    )


def declined(periods: list[str], provider: str) -> int:
    return sum(
        v["status"] == "declined" and _month(v) in periods and v["provider"] == provider
        for v in DATA["visits"]
    )


def performed_minutes(periods: list[str]) -> int:
    """Bistånd minutes performed (every visit of the data is whole minutes from 08:00)."""
    return sum(
        int(v["end"][11:13]) * 60 + int(v["end"][14:16]) - 8 * 60
        for v in DATA["visits"]
        if v["status"] == "performed" and v["report_type"] == "bistand" and _month(v) in periods
    )


def granted_minutes(periods: list[str]) -> int:
    """The one decision grants 60 minutes on every day (chosen, executed, never paused)."""
    return sum(60 * calendar.monthrange(*map(int, p.split("-")))[1] for p in periods)


def share(periods: list[str]) -> Decimal:
    return (Decimal(performed_minutes(periods)) / granted_minutes(periods)).quantize(
        Decimal("0.0001"), ROUND_HALF_UP
    )


def _amount(text: str) -> Decimal:
    return Decimal(text.replace("\xa0", "").replace(" ", "").replace(",", "."))


def percent(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP)}".replace(".", ",").replace("-", "−")


async def cells(table: Locator) -> dict[str, list[str]]:
    """A data table's rows by their heading: the cells' texts."""
    out = {}
    for row in await table.locator("tbody tr, tfoot tr").all():
        out[(await row.locator("th").inner_text()).strip()] = [
            c.strip() for c in await row.locator("td").all_inner_texts()
        ]
    return out


async def bars(chart: Locator) -> dict[str, tuple[Decimal, float]]:
    """A chart's bars by label: (value, drawn height)."""
    out = {}
    for rect in await chart.locator("rect[data-label]").all():
        out[await rect.get_attribute("data-label")] = (
            Decimal(await rect.get_attribute("data-value")),
            float(await rect.get_attribute("height")),
        )
    return out


def proportional(drawn: dict[str, tuple[Decimal, float]]) -> None:
    """Every bar's height is its value on one scale (heights are drawn to a tenth of a unit)."""
    value, height = max(drawn.values())
    assert value > 0, drawn
    assert all(abs(h - float(v) * height / float(value)) <= 0.1 for v, h in drawn.values()), drawn


async def test_graph_2_declined_visits_and_period_over_period(page: Page, months):
    await log_in(page, "anna")
    await page.get_by_role("link", name="Uppföljning").click()
    await page.get_by_label("Första månaden (ÅÅÅÅ-MM)").fill(B_MONTHS[0])
    await page.get_by_label("Sista månaden (ÅÅÅÅ-MM)").fill(B_MONTHS[-1])
    await page.get_by_label("Jämförelseperiodens början (ÅÅÅÅ-MM)").fill(A_MONTHS[0])
    await page.get_by_label("Jämförelseperiodens slut (ÅÅÅÅ-MM)").fill(A_MONTHS[-1])
    await page.get_by_role("button", name="Visa").click()
    await expect(page).to_have_url(
        f"/followup?from={B_MONTHS[0]}&to={B_MONTHS[-1]}&provider="
        f"&compare_from={A_MONTHS[0]}&compare_to={A_MONTHS[-1]}"
    )
    whole = page.get_by_role("region", name="Hela huvudmannen")

    # Graph 1 for the tenant: the share performed per month, in the table and drawn.
    table = await cells(whole.get_by_role("table", name="Andel utförd av beviljad tid"))
    drawn = await bars(whole.get_by_role("img", name="Andel utförd av beviljad tid, hela huvudmannen"))
    for period in B_MONTHS:
        assert table[period][3] == f"{percent(share([period]) * 100)} %"
        assert drawn[period][0] == share([period]) * 100
    # Graph 2 for the tenant: a bar per month stacked by category, the table beside it the same.
    counted = licensed(B_MONTHS)
    assert sum(counted.values()) > 0
    chart = whole.get_by_role("img", name="Besök av legitimerad personal, hela huvudmannen")
    await expect(chart).to_be_visible()
    table = await cells(whole.get_by_role("table", name="Besök av legitimerad personal"))
    drawn = await bars(chart)
    for period in B_MONTHS:
        row = [counted[(period, c)] for c in LICENSED]
        assert table[period] == [str(n) for n in [*row, sum(row)]]
        assert {c: drawn[f"{period} {name}"][0] for c, name in zip(LICENSED, NAMES_SV, strict=True)} == dict(
            zip(LICENSED, row, strict=True)
        )
    proportional(drawn)
    for provider, name in NAMES.items():  # and each provider's own graph 2
        own = page.get_by_role("region", name=name)
        rows = await cells(own.get_by_role("table", name="Besök av legitimerad personal"))
        mine = licensed(B_MONTHS, provider)
        assert {p: r[-1] for p, r in rows.items()} == {
            p: str(sum(mine[(p, c)] for c in LICENSED)) for p in B_MONTHS
        }

    # Payout per area and month: prov-a's hemtjänst is an hour a day at kson-2024's 470.00; prov-b's
    # hemsjukvård a whole month's listing, 1 740.00, and its nurse visits' hours at 560.00.
    table = await cells(whole.get_by_role("table", name="Utbetalning per område"))
    drawn = await bars(whole.get_by_role("img", name="Utbetalning per område, hela huvudmannen"))
    for period in B_MONTHS:
        home_care = Decimal(granted_minutes([period]) // 60 * 470)
        nurse_hours = (
            Decimal(
                sum(
                    int(v["end"][14:16]) + 60 * int(v["end"][11:13]) - 8 * 60
                    for v in DATA["visits"]
                    if v["provider"] == "prov-b" and _month(v) == period and v["status"] == "performed"
                )
            )
            / 60
        )
        health = Decimal("1740.00") + nurse_hours * 560
        assert [_amount(x) for x in table[period][:2]] == [home_care, health]
        assert (drawn[f"{period} hemtjänst"][0], drawn[f"{period} hemsjukvård"][0]) == (home_care, health)
    assert _amount(table["Alla"][-1]) == sum(_amount(table[p][-1]) for p in B_MONTHS)
    proportional(drawn)

    # Declined visits per provider: the bars, the table and the visits posted agree.
    chart = whole.get_by_role("img", name="Avböjda besök per utförare")
    table = await cells(whole.get_by_role("table", name="Avböjda besök per utförare"))
    drawn = await bars(chart)
    assert {name: drawn[name][0] for name in NAMES.values()} == {
        name: declined(B_MONTHS, p) for p, name in NAMES.items()
    }
    assert {name: int(table[name][0]) for name in NAMES.values()} == {
        name: declined(B_MONTHS, p) for p, name in NAMES.items()
    }
    assert table["Hela huvudmannen"][0] == str(sum(declined(B_MONTHS, p) for p in NAMES))
    assert sum(declined(B_MONTHS, p) for p in NAMES) > 0

    # Period over period: figures summed, a change in per cent, a share's difference in points.
    section = page.get_by_role("region", name=re.compile("^Period mot period"))
    periods = section.get_by_role("table", name="Period mot period, hela huvudmannen")
    await expect(periods).to_be_visible()

    async def figure(name: str) -> list[str]:
        return [c.strip() for c in await periods.locator(f'tr[data-figure="{name}"] td').all_inner_texts()]

    a, b = sum(licensed(A_MONTHS).values()), sum(licensed(B_MONTHS).values())
    change = (Decimal(b - a) * 100 / abs(a)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert await figure("licensed_visits") == [
        str(a),
        str(b),
        f"{b - a:+d}".replace("-", "−"),
        f"{percent(change)} %",
    ]
    a, b = performed_minutes(A_MONTHS), performed_minutes(B_MONTHS)
    change = (Decimal(b - a) * 100 / abs(a)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert (await figure("performed_minutes"))[3] == f"+{percent(change)} %"
    points = (share(B_MONTHS) - share(A_MONTHS)) * 100
    assert await figure("performed_share") == [
        f"{percent(share(A_MONTHS) * 100)} %",
        f"{percent(share(B_MONTHS) * 100)} %",
        f"+{percent(points)} procentenheter",
        "–",
    ]
    declined_a = sum(declined(A_MONTHS, p) for p in NAMES)
    assert declined_a == 0 and (await figure("declined_visits"))[3] == "–"  # no change from nothing

    # Per provider, the key figures: visits by licensed staff of each, counted from the visits posted.
    by_provider = section.get_by_role("table", name="Period mot period per utförare")
    for provider, name in NAMES.items():
        a, b = sum(licensed(A_MONTHS, provider).values()), sum(licensed(B_MONTHS, provider).values())
        group = by_provider.locator("tbody").filter(has=page.get_by_role("rowheader", name=name, exact=True))
        row = group.locator('tr[data-figure="licensed_visits"] td')
        assert (await row.all_inner_texts())[:2] == [str(a), str(b)]

    # Payout per area in both ranges: the bars agree with the table's a and b columns.
    chart = page.get_by_role("img", name="Utbetalning per område under båda perioderna, hela huvudmannen")
    drawn = await chart.locator("rect[data-label]").all()
    values = {
        await r.get_attribute("data-label"): Decimal(await r.get_attribute("data-value")) for r in drawn
    }
    for area, name in [("hemtjanst", "hemtjänst"), ("hemsjukvard", "hemsjukvård")]:
        a, b = (await figure(f"payout_by_area.{area}"))[:2]
        assert values[f"{name} 2023-02–03"] == Decimal(
            a.replace("\xa0", "").replace(" ", "").replace(",", ".")
        )
        assert values[f"{name} 2024-02–03"] == Decimal(
            b.replace("\xa0", "").replace(" ", "").replace(",", ".")
        )

    await assert_accessible(page)
    if SCREENSHOTS:  # the tenant's charts and period over period (docs/workplace.md)
        for name, region in [("17-uppfoljning-grafer", whole), ("18-uppfoljning-period-mot-period", section)]:
            await region.screenshot(path=Path(SCREENSHOTS) / f"{name}.png")

    # English through the catalogue.
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("img", name="Visits by licensed staff, the whole tenant")).to_be_visible()
    await expect(page.get_by_role("table", name="Period over period, the whole tenant")).to_contain_text(
        "percentage points"
    )


async def test_the_range_compared_with_is_as_long_as_the_range_reported(page: Page, months):
    await log_in(page, "anna")
    await page.goto(f"/followup?from={B_MONTHS[0]}&to={B_MONTHS[-1]}&compare_from={A_MONTHS[0]}")
    heading = "Period mot period: 2024-02–03 jämfört med 2023-02–03"
    await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await expect(page.get_by_label("Jämförelseperiodens slut (ÅÅÅÅ-MM)")).to_have_value(A_MONTHS[-1])

    # One provider chosen: its every figure, and no figures said to be the whole tenant's.
    await page.goto(
        f"/followup?from={B_MONTHS[0]}&to={B_MONTHS[-1]}&provider=prov-b&compare_from={A_MONTHS[0]}"
    )
    table = page.get_by_role("table", name="Period mot period, PROV-B")
    a, b = sum(licensed(A_MONTHS, "prov-b").values()), sum(licensed(B_MONTHS, "prov-b").values())
    await expect(table.locator('tr[data-figure="licensed_visits"] td').first).to_have_text(str(a))
    await expect(table.locator('tr[data-figure="licensed_visits"] td').nth(1)).to_have_text(str(b))
    await expect(page.get_by_role("region", name="Hela huvudmannen")).to_have_count(0)
    await assert_accessible(page)

    # Ranges of unequal length are explained; the range reported is still shown.
    await page.goto(
        f"/followup?from={B_MONTHS[0]}&to={B_MONTHS[-1]}&compare_from={A_MONTHS[0]}&compare_to={A_MONTHS[0]}"
    )
    await expect(page.get_by_role("alert")).to_contain_text("Perioderna kan inte jämföras")
    await expect(
        page.get_by_role("img", name="Besök av legitimerad personal, hela huvudmannen")
    ).to_be_visible()
