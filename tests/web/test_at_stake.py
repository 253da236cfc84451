"""The amount at stake of a blocked visit, which holds no line: its own price before caps, as the
tariff prices it (worked out here from the tariff file, the visit and the customer's zone)."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from tests.api.test_load_worked_month import SCENARIO
from tests.web.test_queue import PERIOD, _rows, month  # noqa: F401  (the fixture)

TARIFF = tomllib.loads((Path(__file__).parents[2] / "service/data/tariffs/kson-2024.toml").read_text())


def own_price(visit_id: str, component_id: str) -> Decimal:
    visit = next(v for v in SCENARIO["visits"] if v["id"] == visit_id)
    component = next(c for c in TARIFF["component"] if c["id"] == component_id)
    assert component["unit"] == "hour"
    customer = next(c for c in SCENARIO["customers"] if c["pnr"] == visit["customer"])
    (zone,) = [z["zone"] for z in customer["zones"]]
    start, end = (datetime.fromisoformat(visit[k]) for k in ("start", "end"))
    hours = Decimal((end - start) // timedelta(minutes=1)) / 60
    return (hours * Decimal(component["rate"][zone])).quantize(Decimal("0.01"), ROUND_HALF_UP)


async def test_a_blocked_visit_is_at_stake_for_what_it_would_earn(client, month):  # noqa: F811
    rows = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}")).content)
    stake = {(r["record"], r["code"]): Decimal(r["at_stake"].replace(",", ".")) for r in rows}
    # Nine hours of delegated HSL (over 8 hours: LONG_VISIT), in a tätort.
    assert (
        stake[("exempel-omsorg:V23", "LONG_VISIT")]
        == own_price("V23", "delegerad_ovrig")
        == Decimal("4230.00")
    )
    # Blocked twice: each discrepancy has the whole visit at stake (both must be approved to pay it).
    assert (
        stake[("exempel-omsorg:V19", "NOT_CHOSEN_PROVIDER")]
        == stake[("exempel-omsorg:V19", "NO_ENROLMENT")]
        == own_price("V19", "hemrehab_tid")
        > 0
    )
    # A bistånd visit is paid through granted time, not on its own: nothing of its own at stake.
    assert stake[("exempel-omsorg:V10", "OVERLAP")] == 0
    # A hard discrepancy is never approved, so a visit it blocks has nothing at stake.
    assert all(r["at_stake"] == "0,00" for r in rows if r["kind"] == "hard")
    assert list(stake.values()) == sorted(stake.values(), reverse=True)


async def test_the_code_filter_offers_the_codes_found_whatever_else_is_filtered(client, month):  # noqa: F811
    """The codes come from the same statement as the page (all the period's, or the provider's)."""
    rows = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}")).content)
    for provider in (None, "skargardens-vard"):
        found = sorted({r["code"] for r in rows if provider in (None, r["provider"])})
        query = f"period={PERIOD}&kind=hard" + (f"&provider={provider}" if provider else "")
        html = (await client.get(f"/discrepancies?{query}")).text
        assert re.findall(r'<option value="([A-Z_]+)"', html) == found
