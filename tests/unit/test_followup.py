"""The follow-up arithmetic (followup.md 1-2): sums are exact, customers count once, shares come
from the sums, and changes are rounded once, half up, away from zero."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import Invalid
from service.domain.followup import (
    AREAS,
    Figures,
    change_percent,
    change_points,
    combine,
    deltas,
    document,
    share,
    swedish_percent,
)
from service.usecases.reports import months_of


def _month(granted, performed, customers, payout, declined=frozenset(), below=0, nurse=0):
    return Figures(
        granted_minutes=Fraction(granted),
        performed_minutes=Fraction(performed),
        customers_below_target=below,
        licensed_visits={"sjukskoterska": nurse},
        declined_visits=len(declined),
        declined_customers=frozenset(declined),
        customers_by_area={"hemtjanst": frozenset(customers)},
        payout_by_area={"hemtjanst": Decimal(payout)},
    )


def test_a_tenant_counts_each_customer_once_and_takes_its_share_from_the_sums():
    # Two providers; customer c2 switched mid-month and is paid by both.
    a = _month("2758.5714", 240, {"c1", "c2"}, "100.00", declined={"c1"}, below=4, nurse=3)
    b = _month(Fraction(675, 7), 0, {"c2", "c3"}, "0.50", declined={"c1"}, below=1)
    tenant = document(combine([a, b]))
    assert tenant["customers_by_area"] == {"hemtjanst": 3, "hemsjukvard": 0, "hemrehab": 0, "ovrigt": 0}
    assert tenant["declined_visits"] == 2 and tenant["declined_customers"] == 1
    assert tenant["customers_below_target"] == 5
    assert tenant["licensed_visits"] == {
        "sjukskoterska": 3,
        "distriktsskoterska": 0,
        "fysioterapeut": 0,
        "arbetsterapeut": 0,
    }
    assert tenant["payout_by_area"]["hemtjanst"] == "100.50"
    # Σ performed / Σ granted, not the mean of the two shares (0.0870 and 0).
    granted = Fraction("2758.5714") + Fraction(675, 7)
    assert tenant["performed_share"] == str(share(Fraction(240), granted))
    assert document(b)["performed_share"] == "0.0000"


def test_nothing_granted_has_no_share():
    assert document(Figures())["performed_share"] is None
    assert document(Figures())["payout_by_area"] == dict.fromkeys(AREAS, "0.00")


def test_the_worked_month_share_is_shown_with_four_decimals():
    # followup of examples/2024-03-expected.json: 240 of 2758.5714 minutes -> 0.0870.
    assert share(Fraction(240), Fraction(19310, 7)) == Decimal("0.0870")


def test_changes_as_seed_002_shows_them():
    assert change_percent(100, 118) == Decimal("18.0")
    assert change_percent(Decimal("200.00"), Decimal("156.00")) == Decimal("-22.0")
    assert change_percent(0, 5) is None
    # Half up, away from zero, on the exact quotient.
    assert change_percent(8, 9) == Decimal("12.5")
    assert change_percent(-8, -9) == Decimal("-12.5")
    assert change_points(Decimal("0.0870"), Decimal("0.0841")) == Decimal("-0.3")
    assert change_points(None, Decimal("0.5")) is None


def test_swedish_percent():
    assert swedish_percent(Decimal("0.0870")) == "8,7 %"
    assert swedish_percent(Decimal("1.0000")) == "100,0 %"
    assert swedish_percent(None) == "–"


customers = st.frozensets(st.sampled_from([f"c{i}" for i in range(8)]))
months = st.builds(
    _month,
    granted=st.integers(0, 10_000),
    performed=st.integers(0, 10_000),
    customers=customers,
    payout=st.decimals(min_value=-1000, max_value=100_000, places=2).map(str),
    declined=customers,
    below=st.integers(0, 5),
    nurse=st.integers(0, 5),
)


@given(st.lists(months, max_size=6), st.lists(months, max_size=6))
def test_adding_in_any_grouping_gives_the_same_figures(first, second):
    whole = document(combine(first + second))
    assert document(combine([combine(first), combine(second)])) == whole
    assert document(combine(second + first)) == whole
    n_customers = len(set().union(*(m.customers_by_area["hemtjanst"] for m in first + second)))
    assert whole["customers_by_area"]["hemtjanst"] == n_customers
    total = sum((m.payout_by_area["hemtjanst"] for m in first + second), Decimal("0.00"))
    assert whole["payout_by_area"]["hemtjanst"] == str(total)


@given(st.integers(-(10**6), 10**6).filter(bool), st.integers(-(10**6), 10**6))
def test_a_change_is_the_rounded_exact_quotient(a, b):
    got = change_percent(a, b)
    exact = Fraction(b - a, abs(a)) * 100
    assert got.as_tuple().exponent == -1
    assert abs(Fraction(got) - exact) <= Fraction(1, 20)


def test_period_over_period_rows_from_two_sums():
    a = combine([_month(1000, 800, {"c1", "c2"}, "100.00"), _month(1000, 700, {"c1"}, "100.00")])
    b = combine([_month(1000, 900, {"c1"}, "150.00", declined={"c1"}), _month(1000, 900, {"c3"}, "150.00")])
    rows = {d.figure: d for d in deltas(a, b)}
    # shares from the sums: 1500 / 2000 = 0.75 and 1800 / 2000 = 0.90: 15 percentage points
    assert (rows["performed_share"].a, rows["performed_share"].b) == (Decimal("0.7500"), Decimal("0.9000"))
    assert (rows["performed_share"].difference, rows["performed_share"].change) == (
        Decimal("0.15"),
        Decimal("15.0"),
    )
    assert (rows["performed_minutes"].difference, rows["performed_minutes"].change) == (300, Decimal("20.0"))
    # customers once per range: {c1, c2} against {c1, c3}
    assert (rows["customers"].a, rows["customers"].b, rows["customers"].change) == (2, 2, Decimal("0.0"))
    assert (rows["payout"].a, rows["payout"].b, rows["payout"].change) == (
        Decimal("200.00"),
        Decimal("300.00"),
        Decimal("50.0"),
    )
    assert (rows["declined_visits"].a, rows["declined_visits"].b, rows["declined_visits"].change) == (
        0,
        1,
        None,
    )
    assert rows["payout_by_area.hemrehab"].change is None  # 0.00 against 0.00


def test_a_range_of_months_runs_over_the_turn_of_the_year():
    assert months_of("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert months_of("2024-03", "2024-03") == ["2024-03"]
    assert len(months_of("2022-01", "2024-12")) == 36
    with pytest.raises(Invalid):
        months_of("2022-01", "2025-01")
