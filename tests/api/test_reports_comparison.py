"""The worked month under kson-2024, kson-2024-utford and kson-2024-min80 side by side (followup.md 3),
through the HTTP API: per component, area and in total, each difference to the baseline counted by
hand from the expected results (tests/data/2024-03-expected*.json); what-if runs stay simulations.

By hand, exempel-omsorg (skargardens-vard is paid nothing under any of them):
  totals  kson-2024 37052.07, utford 15983.87 (-21068.20, -56.9 %), min80 16491.66 (-20560.41, -55.5 %)
  omsorg  20053.33; utford lacks it (0.00, absent); min80 1664.88 (-18388.45, -91.7 %)
  omsorg_utford  kson-2024 lacks it (0.00, absent); utford 1938.34 (+1938.34, no percent: from 0)
  delegering_paslag  570.00 under kson-2024 and min80 (the markup is never reduced); utford lacks it
  hemtjanst  20053.33 + 2383.21 + 570.00 + 505.00 = 23511.54; utford 1938.34 + 0.00 + 505.00 = 2443.34
             (-89.6 %); min80 1664.88 + 211.25 + 570.00 + 505.00 = 2951.13 (-87.4 %)
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

from tests.api.test_reconcile_worked_month import EXEMPEL, SKARGARD, call, expected, month, reconcile

__all__ = ["month"]  # the worked month's fixture

TARIFFS = ["kson-2024", "kson-2024-utford", "kson-2024-min80"]
FILES = {
    "kson-2024": "2024-03-expected.json",
    "kson-2024-utford": "2024-03-expected.whatif-kson-2024-utford.json",
    "kson-2024-min80": "2024-03-expected.whatif-kson-2024-min80.json",
}


def totals(tariff: str) -> dict[str, Decimal]:
    doc = expected(FILES[tariff])
    (own,) = [p for p in doc["providers"] if p["provider"] == EXEMPEL]
    return {c: Decimal(a) for c, a in own["totals"].items()}


def cells(row):
    return {c["tariff"]: (c["amount"], c["absent"], c["difference"], c["change"]) for c in row["cells"]}


def percent(a: Decimal, b: Decimal) -> str | None:
    return None if not a else str(((b - a) * 100 / abs(a)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def test_the_worked_month_under_three_tariffs_side_by_side(client, month):
    await reconcile(client, month)  # the real run, with the review decisions in force
    admin = month["invoice_admin"]
    body = {"period": "2024-03", "tariffs": TARIFFS}
    compared = await call(client, admin, "POST", "/v1/reports/comparisons", 201, json=body)
    assert compared["baseline"] == "kson-2024" and [r["tariff"] for r in compared["runs"]] == TARIFFS
    assert not any(r["stale"] for r in compared["runs"])
    blocks = {p["provider"]: p for p in compared["providers"]}

    total = cells(blocks[EXEMPEL]["total"])
    assert total == {
        "kson-2024": ("37052.07", False, "0.00", "0.0"),
        "kson-2024-utford": ("15983.87", False, "-21068.20", "-56.9"),
        "kson-2024-min80": ("16491.66", False, "-20560.41", "-55.5"),
    }
    assert {t: c[0] for t, c in cells(blocks[SKARGARD]["total"]).items()} == dict.fromkeys(TARIFFS, "0.00")
    assert cells(compared["tenant_figures"]["total"]) == total

    components = {r["key"]: r for r in blocks[EXEMPEL]["components"]}
    assert cells(components["omsorg"]) == {
        "kson-2024": ("20053.33", False, "0.00", "0.0"),
        "kson-2024-utford": ("0.00", True, "-20053.33", "-100.0"),
        "kson-2024-min80": ("1664.88", False, "-18388.45", "-91.7"),
    }
    assert cells(components["omsorg_utford"]) == {
        "kson-2024": ("0.00", True, "0.00", None),
        "kson-2024-utford": ("1938.34", False, "1938.34", None),
        "kson-2024-min80": ("0.00", True, "0.00", None),
    }
    assert components["omsorg_utford"]["area"] == "hemtjanst"
    assert cells(components["delegering_paslag"])["kson-2024-min80"] == ("570.00", False, "0.00", "0.0")
    assert cells(components["delegering_paslag"])["kson-2024-utford"][:2] == ("0.00", True)
    # Every component of every tariff, each difference the expected amounts' difference.
    paid = {t: totals(t) for t in TARIFFS}
    assert set(components) == {c for t in TARIFFS for c in paid[t]}
    for component, row in components.items():
        base = paid["kson-2024"].get(component, Decimal("0.00"))
        for tariff, (amount, absent, difference, change) in cells(row).items():
            mine = paid[tariff].get(component, Decimal("0.00"))
            assert (Decimal(amount), absent) == (mine, component not in paid[tariff]), (component, tariff)
            assert (Decimal(difference), change) == (mine - base, percent(base, mine)), (component, tariff)

    areas = {r["key"]: cells(r) for r in blocks[EXEMPEL]["areas"]}
    assert areas["hemtjanst"] == {
        "kson-2024": ("23511.54", False, "0.00", "0.0"),
        "kson-2024-utford": ("2443.34", False, "-21068.20", "-89.6"),
        "kson-2024-min80": ("2951.13", False, "-20560.41", "-87.4"),
    }
    for area in ("hemsjukvard", "hemrehab", "ovrigt"):  # the same under all three
        assert len({c[0] for c in areas[area].values()}) == 1 and areas[area]["kson-2024-min80"][2] == "0.00"

    # Simulations: never the period's current lines, never in the feed.
    runs = await call(client, admin, "GET", "/v1/runs", params={"kind": "whatif", "period": "2024-03"})
    assert sorted(r["tariff"] for r in runs["items"]) == sorted(TARIFFS)
    lines = await call(client, admin, "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines")
    assert lines["kind"] == "real" and lines["total"] == "37052.07"
    assert (await call(client, admin, "GET", "/v1/feed"))["items"] == []

    # Read again, by the readers, from the same what-if runs.
    query = {"period": "2024-03", "tariff": TARIFFS}
    again = await call(client, month["reader"], "GET", "/v1/reports/comparison", params=query)
    assert again == compared


async def test_who_compares_and_what_a_provider_sees(client, month):
    await reconcile(client, month)
    body = {"period": "2024-03", "tariffs": ["kson-2024", "kson-2024-min80"]}
    await call(client, month["reader"], "POST", "/v1/reports/comparisons", 403, json=body)
    await call(client, month["invoice_admin"], "POST", "/v1/reports/comparisons", 201, json=body)
    query = {"period": "2024-03", "tariff": body["tariffs"]}
    own = await call(client, month[SKARGARD], "GET", "/v1/reports/comparison", params=query)
    assert [p["provider"] for p in own["providers"]] == [SKARGARD] and own["tenant_figures"] is None
    assert EXEMPEL not in str(own)
    await call(
        client, month[SKARGARD], "GET", "/v1/reports/comparison", 403, params={**query, "provider": EXEMPEL}
    )
    await call(client, month["registry"], "GET", "/v1/reports/comparison", 403, params=query)
    await call(client, month["auditor"], "GET", "/v1/reports/comparison", params=query)
    # Not yet priced under a tariff: say who can.
    missing = await call(
        client,
        month["reader"],
        "GET",
        "/v1/reports/comparison",
        404,
        params={"period": "2024-03", "tariff": ["kson-2024", "kson-2021"]},
    )
    assert "POST /v1/reports/comparisons" in missing["detail"]
    # Late data: the what-if runs are no longer on current inputs.
    late = {
        "id": "V99",
        "customer": "193805149493",
        "staff": "S1",
        "staff_category": "underskoterska",
        "report_type": "bistand",
        "start": "2024-03-07T07:30:00+01:00",
        "end": "2024-03-07T08:00:00+01:00",
        "codes": ["morgonhjalp"],
        "method": "tag",
        "status": "performed",
    }
    await call(client, month[EXEMPEL], "POST", "/v1/visits", 200, json=[late])
    stale = await call(client, month["reader"], "GET", "/v1/reports/comparison", params=query)
    assert [r["stale"] for r in stale["runs"]] == [True, True]


async def test_a_comparison_names_every_bad_field(client, month):
    admin = month["invoice_admin"]
    problem = await call(
        client,
        admin,
        "POST",
        "/v1/reports/comparisons",
        422,
        json={"period": "2024-03", "tariffs": ["kson-2024", "no-such", "nor-this"]},
    )
    assert [e["field"] for e in problem["errors"]] == ["tariffs[1]", "tariffs[2]"]
    problem = await call(
        client,
        admin,
        "POST",
        "/v1/reports/comparisons",
        422,
        json={"period": "2024-03", "tariffs": ["kson-2024", "kson-2024"]},
    )
    assert problem["errors"][0]["field"] == "tariffs"
    await call(
        client,
        admin,
        "POST",
        "/v1/reports/comparisons",
        422,
        json={"period": "2024-3", "tariffs": ["a", "b"]},
    )
    await call(
        client,
        admin,
        "GET",
        "/v1/reports/comparison",
        422,
        params={"period": "2024-03", "tariff": ["kson-2024"]},
    )


async def test_the_comparison_as_csv(client, month):
    await reconcile(client, month)
    await call(
        client,
        month["invoice_admin"],
        "POST",
        "/v1/reports/comparisons",
        201,
        json={"period": "2024-03", "tariffs": TARIFFS},
    )
    response = await client.get(
        "/v1/reports/comparison.csv",
        params={"period": "2024-03", "tariff": TARIFFS},
        headers={"Authorization": month["reader"]},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="kundval-comparison-2024-03.csv"' in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    omsorg = next(r for r in rows if r["provider"] == EXEMPEL and r["key"] == "omsorg")
    assert (omsorg["row"], omsorg["area"], omsorg["amount kson-2024"]) == (
        "component",
        "hemtjanst",
        "20053,33",
    )
    assert (omsorg["amount kson-2024-utford"], omsorg["absent kson-2024-utford"]) == ("0,00", "yes")
    assert (omsorg["difference kson-2024-min80"], omsorg["change % kson-2024-min80"]) == (
        "-18388,45",
        "-91,7",
    )
    total = next(r for r in rows if r["level"] == "tenant" and r["row"] == "total")
    assert (total["amount kson-2024-utford"], total["change % kson-2024-utford"]) == ("15983,87", "-56,9")
