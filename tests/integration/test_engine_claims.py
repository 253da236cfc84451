"""Claims, their limits and caps, the share cap, and listing (domain.md 5 and 6b)."""

from decimal import Decimal
from fractions import Fraction

import pytest

from tests.integration.engine_world import C1, C2, A, B, World, codes, decide, finding, lines, price


@pytest.fixture
async def world(conn):
    w = World(conn)
    await w.providers(A, B)
    await w.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A), ("2024-03-16", B)])
    await w.customer(C2, [("2020-01-01", "landsbygd")], [("2024-01-01", A)])
    return w


def reductions(outcome):
    return {(x.provider_id, x.component): x for x in outcome.lines if x.kind == "reduction"}


async def test_teamkonferens_count_and_amount_caps(world, conn):
    for n in range(1, 6):
        await world.claim(A, f"K{n}", "teamkonferens", f"2024-03-0{n}")
    for n in range(1, 4):
        await world.claim(B, f"K{n}", "teamkonferens", f"2024-03-0{n}")
    out = await price(conn, "2024-03")
    assert {k: v for k, v in codes(out).items() if "TEAM" in k} == {
        "TEAM_COUNT_CAP:prov-a:K5": "hard",
        "TEAM_AMOUNT_CAP:prov-a:2024-03": "info",
    }
    team = {x.provider_id: x for x in lines(out, "teamkonferens")}
    assert (team[A].quantity, team[A].amount, team[A].sources) == (
        4,
        Decimal("6000.00"),
        ["K1", "K2", "K3", "K4"],
    )
    assert team[B].amount == Decimal("4500.00")
    cut = reductions(out)
    assert cut[(A, "teamkonferens")].amount == Decimal("-1000.00")
    assert (B, "teamkonferens") not in cut


async def test_share_cap_binding_and_not_binding(world, conn):
    # A: 240 bistand minutes, 35 delegated: over the 31.2-minute cap. B: 500 and 20: under.
    await world.visit(A, "V1", C2, "2024-03-01T07:00:00+01:00", "2024-03-01T11:00:00+01:00")
    await world.visit(
        A,
        "V2",
        C2,
        "2024-03-01T11:00:00+01:00",
        "2024-03-01T11:35:00+01:00",
        report_type="hsl_delegated",
        codes=("insulin",),
    )
    await world.visit(B, "V1", C1, "2024-03-20T07:00:00+01:00", "2024-03-20T15:00:00+01:00", staff="S1")
    await world.visit(B, "V0", C1, "2024-03-21T07:00:00+01:00", "2024-03-21T07:20:00+01:00", staff="S1")
    await world.visit(
        B,
        "V2",
        C1,
        "2024-03-20T15:00:00+01:00",
        "2024-03-20T15:20:00+01:00",
        report_type="hsl_delegated",
        codes=("insulin",),
    )
    out = await price(conn, "2024-03")
    cut = reductions(out)
    (paid_a,) = [x for x in lines(out, "delegerad_ovrig") if x.provider_id == A]
    assert paid_a.amount == Decimal("315.00")  # 35 min at 540/h
    assert cut[(A, "delegerad_ovrig")].amount == Decimal("280.80") - Decimal("315.00")
    assert cut[(A, "delegerad_ovrig")].detail["cap_minutes"] == "31.2000"
    assert (B, "delegerad_ovrig") not in cut
    assert "DELEGATED_CAP:prov-a:2024-03" in codes(out) and "DELEGATED_CAP:prov-b:2024-03" not in codes(out)
    assert out.metrics[B]["delegerad_ovrig"] == {
        "basis_minutes": "500.0000",
        "cap_minutes": "65.0000",
        "paid_minutes": "20.0000",
    }


