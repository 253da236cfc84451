"""granted_time and granted_time_markup: billable days in SQL, exact minutes in Python."""

from decimal import Decimal
from fractions import Fraction

import pytest

from tests.integration.engine_world import C1, C2, A, B, World, codes, decide, finding, lines, price


@pytest.fixture
async def world(conn):
    w = World(conn)
    await w.providers(A, B)
    return w


def amounts(outcome, component="omsorg", kind="line"):
    return {(x.provider_id, x.zone): x.amount for x in lines(outcome, component, kind)}


def days(line):
    return line.detail["days"]


async def test_per_day_per_week_and_per_month_frequencies(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision(
        "D1",
        C1,
        ("D1-1", "morgonhjalp", "omsorg", 30, 1, "day", "2024-01-01", None),
        ("D1-2", "stadning", "service", 90, "0.5", "week", "2024-01-01", None),
        ("D1-3", "dusch", "omsorg", 60, 2, "month", "2024-01-01", None),
    )
    await world.execution(A, "X1", "D1", "2024-01-01")
    await world.visit(A, "V1", C1, "2024-03-02T08:00:00+01:00", "2024-03-02T08:30:00+01:00")
    out = await price(conn, "2024-03")
    (omsorg,) = lines(out, "omsorg")
    # 30 min a day for 31 days, plus 120 min a month as 12/365 a day: one line, exact minutes.
    assert Fraction(omsorg.detail["minutes"]) == 30 * 31 + Fraction(120 * 12 * 31, 365)
    assert omsorg.amount == Decimal("8243.03")  # (930 + 122.3014) / 60 * 470, rounded once
    assert sorted(omsorg.trail["decision_lines"]) == ["D1-1", "D1-3"]
    (service,) = lines(out, "service")
    assert Fraction(service.detail["minutes"]) == Fraction(45 * 31, 7)
    assert service.amount == Decimal("1278.75")


async def test_per_month_is_twelve_365ths_a_day_in_a_leap_february(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision("D1", C1, ("D1-1", "dusch", "omsorg", 60, 2, "month", "2024-01-01", None))
    await world.execution(A, "X1", "D1", "2024-01-01")
    await world.visit(A, "V1", C1, "2024-02-02T08:00:00+01:00", "2024-02-02T08:30:00+01:00")
    (line,) = lines(await price(conn, "2024-02"), "omsorg")
    assert Fraction(line.detail["minutes"]) == Fraction(120 * 12 * 29, 365)
    assert line.amount == Decimal("896.22")


async def test_zone_change_mid_month_splits_the_line(world, conn):
    await world.customer(C2, [("2019-01-01", "landsbygd"), ("2024-03-16", "skargard")], [("2023-01-01", A)])
    await world.decision("D2", C2, ("D2-1", "kvallshjalp", "omsorg", 20, 1, "day", "2023-01-01", None))
    await world.execution(A, "X1", "D2", "2023-01-01")
    await world.visit(A, "V1", C2, "2024-03-02T19:00:00+01:00", "2024-03-02T19:20:00+01:00")
    out = await price(conn, "2024-03")
    assert amounts(out) == {(A, "landsbygd"): Decimal("2700.00"), (A, "skargard"): Decimal("3253.33")}
    assert [days(x) for x in lines(out, "omsorg")] == [
        [("2024-03-01", "2024-03-16")],
        [("2024-03-16", "2024-04-01")],
    ]


async def test_provider_switch_with_execution_lag_pays_nobody_on_the_switch_days(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2023-01-01", A), ("2024-03-16", B)])
    await world.decision("D1", C1, ("D1-1", "dusch", "omsorg", 45, 1, "week", "2023-01-01", None))
    # A's execution is not ended by the switch; B starts executing two days after the switch.
    await world.execution(A, "XA", "D1", "2023-01-01")
    await world.execution(B, "XB", "D1", "2024-03-18")
    await world.visit(A, "VA", C1, "2024-03-05T10:00:00+01:00", "2024-03-05T10:45:00+01:00", codes=("dusch",))
    await world.visit(B, "VB", C1, "2024-03-20T10:00:00+01:00", "2024-03-20T10:45:00+01:00", codes=("dusch",))
    out = await price(conn, "2024-03")
    by_provider = {x.provider_id: x for x in lines(out, "omsorg")}
    assert days(by_provider[A]) == [("2024-03-01", "2024-03-16")]
    assert days(by_provider[B]) == [("2024-03-18", "2024-04-01")]
    assert Fraction(by_provider[A].detail["minutes"]) == Fraction(45 * 15, 7)
    assert Fraction(by_provider[B].detail["minutes"]) == 90
    # A run for one provider prices only it, the same way.
    single = await price(conn, "2024-03", provider=B)
    assert [(x.provider_id, x.amount) for x in lines(single, "omsorg")] == [(B, by_provider[B].amount)]


async def test_a_choice_ending_without_a_next_one_leaves_no_chosen_provider(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A, "2024-03-10")])
    await world.decision("D1", C1, ("D1-1", "tillsyn", "omsorg", 10, 1, "day", "2024-01-01", None))
    await world.execution(A, "X1", "D1", "2024-01-01")
    await world.visit(
        A, "V0", C1, "2024-03-05T08:00:00+01:00", "2024-03-05T08:10:00+01:00", codes=("tillsyn",)
    )
    await world.visit(
        A, "V1", C1, "2024-03-12T08:00:00+01:00", "2024-03-12T08:10:00+01:00", codes=("tillsyn",)
    )
    out = await price(conn, "2024-03")
    (line,) = lines(out, "omsorg")
    assert days(line) == [("2024-03-01", "2024-03-11")]
    assert codes(out)["NOT_CHOSEN_PROVIDER:prov-a:V1"] == "blocking"


async def test_pauses_stop_granted_time_for_every_provider_also_open_ended(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision("D1", C1, ("D1-1", "tillsyn", "omsorg", 10, 1, "day", "2024-01-01", "2024-03-25"))
    await world.execution(A, "X1", "D1", "2024-01-01", "2024-03-28")
    # Registered by the other provider, and one of them still ongoing: both count.
    await world.pause(B, "P1", C1, "2024-03-05", "2024-03-06")
    await world.pause(A, "P2", C1, "2024-03-20")
    out = await price(conn, "2024-03")
    (line,) = lines(out, "omsorg")
    assert days(line) == [("2024-03-01", "2024-03-05"), ("2024-03-07", "2024-03-20")]
    # No visit at all, but a pause touches the month: no GRANTED_WITHOUT_VISITS.
    assert "GRANTED_WITHOUT_VISITS:prov-a:193805149493:2024-03" not in codes(out)
    assert codes(out)["LOW_PERFORMED_SHARE:prov-a:193805149493:2024-03"] == "info"


async def test_granted_without_visits_holds_then_pays_or_drops(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision("D1", C1, ("D1-1", "morgonhjalp", "omsorg", 30, 1, "day", "2024-01-01", None))
    await world.execution(A, "X1", "D1", "2024-01-01")
    await world.delegation(A, "G1", C1, "lakemedel", "2024-01-01")
    # A declined and a blocked visit are not payable bistand visits.
    await world.visit(
        A, "V1", C1, "2024-03-02T08:00:00+01:00", "2024-03-02T08:30:00+01:00", status="declined"
    )
    await world.visit(A, "V2", C1, "2024-03-03T08:00:00+01:00", "2024-03-03T17:30:00+01:00")
    key = "GRANTED_WITHOUT_VISITS:prov-a:193805149493:2024-03"
    out = await price(conn, "2024-03")
    assert lines(out) == []
    held = {x.component: x for x in lines(out, kind="held")}
    assert set(held) == {"omsorg", "delegering_paslag"}
    assert held["omsorg"].held_by == key and held["omsorg"].amount == Decimal("7285.00")
    assert codes(out)[key] == "blocking"
    assert codes(out)["DECLINED_VISITS:prov-a:193805149493:2024-03"] == "info"

    await decide(conn, finding(out, key), "approve")
    paid = await price(conn, "2024-03")
    assert lines(paid, kind="held") == []
    assert {x.component for x in lines(paid)} == {"omsorg", "delegering_paslag"}
    assert key in lines(paid, "omsorg")[0].sources

    await decide(conn, finding(out, key), "reject")
    dropped = await price(conn, "2024-03")
    assert lines(dropped) == [] and lines(dropped, kind="held") == []
    assert finding(dropped, key).status == "rejected"


async def test_a_changed_decision_line_reopens_an_approved_granted_without_visits(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision("D1", C1, ("D1-1", "morgonhjalp", "omsorg", 30, 1, "day", "2024-01-01", None))
    await world.execution(A, "X1", "D1", "2024-01-01")
    key = "GRANTED_WITHOUT_VISITS:prov-a:193805149493:2024-03"
    await decide(conn, finding(await price(conn, "2024-03"), key), "approve")
    assert finding(await price(conn, "2024-03"), key).status == "approved"
    await conn.execute("UPDATE decision_lines SET minutes = 45 WHERE id = 'D1-1'")
    reopened = await price(conn, "2024-03")
    assert finding(reopened, key).status == "open"
    assert lines(reopened, "omsorg", "held")[0].held_by == key


async def test_markup_only_on_billable_omsorg_days_with_a_listed_delegation_of_the_same_provider(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await world.decision(
        "D1",
        C1,
        ("D1-1", "tillsyn", "omsorg", 15, 2, "day", "2024-01-01", None),
        ("D1-2", "stadning", "service", 60, 1, "week", "2024-01-01", None),
    )
    await world.execution(A, "X1", "D1", "2024-01-01")
    await world.pause(A, "P1", C1, "2024-03-25", "2024-03-26")
    await world.delegation(A, "G1", C1, "ogondroppar", "2024-03-20")
    await world.delegation(A, "G2", C1, "insulin", "2024-03-01")  # not a listed code
    await world.delegation(B, "G3", C1, "lakemedel", "2024-03-01")  # another provider's
    await world.visit(
        A, "V1", C1, "2024-03-02T08:00:00+01:00", "2024-03-02T08:30:00+01:00", codes=("tillsyn",)
    )
    out = await price(conn, "2024-03")
    (markup,) = lines(out, "delegering_paslag")
    assert days(markup) == [("2024-03-20", "2024-03-25"), ("2024-03-27", "2024-04-01")]
    assert Fraction(markup.detail["minutes"]) == 30 * 10
    assert markup.amount == Decimal("150.00")
    assert markup.sources == ["D1", "D1-1", "G1"]


async def test_days_are_priced_under_the_version_in_force_and_a_whatif_forces_one(world, conn):
    await world.customer(C1, [("2020-01-01", "tatort")], [("2023-01-01", A)])
    await world.decision("D1", C1, ("D1-1", "tillsyn", "omsorg", 60, 1, "day", "2023-01-01", None))
    await world.execution(A, "X1", "D1", "2023-01-01")
    await world.visit(
        A, "V1", C1, "2024-01-02T08:00:00+01:00", "2024-01-02T08:30:00+01:00", codes=("tillsyn",)
    )
    january = await price(conn, "2024-01")
    assert january.tariffs == ["kson-2021"]
    assert amounts(january) == {(A, "tatort"): Decimal(31 * 427)}
    forced = await price(conn, "2024-01", tariff="kson-2024")
    assert forced.tariffs == ["kson-2024"] and amounts(forced) == {(A, "tatort"): Decimal(31 * 470)}
    before = await price(conn, "2021-05")
    assert before.lines == [] and before.warnings == [
        "no tariff in force on 2021-05-01..2021-05-31: not priced"
    ]
