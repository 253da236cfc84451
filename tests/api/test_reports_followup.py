"""Reports over months (followup.md 2) through the HTTP API: two half-years of settled months,
February-July 2023 (kson-2021) against February-July 2024 (kson-2024), each figure counted by hand;
the states of provider-months; settled figures frozen; who sees what; the CSV.

The data, per month of both half-years (tatort, so every rate is the tatort one):
  prov-a, customer C1: granted omsorg 60 min a day on every day (a billable day each: chosen,
    executed, never paused): 1 hour a day, so the month's hemtjänst payout is days x the hourly rate
    (kson-2021 427.00, kson-2024 470.00). Bistånd visits of 60 min: 10 a month in 2023 (share below
    85 %: LOW_PERFORMED_SHARE each month), 27 a month in 2024 (above it in every month); in 2024
    also one declined visit a month.
  prov-b, customer C2: enrolled in hemsjukvård with a remiss; listing 1000.00 (2021) or 1740.00
    (2024) a whole month; nurse visits of 30 min, 3 a month in 2023 (420.00 each, per visit), 2 a
    month in 2024 (together 1 hour at 560.00).
Days: Feb-Jul 2023 = 28+31+30+31+30+31 = 181, Feb-Jul 2024 = 29+31+30+31+30+31 = 182.
"""

from __future__ import annotations

import calendar
import csv
import io
from decimal import Decimal

import asyncpg
import pytest

from service.scenario_load import load_scenario
from tests.conftest import auth

C1, C2 = "193805149493", "194211029188"
A_MONTHS = [f"2023-{m:02d}" for m in range(2, 8)]
B_MONTHS = [f"2024-{m:02d}" for m in range(2, 8)]
DAYS_A, DAYS_B = 181, 182
assert sum(calendar.monthrange(2023, m)[1] for m in range(2, 8)) == DAYS_A
assert sum(calendar.monthrange(2024, m)[1] for m in range(2, 8)) == DAYS_B


def _visit(vid, provider, customer, staff, category, report_type, day, minutes, code, status="performed"):
    end_minutes = 8 * 60 + minutes
    return {
        "id": vid,
        "provider": provider,
        "customer": customer,
        "staff": staff,
        "staff_category": category,
        "report_type": report_type,
        "start": f"{day}T08:00:00+01:00",
        "end": f"{day}T{end_minutes // 60:02d}:{end_minutes % 60:02d}:00+01:00",
        "codes": [code],
        "method": "tag",
        "status": status,
    }


def scenario(months: list[str]) -> dict:
    visits = []
    for period in months:
        later = period >= "2024"
        for day in range(1, (27 if later else 10) + 1):
            visits.append(
                _visit(
                    f"A{period}-{day}",
                    "prov-a",
                    C1,
                    "S1",
                    "underskoterska",
                    "bistand",
                    f"{period}-{day:02d}",
                    60,
                    "morgonhjalp",
                )
            )
        if later:
            visits.append(
                _visit(
                    f"A{period}-D",
                    "prov-a",
                    C1,
                    "S1",
                    "underskoterska",
                    "bistand",
                    f"{period}-28",
                    60,
                    "morgonhjalp",
                    status="declined",
                )
            )
        for n in range(1, (2 if later else 3) + 1):
            visits.append(
                _visit(
                    f"B{period}-{n}",
                    "prov-b",
                    C2,
                    "N1",
                    "sjukskoterska",
                    "hsl",
                    f"{period}-{n + 10:02d}",
                    30,
                    "sjukskoterskebesok",
                )
            )
    return {
        "customers": [
            {
                "pnr": C1,
                "zones": [{"from": "2020-01-01", "zone": "tatort"}],
                "choices": [{"from": "2023-01-01", "provider": "prov-a"}],
            },
            {
                "pnr": C2,
                "zones": [{"from": "2020-01-01", "zone": "tatort"}],
                "choices": [{"from": "2023-01-01", "provider": "prov-b"}],
            },
        ],
        "decisions": [
            {
                "id": "D1",
                "customer": C1,
                "lines": [
                    {
                        "id": "D1-1",
                        "code": "morgonhjalp",
                        "category": "omsorg",
                        "minutes": 60,
                        "occasions": "1",
                        "per": "day",
                        "from": "2023-01-01",
                        "to": None,
                    }
                ],
                "executions": [{"provider": "prov-a", "from": "2023-01-01"}],
            },
        ],
        "enrolments": [
            {
                "id": "E1",
                "customer": C2,
                "provider": "prov-b",
                "area": "hemsjukvard",
                "from": "2023-01-01",
                "to": None,
                "remiss": "REM-1",
            },
        ],
        "visits": visits,
    }