async def test_lakemedelsgenomgang_once_per_calendar_year_across_providers(world, conn):
    await world.enrolment(A, "EA", C1, "hemsjukvard", "2024-01-01", "2024-03-15")
    await world.enrolment(B, "EB", C1, "hemsjukvard", "2024-03-16")
    await world.claim(A, "K1", "lakemedelsgenomgang", "2024-02-10", C1)  # February, paid then
    await world.claim(B, "K1", "lakemedelsgenomgang", "2024-03-20", C1)
    await world.claim(A, "K2", "lakemedelsgenomgang", "2024-03-10", C2)  # no enrolment: blocked
    await world.claim(A, "K3", "lakemedelsgenomgang", "2024-03-11", C2)  # does not use the limit either
    out = await price(conn, "2024-03")
    assert codes(out) == {
        "LMG_ALREADY_PAID:prov-b:K1": "hard",
        "NO_ENROLMENT:prov-a:K2": "blocking",
        "NO_ENROLMENT:prov-a:K3": "blocking",
    }
    used = finding(out, "LMG_ALREADY_PAID:prov-b:K1")
    assert used.parts == [
        {"count": 1, "per": "customer_calendar_year", "paid": [{"claim": "K1", "provider": A}]}
    ]
    assert used.provider_parts == [{"count": 1, "per": "customer_calendar_year"}]  # names no other provider
    # A run for one provider still sees the others' claims.
    assert "LMG_ALREADY_PAID:prov-b:K1" in codes(await price(conn, "2024-03", provider=B))
    # Approving the first blocked claim lets it use the place; the next one is then over the limit.
    await world.enrolment(A, "EC", C2, "hemsjukvard", "2024-03-11")
    out = await price(conn, "2024-03")
    assert codes(out) == {"LMG_ALREADY_PAID:prov-b:K1": "hard", "NO_ENROLMENT:prov-a:K2": "blocking"}
    await decide(conn, finding(out, "NO_ENROLMENT:prov-a:K2"), "approve")
    out = await price(conn, "2024-03")
    assert "LMG_ALREADY_PAID:prov-a:K3" in codes(out)
    (line,) = [x for x in lines(out, "lakemedelsgenomgang") if x.pnr == C2]
    assert line.sources == ["K2", "NO_ENROLMENT:prov-a:K2"]


async def test_sip_once_per_customer_provider_and_date_and_by_choice_or_enrolment(world, conn):
    await world.enrolment(A, "E1", C1, "hemrehab", "2024-03-16")
    await world.claim(A, "K1", "sip", "2024-03-20", C1, role="lett")  # A is not chosen, but enrolled
    await world.claim(A, "K2", "sip", "2024-03-20", C1, role="kallat")  # same date: duplicate
    await world.claim(B, "K1", "sip", "2024-03-20", C1)  # another provider the same date
    await world.claim(A, "K3", "sip", "2024-03-21", C2)
    await world.claim(B, "K2", "sip", "2024-03-21", C2)  # not B's customer
    out = await price(conn, "2024-03")
    assert codes(out) == {"SIP_DUPLICATE:prov-a:K2": "hard", "NOT_CHOSEN_PROVIDER:prov-b:K2": "blocking"}
    assert {(x.provider_id, x.pnr): x.amount for x in lines(out, "sip")} == {
        (A, C1): Decimal("1000.00"),
        (B, C1): Decimal("1000.00"),
        (A, C2): Decimal("1000.00"),
    }


async def test_extraordinary_is_paid_the_approved_amount(world, conn):
    await world.claim(A, "K1", "extraordinar_insats", "2024-03-05", C2, requested="2500.00")
    await world.claim(A, "K2", "extraordinar_insats", "2024-03-06", C2, requested="900.00")
    out = await price(conn, "2024-03")
    assert codes(out) == {"EXTRAORDINARY:prov-a:K1": "blocking", "EXTRAORDINARY:prov-a:K2": "blocking"}
    assert lines(out, "extraordinar_insats") == []
    await decide(conn, finding(out, "EXTRAORDINARY:prov-a:K1"), "approve", "2000.00")
    await decide(conn, finding(out, "EXTRAORDINARY:prov-a:K2"), "approve", "2000.00")
    (line,) = lines(await price(conn, "2024-03"), "extraordinar_insats")
    assert (line.quantity, line.unit_price, line.amount) == (2, Decimal("2000.00"), Decimal("4000.00"))
    await decide(conn, finding(out, "EXTRAORDINARY:prov-a:K2"), "approve", "750.50")
    (line,) = lines(await price(conn, "2024-03"), "extraordinar_insats")
    assert (line.unit_price, line.amount) == (None, Decimal("2750.50"))


