"""performed_time, visit_count and the visit checks (domain.md 6 and 6b)."""

from decimal import Decimal
from fractions import Fraction

import pytest

from tests.integration.engine_world import C1, C2, C3, A, B, World, codes, decide, finding, lines, price

NIGHT = {"report_type": "larm", "codes": ("larmutryckning",), "category": "vardbitrade"}
NURSE = {"report_type": "hsl", "codes": ("sjukskoterskebesok",), "category": "sjukskoterska"}
DELEGATED = {"report_type": "hsl_delegated", "codes": ("omlaggning",)}


@pytest.fixture
async def world(conn):
    w = World(conn)
    await w.providers(A, B)
    await w.customer(C1, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    await w.customer(C2, [("2020-01-01", "landsbygd")], [("2024-01-01", A)])
    return w


def paid(outcome, component):
    return {(x.pnr, x.zone): (x.minutes, x.amount, x.sources) for x in lines(outcome, component)}


async def test_durations_come_from_the_instants_on_dst_days(world, conn):
    # Spring forward: 01:50+01 to 03:20+02 is 30 minutes. Fall back: 02:30+02 to 02:30+01 is 60.
    await world.visit(A, "V1", C1, "2024-03-31T01:50:00+01:00", "2024-03-31T03:20:00+02:00", **NIGHT)
    await world.visit(A, "V2", C1, "2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", **NIGHT)
    assert paid(await price(conn, "2024-03"), "larm") == {(C1, "tatort"): (30, Decimal("235.00"), ["V1"])}
    assert paid(await price(conn, "2024-10"), "larm") == {(C1, "tatort"): (60, Decimal("470.00"), ["V2"])}


async def test_a_visit_belongs_to_the_local_day_of_its_start(world, conn):
    # 2024-02-29 23:30 UTC is 1 March in Stockholm; 31 March 23:30 local ends in April.
    await world.visit(A, "V1", C1, "2024-02-29T23:30:00+00:00", "2024-03-01T00:00:00+00:00", **NIGHT)
    await world.visit(A, "V2", C1, "2024-03-31T23:30:00+02:00", "2024-04-01T00:30:00+02:00", **NIGHT)
    minutes, _, sources = paid(await price(conn, "2024-03"), "larm")[(C1, "tatort")]
    assert (minutes, sources) == (90, ["V1", "V2"])
    assert lines(await price(conn, "2024-02"), "larm") == []


async def test_overlap_flags_both_visits_at_different_customers_but_not_touching_ends(world, conn):
    await world.visit(
        A, "V1", C1, "2024-03-01T19:00:00+01:00", "2024-03-01T19:20:00+01:00", staff="S2", **NIGHT
    )
    await world.visit(
        A, "V2", C2, "2024-03-01T19:10:00+01:00", "2024-03-01T19:25:00+01:00", staff="S2", **NIGHT
    )
    await world.visit(
        A, "V3", C2, "2024-03-01T19:25:00+01:00", "2024-03-01T19:40:00+01:00", staff="S3", **NIGHT
    )
    await world.visit(
        A, "V4", C1, "2024-03-01T19:40:00+01:00", "2024-03-01T19:50:00+01:00", staff="S3", **NIGHT
    )
    # Same staff, same customer, overlapping: not OVERLAP (other provider's staff S2 neither).
    await world.visit(
        A, "V5", C1, "2024-03-02T10:00:00+01:00", "2024-03-02T10:30:00+01:00", staff="S4", **NIGHT
    )
    await world.visit(
        A, "V6", C1, "2024-03-02T10:10:00+01:00", "2024-03-02T10:20:00+01:00", staff="S4", **NIGHT
    )
    await world.visit(
        B, "V7", C2, "2024-03-01T19:05:00+01:00", "2024-03-01T19:15:00+01:00", staff="S2", **NIGHT
    )
    out = await price(conn, "2024-03")
    overlaps = {k for k in codes(out) if k.startswith("OVERLAP")}
    assert overlaps == {"OVERLAP:prov-a:V1", "OVERLAP:prov-a:V2"}
    assert finding(out, "OVERLAP:prov-a:V1").parts[0]["visits"] == ["V2"]
    assert paid(out, "larm")[(C1, "tatort")][2] == ["V4", "V5", "V6"]


async def test_duplicate_first_received_is_the_original(world, conn):
    for ext in ("V9", "V1"):  # V9 arrives first
        await world.visit(A, ext, C1, "2024-03-01T19:00:00+01:00", "2024-03-01T19:20:00+01:00", **NIGHT)
    # A cancelled twin is ignored.
    await world.visit(
        A, "V5", C1, "2024-03-01T19:00:00+01:00", "2024-03-01T19:20:00+01:00", status="cancelled", **NIGHT
    )
    out = await price(conn, "2024-03")
    assert codes(out) == {"DUPLICATE:prov-a:V1": "hard"}
    assert paid(out, "larm")[(C1, "tatort")][2] == ["V9"]


async def test_long_visit_is_over_eight_hours(world, conn):
    await world.visit(A, "V1", C1, "2024-03-01T08:00:00+01:00", "2024-03-01T16:00:00+01:00", **DELEGATED)
    await world.visit(A, "V2", C1, "2024-03-02T08:00:00+01:00", "2024-03-02T16:00:01+01:00", **DELEGATED)
    out = await price(conn, "2024-03")
    assert "LONG_VISIT:prov-a:V2" in codes(out) and "LONG_VISIT:prov-a:V1" not in codes(out)


async def test_staff_category_follows_the_tariff(world, conn):
    await world.enrolment(A, "E1", C1, "hemsjukvard", "2024-01-01")
    await world.visit(A, "V1", C1, "2024-03-01T10:00:00+01:00", "2024-03-01T10:30:00+01:00", **NURSE)
    await world.visit(
        A,
        "V2",
        C1,
        "2024-03-02T10:00:00+01:00",
        "2024-03-02T10:30:00+01:00",
        **{**NURSE, "category": "vardbitrade"},
    )
    out = await price(conn, "2024-03")
    assert codes(out)["STAFF_CATEGORY:prov-a:V2"] == "blocking"
    assert paid(out, "hemsjukvard_tid")[(C1, "tatort")][2] == ["V1"]


async def test_manual_registration_only_where_a_performed_component_pays(world, conn):
    await world.visit(A, "V1", C1, "2024-03-01T08:00:00+01:00", "2024-03-01T08:30:00+01:00", method="manual")
    await world.visit(
        A, "V2", C1, "2024-03-01T08:30:00+01:00", "2024-03-01T08:45:00+01:00", method="manual", **DELEGATED
    )
    await world.visit(
        A,
        "V3",
        C1,
        "2024-03-01T08:45:00+01:00",
        "2024-03-01T08:50:00+01:00",
        method="manual",
        report_type="hsl_delegated",
        codes=("lakemedel",),
    )
    out = await price(conn, "2024-03")
    assert {k for k in codes(out) if k.startswith("MANUAL")} == {"MANUAL_REGISTRATION:prov-a:V2"}
    assert lines(out, "delegerad_ovrig") == []
    # Approved, it is paid with the approval in its trail.
    await decide(conn, finding(out, "MANUAL_REGISTRATION:prov-a:V2"), "approve")
    approved = await price(conn, "2024-03")
    assert paid(approved, "delegerad_ovrig")[(C1, "tatort")][2] == ["MANUAL_REGISTRATION:prov-a:V2", "V2"]
    # Under the 2021 model V3's code is not excluded, so it is manual on a paid component too.
    whatif = await price(conn, "2024-03", tariff="kson-2021")
    assert "MANUAL_REGISTRATION:prov-a:V3" in codes(whatif)


async def test_excluded_codes_leave_out_a_visit_only_when_all_its_codes_are_excluded(world, conn):
    await world.visit(
        A,
        "V1",
        C1,
        "2024-03-01T08:00:00+01:00",
        "2024-03-01T08:10:00+01:00",
        report_type="hsl_delegated",
        codes=("lakemedel", "ogondroppar"),
    )
    await world.visit(
        A,
        "V2",
        C1,
        "2024-03-01T08:10:00+01:00",
        "2024-03-01T08:30:00+01:00",
        report_type="hsl_delegated",
        codes=("lakemedel", "omlaggning"),
    )
    await world.visit(
        A, "V3", C1, "2024-03-01T07:00:00+01:00", "2024-03-01T08:00:00+01:00"
    )  # the cap's basis
    await world.visit(A, "V4", C1, "2024-03-02T07:00:00+01:00", "2024-03-02T10:00:00+01:00")
    out = await price(conn, "2024-03")
    assert paid(out, "delegerad_ovrig") == {(C1, "tatort"): (20, Decimal("156.67"), ["V2"])}


async def test_not_chosen_unknown_customer_and_enrolment_checks(world, conn):
    await world.customer(C3, [("2020-01-01", "tatort")])  # known, nobody chosen
    await world.enrolment(A, "E1", C1, "hemsjukvard", "2024-03-10", remiss=None)
    unknown = "199001011239"
    await world.visit(A, "V1", C1, "2024-03-12T10:00:00+01:00", "2024-03-12T10:30:00+01:00", **NURSE)
    await world.visit(A, "V2", C1, "2024-03-05T10:00:00+01:00", "2024-03-05T10:30:00+01:00", **NURSE)
    await world.visit(B, "V3", C1, "2024-03-05T11:00:00+01:00", "2024-03-05T11:30:00+01:00", **NIGHT)
    await world.visit(A, "V4", C3, "2024-03-05T12:00:00+01:00", "2024-03-05T12:30:00+01:00", **NIGHT)
    await world.visit(A, "V5", unknown, "2024-03-05T13:00:00+01:00", "2024-03-05T13:30:00+01:00", **NURSE)
    out = await price(conn, "2024-03")
    assert codes(out) == {
        # An enrolment without a remiss is still an enrolment for visits.
        "NO_ENROLMENT:prov-a:V2": "blocking",
        "NOT_CHOSEN_PROVIDER:prov-b:V3": "blocking",
        "NOT_CHOSEN_PROVIDER:prov-a:V4": "blocking",
        # UNKNOWN_CUSTOMER takes NOT_CHOSEN_PROVIDER's place; the other checks still run.
        "UNKNOWN_CUSTOMER:prov-a:V5": "hard",
        "NO_ENROLMENT:prov-a:V5": "blocking",
        "NO_REMISS:prov-a:E1": "blocking",
    }
    view = finding(out, "NOT_CHOSEN_PROVIDER:prov-b:V3")
    assert view.parts == [{"provider": B, "day": "2024-03-05"}]
    assert view.provider_parts == [{"day": "2024-03-05"}]
    assert paid(out, "hemsjukvard_tid") == {(C1, "tatort"): (30, Decimal("280.00"), ["V1"])}


async def test_during_pause_is_info_for_bistand_and_blocking_otherwise(world, conn):
    await world.pause(B, "P1", C1, "2024-03-10")
    await world.visit(A, "V1", C1, "2024-03-12T07:00:00+01:00", "2024-03-12T08:00:00+01:00")
    await world.visit(A, "V2", C1, "2024-03-12T08:00:00+01:00", "2024-03-12T08:15:00+01:00", **DELEGATED)
    out = await price(conn, "2024-03")
    assert codes(out) == {"DURING_PAUSE:prov-a:V1": "info", "DURING_PAUSE:prov-a:V2": "blocking"}
    assert lines(out, "delegerad_ovrig") == []
    assert out.metrics[A]["performed_bistand_minutes"] == "60.0000"
    paused = finding(out, "DURING_PAUSE:prov-a:V1")
    assert paused.parts == [{"day": "2024-03-12", "pauses": ["P1"]}]
    assert paused.provider_parts == [{"day": "2024-03-12"}]  # another provider's pause is not named


async def test_a_rejected_visit_stays_out_and_a_corrected_one_is_checked_again(world, conn):
    await world.visit(
        A, "V1", C1, "2024-03-01T08:00:00+01:00", "2024-03-01T08:30:00+01:00", method="manual", **NIGHT
    )
    key = "MANUAL_REGISTRATION:prov-a:V1"
    await decide(conn, finding(await price(conn, "2024-03"), key), "approve")
    assert finding(await price(conn, "2024-03"), key).status == "approved"
    # A correction (a new version of the record) reopens its discrepancy.
    await conn.execute(
        "UPDATE visits SET ended_at = ended_at + interval '5 minutes', changed_seq = nextval('input_change_seq')"
    )
    reopened = await price(conn, "2024-03")
    assert finding(reopened, key).status == "open" and lines(reopened, "larm") == []
    await decide(conn, finding(reopened, key), "reject")
    rejected = await price(conn, "2024-03")
    assert finding(rejected, key).status == "rejected" and lines(rejected, "larm") == []


async def test_visit_count_pays_per_visit_under_the_2021_model(world, conn):
    await world.enrolment(A, "E1", C2, "hemsjukvard", "2024-01-01")
    for n, day in enumerate(("05", "06", "07"), start=1):
        await world.visit(
            A, f"V{n}", C2, f"2024-03-{day}T10:00:00+01:00", f"2024-03-{day}T10:40:00+01:00", **NURSE
        )
    out = await price(conn, "2024-03", tariff="kson-2021")
    (line,) = lines(out, "hemsjukvard_besok")
    assert (line.unit, line.quantity, line.unit_price, line.amount) == (
        "visit",
        Fraction(3),
        Decimal("470.00"),
        Decimal("1410.00"),
    )