async def call(client, key, method, url, expect=200, **kwargs):
    response = await client.request(method, url, headers=auth(key), **kwargs)
    assert response.status_code == expect, response.text
    return response.json() if "json" in response.headers.get("content-type", "") else response


async def settle(client, keys, period, providers=("prov-a", "prov-b")):
    """A real run of the month, each provider prepared by one invoice_admin and attested by another."""
    await call(client, keys["invoice_admin"], "POST", "/v1/runs", 201, json={"period": period})
    for provider in providers:
        prepared = await call(
            client,
            keys["invoice_admin"],
            "POST",
            "/v1/settlements",
            201,
            json={"provider": provider, "period": period},
        )
        await call(client, keys["invoice_admin_2"], "POST", f"/v1/settlements/{prepared['id']}/attestation")


@pytest.fixture
async def year(client, keys):
    """Both half-years loaded and every provider-month settled."""
    loader = {"registry": keys["registry"], "prov-a": keys["provider"], "prov-b": keys["provider_b"]}
    await load_scenario(client, scenario(A_MONTHS + B_MONTHS), loader)
    for period in A_MONTHS + B_MONTHS:
        await settle(client, keys, period)
    return keys


def changes(block):
    return {c["figure"]: c for c in block["changes"]}


def pct(a, b):
    """(b - a) / |a| x 100, half up to one decimal: the hand-counted change."""
    return str((Decimal(b - a) * 100 / abs(Decimal(a))).quantize(Decimal("0.1"), rounding="ROUND_HALF_UP"))