async def test_a_claim_outside_the_tariff_is_checked_no_further(world, conn):
    # domain.md 6: NOT_IN_TARIFF and no other check, whoever the customer is.
    await world.claim(A, "K1", "sip", "2024-03-05", C2)
    await world.claim(A, "K2", "lakemedelsgenomgang", "2024-03-05", "199001011239")  # unknown customer
    await world.claim(B, "K3", "sip", "2024-03-05", C2)  # not B's customer
    whatif = await price(conn, "2024-03", tariff="kson-2021")
    assert codes(whatif) == {
        "NOT_IN_TARIFF:prov-a:K1": "hard",
        "NOT_IN_TARIFF:prov-a:K2": "hard",
        "NOT_IN_TARIFF:prov-b:K3": "hard",
    }
    assert whatif.lines == []
    under_2024 = await price(conn, "2024-03")
    assert codes(under_2024)["UNKNOWN_CUSTOMER:prov-a:K2"] == "hard"
    assert codes(under_2024)["NOT_CHOSEN_PROVIDER:prov-b:K3"] == "blocking"


async def test_listing_only_on_chosen_days(world, conn):
    # C1 is A's until the 15th, then B's; A's enrolment runs all month, B's from the 20th.
    await world.enrolment(A, "EA", C1, "hemsjukvard", "2024-02-01")
    await world.enrolment(B, "EB", C1, "hemsjukvard", "2024-03-20", remiss=None)
    await world.enrolment(A, "ER", C1, "hemrehab", "2024-02-01")  # no listing for hemrehab
    out = await price(conn, "2024-03")
    assert codes(out) == {"NOT_CHOSEN_PROVIDER:prov-a:EA": "hard", "NO_REMISS:prov-b:EB": "blocking"}
    not_chosen = finding(out, "NOT_CHOSEN_PROVIDER:prov-a:EA")
    assert not_chosen.parts == [{"provider": A, "days": ["2024-03-16..2024-03-31"]}]
    assert not_chosen.provider_parts == [{"days": ["2024-03-16..2024-03-31"]}]
    (listed,) = lines(out, "hemsjukvard_listning")
    assert (listed.provider_id, listed.quantity, listed.amount) == (A, Fraction(15, 31), Decimal("841.94"))
    (held,) = lines(out, "hemsjukvard_listning", "held")
    assert (held.provider_id, held.quantity, held.amount, held.held_by) == (
        B,
        Fraction(12, 31),
        Decimal("673.55"),
        "NO_REMISS:prov-b:EB",
    )
    # The 2021 model needs no remiss.
    whatif = await price(conn, "2024-03", tariff="kson-2021")
    assert {x.provider_id: x.amount for x in lines(whatif, "hemsjukvard_listning")} == {
        A: Decimal("483.87"),
        B: Decimal("387.10"),
    }


async def test_a_day_enrolled_twice_is_listed_once(world, conn):
    await world.enrolment(A, "E1", C2, "hemsjukvard", "2024-03-01", "2024-03-20", remiss=None)
    await world.enrolment(A, "E2", C2, "hemsjukvard", "2024-03-10")
    out = await price(conn, "2024-03")
    (listed,) = lines(out, "hemsjukvard_listning")
    (held,) = lines(out, "hemsjukvard_listning", "held")
    assert (listed.quantity, listed.sources) == (Fraction(22, 31), ["E2"])
    assert (held.quantity, held.sources) == (Fraction(9, 31), ["E1"])
