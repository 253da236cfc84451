"""Properties of pricing over generated months (no database): every line is rounded once from its
exact quantity, totals are sums of rounded lines, and no cap or limit is ever exceeded."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from importlib.resources import files

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.lines import totals as component_totals
from service.domain.money import round_ore
from service.domain.periods import Period
from service.domain.tariff import load_tariff
from service.domain.versions import TariffSpan
from service.reconcile import pricing
from service.reconcile.inputs import ClaimRow, GrantedRow, Inputs, PerformedRow, VisitLineRow

TARIFF = load_tariff((files("service") / "data" / "tariffs" / "kson-2024.toml").read_bytes())
MARCH = Period(2024, 3)
PROVIDERS = ("prov-a", "prov-b")
CUSTOMERS = ("193805149493", "194211029188", "193001239825")
ZONES = ("tatort", "landsbygd", "skargard")


def month(**rows) -> Inputs:
    empty = {
        k: []
        for k in (
            "granted",
            "visit_lines",
            "performed",
            "flagged",
            "declined",
            "listed",
            "unlisted",
            "claims",
        )
    }
    return Inputs(
        period=MARCH,
        provider=None,
        spans=[TariffSpan(TARIFF, date(2024, 2, 1), None)],
        markup={},
        paused=frozenset(),
        marks={},
        **{**empty, **rows},
    )


def days(first: int, last: int) -> tuple[tuple[date, date], ...]:
    return ((date(2024, 3, first), date(2024, 3, last) + timedelta(days=1)),)


granted_rows = st.builds(
    lambda p, c, n, cat, minutes, occasions, per, zone, first, length: GrantedRow(
        p,
        c,
        f"D{n}",
        f"D{n}-1",
        cat,
        Decimal(minutes),
        Decimal(occasions),
        per,
        zone,
        TARIFF.id,
        days(first, min(31, first + length)),
    ),
    st.sampled_from(PROVIDERS),
    st.sampled_from(CUSTOMERS),
    st.integers(1, 50),
    st.sampled_from(("omsorg", "service")),
    st.integers(1, 120),
    st.sampled_from(("1", "2", "0.5", "3")),
    st.sampled_from(("day", "week", "month")),
    st.sampled_from(ZONES),
    st.integers(1, 31),
    st.integers(0, 30),
)
delegated = st.builds(
    lambda p, c, z, seconds, n: VisitLineRow(
        p, "delegerad_ovrig", TARIFF.id, c, z, Decimal(seconds), n, ("V",)
    ),
    st.sampled_from(PROVIDERS),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(ZONES),
    st.integers(1, 40000),
    st.integers(1, 9),
)
bistand = st.builds(
    lambda p, c, seconds: PerformedRow(p, c, TARIFF.id, "bistand", Decimal(seconds), 1),
    st.sampled_from(PROVIDERS),
    st.sampled_from(CUSTOMERS),
    st.integers(1, 200000),
)
claims = st.builds(
    lambda p, kind, day, c, n: ClaimRow(
        p,
        f"K{n}",
        kind,
        date(2024, 3, day),
        None if kind == "teamkonferens" else c,
        None,
        None,
        "1",
        True,
        True,
        frozenset({"hemsjukvard"}),
    ),
    st.sampled_from(PROVIDERS),
    st.sampled_from(("teamkonferens", "lakemedelsgenomgang", "sip")),
    st.integers(1, 31),
    st.sampled_from(CUSTOMERS),
    st.integers(1, 10**6),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(granted_rows, max_size=8),
    st.lists(delegated, max_size=6),
    st.lists(bistand, max_size=6),
    st.lists(claims, max_size=14, unique_by=lambda c: (c.provider, c.id)),
)
def test_totals_are_sums_of_lines_rounded_once_and_no_cap_or_limit_is_exceeded(
    granted, visits, performed, claimed
):
    out = pricing.price(month(granted=granted, visit_lines=visits, performed=performed, claims=claimed), {})
    for line in out.lines:
        if line.kind != "reduction":
            assert line.amount == round_ore(line.quantity * Fraction(line.unit_price))
    for provider in PROVIDERS:
        own = [x for x in out.lines if x.provider_id == provider]
        totals = component_totals(own, list(TARIFF.components))
        assert sum(totals.values()) == sum(x.amount for x in own if x.kind != "held")
        paid = {c: [x for x in own if x.component == c] for c in totals}
        # The 13 % cap: the component's total never pays more than the cap's share of its minutes.
        lines = [x for x in paid["delegerad_ovrig"] if x.kind == "line"]
        minutes = sum((Fraction(x.detail["minutes"]) for x in lines), Fraction(0))
        basis = sum((Fraction(r.seconds) / 60 for r in performed if r.provider == provider), Fraction(0))
        cap = basis * Fraction(13, 100)
        before = sum((x.amount for x in lines), Decimal(0))
        if minutes > cap:
            assert totals["delegerad_ovrig"] == round_ore(Fraction(before) * cap / minutes)
        else:
            assert totals["delegerad_ovrig"] == before
        # Teamkonferens: at most four, at most 5 000 kr.
        team = [x for x in paid["teamkonferens"] if x.kind == "line"]
        assert sum(Fraction(x.quantity) for x in team) <= 4 and totals["teamkonferens"] <= Decimal("5000.00")
    # Läkemedelsgenomgång once per customer and year, across providers; SIP once per customer, provider, date.
    lmg = Counter(x.pnr for x in out.lines if x.component == "lakemedelsgenomgang")
    assert all(n == 1 for n in lmg.values())
    assert sum(x.quantity for x in out.lines if x.component == "lakemedelsgenomgang") == len(lmg)
    sip_dates = Counter((c.pnr, c.provider, c.day) for c in claimed if c.type == "sip")
    assert sum(x.quantity for x in out.lines if x.component == "sip") == len(sip_dates)
    # Granted time is held, not paid, where the provider has no performed bistand visit for the customer.
    visited = {(r.provider, r.pnr) for r in performed}
    for line in out.lines:
        if line.basis == "granted_time":
            assert (line.kind == "line") == ((line.provider_id, line.pnr) in visited)