async def test_two_half_years_of_settled_months_period_over_period(client, year):
    query = {"from": "2024-02", "to": "2024-07", "compare_from": "2023-02", "compare_to": "2023-07"}
    report = await call(
        client, year["reader"], "GET", "/v1/reports/followup/period-over-period", params=query
    )
    assert report["a"] == {"from": "2023-02", "to": "2023-07", "months": 6}
    assert report["b"] == {"from": "2024-02", "to": "2024-07", "months": 6}
    tenant = report["tenant_figures"]
    assert (
        tenant["a_months"]
        == tenant["b_months"]
        == {"settled": 12, "prepared": 0, "reconciled": 0, "open": 0, "stale": 0}
    )
    got = changes(tenant)

    def row(figure, a, b, difference, change, unit="percent"):
        assert got[figure] == {
            "figure": figure,
            "a": a,
            "b": b,
            "difference": difference,
            "change": change,
            "unit": unit,
        }, figure

    # Granted: 60 min a day; performed: 10 and 27 visits of 60 min a month.
    row("granted_minutes", f"{DAYS_A * 60}.0000", f"{DAYS_B * 60}.0000", "60.0000", pct(DAYS_A, DAYS_B))
    assert pct(DAYS_A, DAYS_B) == "0.6"
    row("performed_minutes", f"{6 * 10 * 60}.0000", f"{6 * 27 * 60}.0000", f"{6 * 17 * 60}.0000", "170.0")
    # Shares from the sums: 3600 / 10860 = 0.33149 -> 0.3315; 9720 / 10920 = 0.89011 -> 0.8901.
    row("performed_share", "0.3315", "0.8901", "0.5586", "55.9", unit="points")
    row("customers_below_target", 6, 0, -6, "-100.0")
    row("licensed_visits", 18, 12, -6, "-33.3")
    row("licensed_visits.sjukskoterska", 18, 12, -6, "-33.3")
    row("licensed_visits.fysioterapeut", 0, 0, 0, None)
    row("declined_visits", 0, 6, 6, None)  # nothing to compare with: null
    row("declined_customers", 0, 1, 1, None)
    # Customers once over each range, not once a month.
    row("customers", 2, 2, 0, "0.0")
    row("customers_by_area.hemtjanst", 1, 1, 0, "0.0")
    row("customers_by_area.hemsjukvard", 1, 1, 0, "0.0")
    row("customers_by_area.hemrehab", 0, 0, 0, None)
    hemtjanst_a, hemtjanst_b = DAYS_A * 427, DAYS_B * 470  # 77287 and 85540
    hemsjukvard_a = 6 * (1000 + 3 * 420)  # 13560
    hemsjukvard_b = 6 * (1740 + 560)  # 13800: two visits of 30 min are one hour
    row(
        "payout_by_area.hemtjanst",
        f"{hemtjanst_a}.00",
        f"{hemtjanst_b}.00",
        f"{hemtjanst_b - hemtjanst_a}.00",
        pct(hemtjanst_a, hemtjanst_b),
    )
    assert pct(hemtjanst_a, hemtjanst_b) == "10.7"
    row("payout_by_area.hemsjukvard", f"{hemsjukvard_a}.00", f"{hemsjukvard_b}.00", "240.00", "1.8")
    row("payout_by_area.hemrehab", "0.00", "0.00", "0.00", None)
    a, b = hemtjanst_a + hemsjukvard_a, hemtjanst_b + hemsjukvard_b  # 90847 and 99340
    row("payout", f"{a}.00", f"{b}.00", f"{b - a}.00", "9.3")

    # Each provider's own block: the tenant's figures split, the states of its own months only.
    blocks = {p["provider"]: p for p in report["providers"]}
    assert blocks["prov-a"]["a_months"]["settled"] == 6
    assert changes(blocks["prov-a"])["payout"]["change"] == "10.7"
    assert changes(blocks["prov-b"])["payout"]["change"] == "1.8"
    assert changes(blocks["prov-b"])["granted_minutes"]["a"] == "0.0000"
    assert changes(blocks["prov-b"])["performed_share"] == {
        "figure": "performed_share",
        "a": None,
        "b": None,
        "difference": None,
        "change": None,
        "unit": "points",
    }

    # The months themselves: every one settled, its figures the frozen ones.
    months = await call(
        client, year["auditor"], "GET", "/v1/reports/followup", params={"from": "2024-02", "to": "2024-07"}
    )
    a_months = {p["provider"]: p for p in months["providers"]}["prov-a"]["months"]
    assert [(m["period"], m["status"], m["source"], m["stale"]) for m in a_months] == [
        (p, "settled", "settlement", False) for p in B_MONTHS
    ]
    feb = a_months[0]["figures"]
    assert (feb["granted_minutes"], feb["performed_share"], feb["payout_by_area"]["hemtjanst"]) == (
        f"{29 * 60}.0000",
        "0.9310",
        f"{29 * 470}.00",  # 1620 / 1740
    )
    assert months["tenant_figures"]["months"][0]["providers"]["settled"] == 2
    assert months["tenant_figures"]["total"]["payout_by_area"]["hemtjanst"] == f"{hemtjanst_b}.00"


