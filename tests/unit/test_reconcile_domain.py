"""The pure rules of reconciliation: periods, granted minutes, caps, limits, versions, statuses."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain import discrepancies as d
from service.domain.caps import LimitCounter, amount_cap, limit_scope, share_cap, share_cap_minutes
from service.domain.granted import daily_minutes, granted_minutes
from service.domain.lines import amount, hours, month_share, show, show_quantity
from service.domain.money import round_ore
from service.domain.periods import Period, count_days, merge, show_ranges
from service.domain.versions import Overlap, Version, place


def test_periods():
    march = Period.parse("2024-03")
    assert (march.first, march.end, march.last, march.days) == (
        date(2024, 3, 1),
        date(2024, 4, 1),
        date(2024, 3, 31),
        31,
    )
    assert Period.parse("2024-02").days == 29 and Period.parse("2024-12").end == date(2025, 1, 1)
    assert str(Period.of(date(2024, 3, 9))) == "2024-03" and march.year_start == date(2024, 1, 1)
    for bad in ("2024-13", "2024-3", "24-03", "2024-00"):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_day_ranges_merge_and_show_inclusively():
    ranges = [
        (date(2024, 3, 15), date(2024, 4, 1)),
        (date(2024, 3, 1), date(2024, 3, 5)),
        (date(2024, 3, 5), date(2024, 3, 10)),
    ]
    assert merge(ranges) == [(date(2024, 3, 1), date(2024, 3, 10)), (date(2024, 3, 15), date(2024, 4, 1))]
    assert count_days(ranges) == 26
    assert show_ranges(ranges) == ["2024-03-01..2024-03-09", "2024-03-15..2024-03-31"]


def test_daily_minutes_per_day_week_and_month():
    assert daily_minutes(Decimal(30), Decimal(1), "day") == 30
    assert daily_minutes(Decimal(90), Decimal("0.5"), "week") == Fraction(45, 7)
    # Per month is 12/365 a day whatever the month or year.
    assert daily_minutes(Decimal(60), Decimal(2), "month") == Fraction(1440, 365)
    assert granted_minutes(Decimal(45), Decimal(1), "week", 15) == Fraction(675, 7)


def test_line_amounts_round_once_from_the_exact_quantity():
    # 15 days of 60 min a week in landsbygd: 128.5714... minutes. Summing rounded days would give
    # 15 x 63.57 = 953.55; the exact quantity gives 953.57.
    minutes = granted_minutes(Decimal(60), Decimal(1), "week", 15)
    assert amount(hours(minutes), Decimal("445.00")) == Decimal("953.57")
    assert amount(month_share(15, 31), Decimal("1950.00")) == Decimal("943.55")
    assert show(minutes) == "128.5714" and show_quantity(Fraction(4), "occasion") == "4"
    assert show_quantity(Fraction(1), "month") == "1.0000"


def test_share_cap_binding_and_not_binding():
    cap = share_cap_minutes(Fraction(240), Decimal("0.13"))
    assert cap == Fraction(312, 10)
    reduction = share_cap(Decimal("274.17"), Fraction(35), cap)
    assert (
        reduction is not None
        and reduction.total_after == Decimal("244.40")
        and reduction.amount == Decimal("-29.77")
    )
    assert share_cap(Decimal("156.67"), Fraction(20), cap) is None
    assert share_cap(Decimal("100.00"), Fraction(312, 10), cap) is None  # exactly at the cap


def test_amount_cap():
    assert amount_cap(Decimal("6000.00"), Decimal("5000.00")).amount == Decimal("-1000.00")
    assert amount_cap(Decimal("5000.00"), Decimal("5000.00")) is None


def test_limits_count_within_their_scope():
    counter = LimitCounter()
    scope = limit_scope("customer_calendar_year", provider="a", pnr="1", day=date(2024, 3, 1))
    assert scope == limit_scope("customer_calendar_year", provider="b", pnr="1", day=date(2024, 12, 31))
    assert counter.take(scope, 1, ("a", "K1")) and not counter.take(scope, 1, ("b", "K9"))
    assert counter.holders(scope) == [("a", "K1")]
    assert limit_scope("provider_period", provider="a", pnr=None, day=date(2024, 3, 4)) == ("a", 2024, 3)
    with pytest.raises(ValueError):
        limit_scope("weekly", provider="a", pnr=None, day=date(2024, 3, 4))


def test_version_placement():
    v2021 = Version("kson-2021", date(2021, 6, 1), date(2024, 1, 31))
    v2024 = Version("kson-2024", date(2024, 2, 1), None)
    later = place(Version("kson-2025", date(2025, 1, 1), None), [v2021, v2024])
    assert later.ends == ("kson-2024", date(2024, 12, 31)) and later.supersedes is None
    same = place(Version("kson-2024b", date(2024, 2, 1), None), [v2021, v2024])
    assert same.supersedes == "kson-2024" and same.ends is None
    for bad in (Version("x", date(2023, 1, 1), None), Version("y", date(2024, 1, 1), date(2024, 3, 1))):
        with pytest.raises(Overlap):
            place(bad, [v2021, v2024])
    assert place(Version("z", date(2020, 1, 1), date(2021, 5, 31)), [v2021, v2024]).ends is None


def test_keys_kinds_and_status():
    assert d.record_key("OVERLAP", "exempel-omsorg", "V10") == "OVERLAP:exempel-omsorg:V10"
    assert d.customer_month_key("GRANTED_WITHOUT_VISITS", "p", "193001239825", "2024-03") == (
        "GRANTED_WITHOUT_VISITS:p:193001239825:2024-03"
    )
    assert d.provider_month_key("DELEGATED_CAP", "p", "2024-03") == "DELEGATED_CAP:p:2024-03"
    assert d.severity_of("DURING_PAUSE", report_type="bistand") == "info"
    assert d.severity_of("DURING_PAUSE", report_type="hsl") == "blocking"
    assert d.severity_of("NOT_CHOSEN_PROVIDER", on_enrolment=True) == "hard"
    approve = d.Ruling(seq=1, key="k", decision="approve", amount=None, version="7")
    assert d.status("blocking", approve, "7") == "approved"
    assert d.status("blocking", approve, "8") == "open"  # the record changed since
    assert d.status("hard", approve, "7") == "open"
    assert (
        d.status("blocking", d.Ruling(seq=2, key="k", decision="reject", amount=None, version="7"), "7")
        == "rejected"
    )


@settings(max_examples=200, deadline=None)
@given(
    total=st.decimals(min_value=0, max_value=100000, places=2),
    paid=st.fractions(min_value=Fraction(1, 60), max_value=10000),
    basis=st.fractions(min_value=0, max_value=100000),
)
def test_a_share_cap_is_never_exceeded(total, paid, basis):
    cap = share_cap_minutes(basis, Decimal("0.13"))
    reduction = share_cap(total, paid, cap)
    if paid <= cap:
        assert reduction is None
        return
    assert reduction is not None and reduction.total_after <= total
    assert reduction.total_after == round_ore(Fraction(total) * cap / paid)
    # What is paid per paid minute, times the paid minutes, stays within the cap's share (to half an öre).
    assert abs(Fraction(reduction.total_after) - Fraction(total) * cap / paid) <= Fraction(1, 200)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("xyz")), max_size=30), st.integers(1, 4))
def test_a_count_limit_is_never_exceeded(claims, count):
    counter = LimitCounter()
    taken = [c for n, c in enumerate(claims) if counter.take(c, count, ("p", str(n)))]
    for scope in set(claims):
        assert taken.count(scope) == min(count, claims.count(scope))


def test_who_sees_a_personnummer():
    from service.domain.visibility import Viewer

    customers = {"193805149493": ("CREF1", False), "194211029188": ("CREF2", True)}
    key = "GRANTED_WITHOUT_VISITS:p:194211029188:2024-03"

    def view(role, single=False):
        return Viewer(
            role=role, provider="p" if role == "provider" else None, customers=customers, single=single
        )

    admin = view("invoice_admin")
    assert admin.customer("193805149493") == "193805149493" and admin.shown == {"CREF1"}
    # A protected identity: a reference in lists for everyone, the number in a single view only
    # for invoice_admin and auditor.
    assert admin.customer("194211029188") == "CREF2" and admin.text(key, "194211029188") == key.replace(
        "194211029188", "CREF2"
    )
    assert view("auditor", single=True).customer("194211029188") == "194211029188"
    assert view("provider", single=True).customer("194211029188") == "CREF2"
    assert view("provider").customer("193805149493") == "193805149493"
    reader = view("reader", single=True)
    assert reader.customer("193805149493") == "CREF1" and reader.shown == set()
    # A customer the registry does not know has no reference yet.
    assert reader.text("UNKNOWN_CUSTOMER:p:V1", None) == "UNKNOWN_CUSTOMER:p:V1"
    assert reader.customer("199001011239") is None
