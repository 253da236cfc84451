"""OVERLAP and DUPLICATE where the engine's narrowing could miss one (sql/reconcile/visits.sql):
partners across the period's edges, long visits, and reports of one visit at the same customer
between two partners."""

import pytest

from tests.integration.engine_world import C1, C2, C3, A, World, codes, finding, price

NIGHT = {"report_type": "larm", "codes": ("larmutryckning",), "category": "vardbitrade"}
DELEGATED = {"report_type": "hsl_delegated", "codes": ("omlaggning",)}


@pytest.fixture
async def world(conn):
    w = World(conn)
    await w.providers(A)
    for pnr in (C1, C2, C3):
        await w.customer(pnr, [("2020-01-01", "tatort")], [("2024-01-01", A)])
    return w


def overlaps(outcome) -> set[str]:
    return {k for k in codes(outcome) if k.startswith("OVERLAP")}


async def test_partners_across_the_period_edges(world, conn):
    # V1 starts in February and runs into March; V3 starts in March and runs into April.
    await world.visit(
        A, "V1", C1, "2024-02-29T23:40:00+01:00", "2024-03-01T00:20:00+01:00", staff="S1", **NIGHT
    )
    await world.visit(
        A, "V2", C2, "2024-03-01T00:10:00+01:00", "2024-03-01T00:30:00+01:00", staff="S1", **NIGHT
    )
    await world.visit(
        A, "V3", C1, "2024-03-31T23:50:00+02:00", "2024-04-01T00:20:00+02:00", staff="S1", **NIGHT
    )
    await world.visit(
        A, "V4", C2, "2024-04-01T00:05:00+02:00", "2024-04-01T00:15:00+02:00", staff="S1", **NIGHT
    )
    march = await price(conn, "2024-03")
    assert overlaps(march) == {"OVERLAP:prov-a:V2", "OVERLAP:prov-a:V3"}
    assert finding(march, "OVERLAP:prov-a:V2").parts[0]["visits"] == ["V1"]
    assert finding(march, "OVERLAP:prov-a:V3").parts[0]["visits"] == ["V4"]
    assert overlaps(await price(conn, "2024-02")) == {"OVERLAP:prov-a:V1"}
    assert overlaps(await price(conn, "2024-04")) == {"OVERLAP:prov-a:V4"}


async def test_long_visits_overlap_visits_that_are_not_their_neighbours(world, conn):
    # V5 (24 hours) starts in February; V7 (10 hours) covers two later visits of its staff.
    await world.visit(
        A, "V5", C1, "2024-02-29T12:00:00+01:00", "2024-03-01T12:00:00+01:00", staff="S2", **NIGHT
    )
    await world.visit(
        A, "V6", C2, "2024-03-01T09:00:00+01:00", "2024-03-01T09:30:00+01:00", staff="S2", **NIGHT
    )
    await world.visit(
        A, "V7", C1, "2024-03-10T08:00:00+01:00", "2024-03-10T18:00:00+01:00", staff="S3", **NIGHT
    )
    await world.visit(
        A, "V8", C2, "2024-03-10T09:00:00+01:00", "2024-03-10T09:30:00+01:00", staff="S3", **NIGHT
    )
    await world.visit(
        A, "V9", C1, "2024-03-10T12:00:00+01:00", "2024-03-10T12:30:00+01:00", staff="S3", **NIGHT
    )
    await world.visit(
        A, "V10", C3, "2024-03-10T15:00:00+01:00", "2024-03-10T15:30:00+01:00", staff="S3", **NIGHT
    )
    out = await price(conn, "2024-03")
    assert overlaps(out) == {
        "OVERLAP:prov-a:V6",
        "OVERLAP:prov-a:V7",
        "OVERLAP:prov-a:V8",
        "OVERLAP:prov-a:V10",
    }
    assert "V5" in finding(out, "OVERLAP:prov-a:V6").parts[0]["visits"]
    assert finding(out, "OVERLAP:prov-a:V7").parts[0]["visits"] == ["V10", "V8"]


async def test_reports_at_the_same_customer_between_two_partners(world, conn):
    # W1 at C1 overlaps W4 at C2; W2 and W3 (also at C1, W2 the second report of W1) lie between them.
    await world.visit(A, "W1", C1, "2024-03-05T08:00:00+01:00", "2024-03-05T09:00:00+01:00", staff="S4")
    await world.visit(
        A, "W2", C1, "2024-03-05T08:00:00+01:00", "2024-03-05T08:10:00+01:00", staff="S4", **DELEGATED
    )
    await world.visit(A, "W3", C1, "2024-03-05T08:30:00+01:00", "2024-03-05T08:40:00+01:00", staff="S4")
    await world.visit(A, "W4", C2, "2024-03-05T08:50:00+01:00", "2024-03-05T09:10:00+01:00", staff="S4")
    # Touching ends at another customer after two reports of one visit: no overlap.
    await world.visit(A, "W5", C1, "2024-03-06T08:00:00+01:00", "2024-03-06T08:30:00+01:00", staff="S4")
    await world.visit(
        A, "W6", C1, "2024-03-06T08:00:00+01:00", "2024-03-06T08:10:00+01:00", staff="S4", **DELEGATED
    )
    await world.visit(A, "W7", C2, "2024-03-06T08:30:00+01:00", "2024-03-06T08:45:00+01:00", staff="S4")
    out = await price(conn, "2024-03")
    assert overlaps(out) == {"OVERLAP:prov-a:W1", "OVERLAP:prov-a:W4"}


async def test_every_copy_names_the_first_received(world, conn):
    # D9 arrives first; D2 (another report type at the same start) is no copy.
    for ext in ("D9", "D1", "D3"):
        await world.visit(A, ext, C1, "2024-03-01T19:00:00+01:00", "2024-03-01T19:20:00+01:00")
    await world.visit(A, "D2", C1, "2024-03-01T19:00:00+01:00", "2024-03-01T19:10:00+01:00", **DELEGATED)
    out = await price(conn, "2024-03")
    duplicates = {k for k in codes(out) if k.startswith("DUPLICATE")}
    assert duplicates == {"DUPLICATE:prov-a:D1", "DUPLICATE:prov-a:D3"}
    assert finding(out, "DUPLICATE:prov-a:D3").parts == [
        {"start": "2024-03-01T18:00:00+00:00", "visit": "D9"}
    ]