async def test_a_settled_months_figures_stay_as_settled(client, year, conn):
    """A late visit and a new run of a settled month change the current run's figures, not the
    settled ones the report shows; the database refuses changing the frozen figures."""
    late = _visit("A-late", "prov-a", C1, "S1", "underskoterska", "bistand", "2024-03-29", 60, "morgonhjalp")
    await call(
        client,
        year["provider"],
        "POST",
        "/v1/visits",
        200,
        json=[{k: v for k, v in late.items() if k != "provider"}],
    )
    run = await call(client, year["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    result = await call(client, year["invoice_admin"], "GET", f"/v1/runs/{run['id']}/result")
    current = {p["provider"]: p for p in result["followup"]["providers"]}["prov-a"]
    assert current["performed_minutes"] == f"{28 * 60}.0000"  # the run counts the late visit
    report = await call(
        client,
        year["reader"],
        "GET",
        "/v1/reports/followup",
        params={"from": "2024-03", "to": "2024-03", "provider": "prov-a"},
    )
    (march,) = report["providers"][0]["months"]
    assert (march["status"], march["source"]) == ("settled", "settlement")
    assert march["run"] != run["id"] and march["figures"]["performed_minutes"] == f"{27 * 60}.0000"
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("UPDATE settlement_followup SET declined_visits = 0")
    # Nor can figures be added to a settled month (only an attestation in progress freezes them).
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="frozen"):
        await conn.execute(
            """INSERT INTO settlement_followup
               SELECT tenant_id, settlement_id, provider_id, '2024-03', run_id, granted_minutes,
                      performed_minutes, customers_below_target, licensed_visits, declined_visits,
                      declined_customers, customers_by_area, payout_by_area
               FROM settlement_followup WHERE period = '2024-02' AND provider_id = 'prov-a'"""
        )


async def test_each_provider_months_state(client, keys):
    """Open (no run), reconciled, prepared, and stale when inputs changed since the month's run."""
    loader = {"registry": keys["registry"], "prov-a": keys["provider"], "prov-b": keys["provider_b"]}
    await load_scenario(client, scenario(["2024-02"]), loader)
    await settle(client, keys, "2024-02")
    await call(client, keys["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    await call(
        client,
        keys["invoice_admin"],
        "POST",
        "/v1/settlements",
        201,
        json={"provider": "prov-b", "period": "2024-03"},
    )
    late = _visit("A-late", "prov-a", C1, "S1", "underskoterska", "bistand", "2024-03-05", 60, "morgonhjalp")
    await call(
        client,
        keys["provider"],
        "POST",
        "/v1/visits",
        200,
        json=[{k: v for k, v in late.items() if k != "provider"}],
    )
    report = await call(
        client,
        keys["invoice_admin"],
        "GET",
        "/v1/reports/followup",
        params={"from": "2024-02", "to": "2024-04"},
    )
    states = {
        (p["provider"], m["period"]): (m["status"], m["stale"], m["source"])
        for p in report["providers"]
        for m in p["months"]
    }
    assert states == {
        ("prov-a", "2024-02"): ("settled", False, "settlement"),
        ("prov-a", "2024-03"): ("reconciled", True, "run"),  # the late visit came after its run
        ("prov-a", "2024-04"): ("open", False, None),
        ("prov-b", "2024-02"): ("settled", False, "settlement"),
        ("prov-b", "2024-03"): ("prepared", False, "run"),  # another provider's visit: not stale
        ("prov-b", "2024-04"): ("open", False, None),
    }
    assert [m["figures"] for p in report["providers"] for m in p["months"] if m["status"] == "open"] == [
        None,
        None,
    ]
    tenant = {m["period"]: m["providers"] for m in report["tenant_figures"]["months"]}
    assert tenant["2024-03"] == {"settled": 0, "prepared": 1, "reconciled": 1, "open": 0, "stale": 1}
    assert tenant["2024-04"] == {"settled": 0, "prepared": 0, "reconciled": 0, "open": 2, "stale": 0}
    assert report["tenant_figures"]["providers"] == {
        "settled": 2,
        "prepared": 1,
        "reconciled": 1,
        "open": 2,
        "stale": 1,
    }


async def test_who_reads_reports(client, keys):
    """invoice_admin, auditor and reader read every provider and the tenant; a provider key its own
    figures only, without tenant figures; the registry nothing."""
    loader = {"registry": keys["registry"], "prov-a": keys["provider"], "prov-b": keys["provider_b"]}
    await load_scenario(client, scenario(["2024-02"]), loader)
    await settle(client, keys, "2024-02")
    params = {"from": "2024-02", "to": "2024-02"}
    pop = {**params, "compare_from": "2023-02", "compare_to": "2023-02"}
    for name in ("invoice_admin", "auditor", "reader"):
        report = await call(client, keys[name], "GET", "/v1/reports/followup", params=params)
        assert [p["provider"] for p in report["providers"]] == ["prov-a", "prov-b"]
        assert report["tenant_figures"]["total"]["payout_by_area"]["hemsjukvard"] == "2300.00"
    own = await call(client, keys["provider_b"], "GET", "/v1/reports/followup", params=params)
    assert [p["provider"] for p in own["providers"]] == ["prov-b"] and own["tenant_figures"] is None
    assert "prov-a" not in str(own) and "PROV-A" not in str(own)
    text = (await call(client, keys["provider_b"], "GET", "/v1/reports/followup.csv", params=params)).text
    assert "prov-a" not in text and "tenant" not in text
    own_pop = await call(
        client, keys["provider_b"], "GET", "/v1/reports/followup/period-over-period", params=pop
    )
    assert [p["provider"] for p in own_pop["providers"]] == ["prov-b"] and own_pop["tenant_figures"] is None
    # Asking for another provider's figures is refused.
    await call(
        client,
        keys["provider_b"],
        "GET",
        "/v1/reports/followup",
        403,
        params={**params, "provider": "prov-a"},
    )
    await call(
        client,
        keys["provider"],
        "GET",
        "/v1/reports/followup/period-over-period",
        403,
        params={**pop, "provider": "prov-b"},
    )
    for url in ("/v1/reports/followup", "/v1/reports/followup.csv"):
        await call(client, keys["registry"], "GET", url, 403, params=params)
    await call(client, keys["registry"], "GET", "/v1/reports/followup/period-over-period", 403, params=pop)


async def test_bad_ranges_are_problems_naming_the_field(client, keys):
    reader = keys["reader"]
    problem = await call(
        client, reader, "GET", "/v1/reports/followup", 422, params={"from": "2024-13", "to": "2024-1"}
    )
    assert {e["field"] for e in problem["errors"]} == {"from", "to"}
    problem = await call(
        client, reader, "GET", "/v1/reports/followup", 422, params={"from": "2024-05", "to": "2024-02"}
    )
    assert [e["field"] for e in problem["errors"]] == ["to"]
    problem = await call(
        client, reader, "GET", "/v1/reports/followup", 422, params={"from": "2020-01", "to": "2024-01"}
    )
    assert "at most 36 months" in problem["errors"][0]["message"]
    problem = await call(
        client,
        reader,
        "GET",
        "/v1/reports/followup/period-over-period",
        422,
        params={"from": "2024-02", "to": "2024-07", "compare_from": "2023-02", "compare_to": "2023-06"},
    )
    assert [e["field"] for e in problem["errors"]] == ["compare_to"]
    assert "equal length" in problem["detail"]
    await call(client, reader, "GET", "/v1/reports/followup", 400, params={"from": "2024-02"})


async def test_reports_as_csv(client, year):
    """The settlement CSV's conventions: BOM, semicolons, CRLF, decimal comma; shares as Swedish
    percentages; a row per provider-month, per provider's range and per tenant month."""
    params = {"from": "2024-02", "to": "2024-07"}
    response = await call(client, year["reader"], "GET", "/v1/reports/followup.csv", params=params)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="kundval-followup-2024-02-2024-07.csv"' in response.headers["content-disposition"]
    body = response.content
    assert body.startswith("\ufeff".encode()) and b"\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 2 * 7 + 7  # 6 months and the range per provider; 6 months and the range of the tenant
    feb = next(r for r in rows if r["provider"] == "prov-a" and r["period"] == "2024-02")
    assert (feb["status"], feb["performed_share"], feb["payout_hemtjanst"], feb["granted_minutes"]) == (
        "settled",
        "93,1 %",
        f"{29 * 470},00",
        f"{29 * 60},0000",
    )
    whole = next(r for r in rows if r["level"] == "tenant" and r["period"] == "2024-02..2024-07")
    assert (whole["payout"], whole["settled"], whole["customers_hemtjanst"]) == ("99340,00", "12", "1")

    pop = {**params, "compare_from": "2023-02", "compare_to": "2023-07"}
    response = await call(
        client, year["reader"], "GET", "/v1/reports/followup/period-over-period.csv", params=pop
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    tenant = {r["figure"]: r for r in rows if r["level"] == "tenant"}
    share = tenant["performed_share"]  # the shares of the JSON (0.3315, 0.8901) as percentages
    assert (share["a"], share["b"], share["difference"], share["change"], share["unit"]) == (
        "33,2 %",
        "89,0 %",
        "55,9",
        "55,9",
        "procentenheter",
    )
    payout = tenant["payout"]
    assert (payout["a"], payout["b"], payout["difference"], payout["change"], payout["unit"]) == (
        "90847,00",
        "99340,00",
        "8493,00",
        "9,3",
        "%",
    )
    assert tenant["declined_visits"]["change"] == ""  # nothing to compare with
