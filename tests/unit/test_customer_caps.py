"""The two per-customer-month rules of followup.md 3, each implemented once: `cap_to_granted` on
performed time of a category and `minimum_share` on granted time (BELOW_MINIMUM_SHARE). Their
arithmetic (service/domain/caps.py) and their properties over generated months (no database): the
cap is never exceeded, the reduction equals the rounded product, the markup and held lines are
never reduced."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib.resources import files

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.caps import cap_to_granted, minimum_share
from service.domain.granted import daily_minutes
from service.domain.lines import ZERO
from service.domain.money import round_ore
from service.domain.tariff import load_tariff
from service.domain.versions import TariffSpan
from service.reconcile import pricing
from service.reconcile.inputs import GrantedRow, MarkupRow, PerformedRow, VisitLineRow
from tests.unit.test_pricing_properties import CUSTOMERS, PROVIDERS, ZONES, days, month

FOLDER = files("service") / "data" / "tariffs"
UTFORD = load_tariff((FOLDER / "kson-2024-utford.toml").read_bytes())
MIN80 = load_tariff((FOLDER / "kson-2024-min80.toml").read_bytes())


def test_cap_to_granted_brings_the_total_to_the_granted_share():
    assert cap_to_granted(Decimal("470.00"), Fraction(60), Fraction(60)) is None
    assert cap_to_granted(Decimal("470.00"), Fraction(59), Fraction(60)) is None
    capped = cap_to_granted(Decimal("470.00"), Fraction(90), Fraction(60))
    assert capped is not None and capped.total_after == Decimal("313.33")  # 470 x 60/90, half up
    assert capped.amount == Decimal("-156.67")
    nothing_granted = cap_to_granted(Decimal("470.00"), Fraction(30), Fraction(0))
    assert nothing_granted is not None and nothing_granted.total_after == ZERO


def test_minimum_share_pays_the_performed_share_below_the_minimum():
    eighty = Decimal("0.80")
    assert minimum_share(Decimal("1000.00"), Fraction(80), Fraction(100), eighty) is None
    assert minimum_share(Decimal("1000.00"), Fraction(10), Fraction(0), eighty) is None
    below = minimum_share(Decimal("1000.00"), Fraction(2, 3), Fraction(1), eighty)
    assert below is not None and below.total_after == Decimal("666.67")
    none_performed = minimum_share(Decimal("1000.00"), Fraction(0), Fraction(100), eighty)
    assert none_performed is not None and none_performed.total_after == ZERO


def _month(tariff, granted=(), visit_lines=(), performed=(), markup=None):
    inputs = month(granted=list(granted), visit_lines=list(visit_lines), performed=list(performed))
    inputs.spans = [TariffSpan(tariff, date(2024, 2, 1), None)]
    inputs.markup = markup or {}
    return inputs


def _granted(tariff, p, c, n, category, minutes, zone, first, last):
    return GrantedRow(
        p,
        c,
        f"D{n}",
        f"D{n}-{category}",
        category,
        Decimal(minutes),
        Decimal(1),
        "day",
        zone,
        tariff.id,
        days(first, last),
    )


def _exact_granted(rows, category=None):
    out: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
    for r in rows:
        if category is None or r.category == category:
            n = sum((b - a).days for a, b in r.days)
            out[(r.provider, r.pnr)] += daily_minutes(r.minutes, r.occasions, r.per) * n
    return out


customers = st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(CUSTOMERS))
# (customer, category, minutes a day, zone, first day, further days)
granted_specs = st.lists(
    st.tuples(
        customers,
        st.sampled_from(("omsorg", "service")),
        st.integers(1, 90),
        st.sampled_from(ZONES),
        st.integers(1, 31),
        st.integers(0, 30),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    granted_specs,
    st.lists(
        st.tuples(
            customers,
            st.sampled_from(("omsorg_utford", "service_utford")),
            st.sampled_from(ZONES),
            st.integers(1, 400000),
        ),
        max_size=8,
    ),
)
def test_performed_time_is_never_paid_over_the_granted_time(granted_spec, visits_spec):
    granted = [
        _granted(UTFORD, p, c, n, cat, minutes, zone, first, min(31, first + length))
        for n, ((p, c), cat, minutes, zone, first, length) in enumerate(granted_spec)
    ]
    visits = [
        VisitLineRow(p, component, UTFORD.id, c, zone, Decimal(seconds), 1, (f"V{n}",))
        for n, ((p, c), component, zone, seconds) in enumerate(visits_spec)
    ]
    out = pricing.price(_month(UTFORD, granted, visits), {})
    by_category = {
        "omsorg_utford": _exact_granted(granted, "omsorg"),
        "service_utford": _exact_granted(granted, "service"),
    }
    paid: defaultdict[tuple[str, str, str], list] = defaultdict(list)
    reduced: dict[tuple[str, str, str], Decimal] = {}
    for line in out.lines:
        key = (line.provider_id, line.component, line.pnr)
        if line.kind == "line":
            paid[key].append(line)
        elif line.rule == "cap_to_granted":
            assert key not in reduced and line.zone is None and line.discrepancy is None
            reduced[key] = line.amount
    assert set(reduced) <= set(paid)
    for (provider, component, pnr), lines in paid.items():
        if component not in by_category:
            continue
        total = sum((x.amount for x in lines), ZERO)
        minutes = sum((x.minutes for x in lines), Fraction(0))
        cap = by_category[component][(provider, pnr)]
        after = total + reduced.get((provider, component, pnr), ZERO)
        if minutes > cap:  # the reduction is the rounded product, and the cap holds
            assert after == round_ore(Fraction(total) * cap / minutes)
        else:
            assert (provider, component, pnr) not in reduced
    assert not any(f.code == "BELOW_MINIMUM_SHARE" for f in out.findings)


@settings(max_examples=60, deadline=None)
@given(
    granted_specs,
    st.lists(st.tuples(customers, st.integers(1, 300000)), max_size=6),
)
def test_minimum_share_reduces_paid_granted_time_only(granted_spec, performed_spec):
    granted = [
        _granted(MIN80, p, c, n, cat, minutes, zone, first, min(31, first + length))
        for n, ((p, c), cat, minutes, zone, first, length) in enumerate(granted_spec)
    ]
    performed = [PerformedRow(p, c, MIN80.id, "bistand", Decimal(s), 1) for (p, c), s in performed_spec]
    markup = {
        (MIN80.id, "delegering_paslag"): [
            MarkupRow(
                r.provider,
                r.pnr,
                r.decision_id,
                r.line_id,
                r.minutes,
                r.occasions,
                r.per,
                r.zone,
                ("DL1",),
                r.days,
            )
            for r in granted
            if r.category == "omsorg"
        ]
    }
    # Customers without payable visits are held by GRANTED_WITHOUT_VISITS: held lines are no total.
    out = pricing.price(_month(MIN80, granted, performed=performed, markup=markup), {})
    all_granted = _exact_granted(granted)
    performed_min: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
    for r in performed:
        performed_min[(r.provider, r.pnr)] += Fraction(r.seconds) / 60
    paid: defaultdict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    reductions = {}
    for line in out.lines:
        key = (line.provider_id, line.component, line.pnr)
        if line.kind == "line":
            paid[key] += line.amount
        elif line.kind == "reduction":
            assert line.rule == "minimum_share" and line.component in ("omsorg", "service")
            assert key not in reductions and line.zone is None
            reductions[key] = line
    assert set(reductions) <= set(paid)  # never on held lines, never on the markup
    below = {f.key for f in out.findings if f.code == "BELOW_MINIMUM_SHARE"}
    expected_keys = set()
    for (provider, component, pnr), total in paid.items():
        if component not in ("omsorg", "service"):
            continue
        g, p = all_granted[(provider, pnr)], performed_min[(provider, pnr)]
        if g > 0 and p < Fraction(4, 5) * g:
            line = reductions[(provider, component, pnr)]
            assert total + line.amount == round_ore(Fraction(total) * p / g)
            expected_keys.add(f"BELOW_MINIMUM_SHARE:{provider}:{pnr}:2024-03")
            assert line.discrepancy in below
        else:
            assert (provider, component, pnr) not in reductions
    assert below == expected_keys  # one per customer-month, only with a reduction
