"""Discrepancy explanations: a finding's code and parameters (service/domain/discrepancies.py) as
the catalogue's sentences in a language, for the pages and the JSON API alike (`explainer`).

Each code has a sentence per set of parameters it is found with (the provider's own view has its
own sets: it never names another provider). Parameters are shown by what their names say: whole
minutes, whole per cent, kronor with two decimals, dates and months as the language writes them,
times of day in Swedish time, lists as the language joins them. A discrepancy stored before
migration 0013 has no parameters: the text the engine wrote then is shown as it is. A set of
parameters no sentence takes (written by a newer engine) is shown as its JSON, never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import Translations

from service.web.i18n import N_, translate
from service.web.labels import AREA_NAMES

TIMEZONE = ZoneInfo("Europe/Stockholm")
Part = dict[str, Any]

# Per code: (the names of the parameters, the catalogue's sentence).
MESSAGES: dict[str, list[tuple[frozenset[str], str]]] = {}


def _message(code: str, names: str, message: str) -> None:
    MESSAGES.setdefault(code, []).append((frozenset(names.split()), message))


_message("UNKNOWN_CUSTOMER", "", N_("The customer register does not know the customer."))
_message(
    "NOT_CHOSEN_PROVIDER",
    "provider day",
    N_("%(provider)s is not the customer's chosen provider on %(day)s."),
)
_message("NOT_CHOSEN_PROVIDER", "day", N_("You are not the customer's chosen provider on %(day)s."))
_message(
    "NOT_CHOSEN_PROVIDER",
    "provider days",
    N_(
        "%(provider)s is not the customer's chosen provider on the enrolled days %(days)s, which earn no listing fee."
    ),
)
_message(
    "NOT_CHOSEN_PROVIDER",
    "days",
    N_(
        "You are not the customer's chosen provider on the enrolled days %(days)s, which earn no listing fee."
    ),
)
_message(
    "NO_ENROLMENT",
    "areas provider day",
    N_("The customer has no %(areas)s enrolment with %(provider)s on %(day)s."),
)
_message("NO_ENROLMENT", "areas day", N_("The customer has no %(areas)s enrolment with you on %(day)s."))
_message("NO_REMISS", "area", N_("The %(area)s enrolment has no referral, so its listing fee is held."))
_message("DURING_PAUSE", "day pauses", N_("The customer has a pause on %(day)s (pause %(pauses)s)."))
_message("DURING_PAUSE", "day", N_("The customer has a pause on %(day)s."))
_message(
    "STAFF_CATEGORY",
    "category report_type",
    N_("Staff of category %(category)s may not register %(report_type)s visits."),
)
_message(
    "OVERLAP",
    "staff start end visits",
    N_("Staff member %(staff)s was also on %(visits)s during this visit (%(start)s–%(end)s)."),
)
_message(
    "DUPLICATE",
    "start visit",
    N_("Same customer, staff member, report type and start (%(start)s) as %(visit)s, which arrived first."),
)
_message(
    "MANUAL_REGISTRATION",
    "components",
    N_("Registered by hand on a component paid by performed time (%(components)s)."),
)
_message(
    "LONG_VISIT",
    "start end minutes hours",
    N_("The visit (%(start)s–%(end)s) lasted %(minutes)s minutes, more than %(hours)s hours."),
)
_message(
    "GRANTED_WITHOUT_VISITS",
    "granted_minutes month",
    N_(
        "%(granted_minutes)s minutes were granted in %(month)s, but no payable bistånd visit was performed "
        "and there was no pause."
    ),
)
_message(
    "LOW_PERFORMED_SHARE",
    "performed_minutes granted_minutes percent",
    N_("%(performed_minutes)s of %(granted_minutes)s granted minutes were performed (%(percent)s %%)."),
)
_message(
    "BELOW_MINIMUM_SHARE",
    "performed_minutes granted_minutes percent minimum_percent",
    N_(
        "%(performed_minutes)s of %(granted_minutes)s granted minutes were performed (%(percent)s %%), "
        "below the minimum of %(minimum_percent)s %%."
    ),
)
_message(
    "DELEGATED_CAP",
    "paid_minutes cap_minutes share_percent basis_minutes report_type",
    N_(
        "%(paid_minutes)s minutes are paid, over the cap of %(cap_minutes)s minutes "
        "(%(share_percent)s %% of %(basis_minutes)s %(report_type)s minutes)."
    ),
)
_message(
    "TEAM_AMOUNT_CAP",
    "total_amount cap_amount",
    N_("%(total_amount)s kr is over the cap of %(cap_amount)s kr."),
)
_message(
    "EXTRAORDINARY", "requested_amount motivation", N_("%(requested_amount)s kr requested: %(motivation)s")
)
_message("DECLINED_VISITS", "visits", N_("Declined visits: %(visits)s."))
_message(
    "NOT_IN_TARIFF", "type tariff", N_("Claims of type %(type)s have no component in tariff %(tariff)s.")
)
_message(
    "NOT_IN_TARIFF",
    "type day",
    N_("Claims of type %(type)s cannot be paid: no tariff is in force on %(day)s."),
)
for _code in ("SIP_DUPLICATE", "LMG_ALREADY_PAID", "TEAM_COUNT_CAP"):
    _message(
        _code, "count per paid", N_("The limit of %(count)s per %(per)s is reached (already paid: %(paid)s).")
    )
    _message(
        _code,
        "count per own",
        N_("The limit of %(count)s per %(per)s is reached (already paid: your %(own)s)."),
    )
    _message(_code, "count per", N_("The limit of %(count)s per %(per)s is reached."))
_message(
    "LATE_DATA",
    "period difference_amount changes",
    N_(
        "%(period)s changed after it was settled: recomputed, it differs from what was paid by "
        "%(difference_amount)s kr (%(changes)s)."
    ),
)

# What a claim limit counts within (the tariff's `limit.per`).
PER = {
    "customer_provider_date": N_("customer, provider and day"),
    "customer_calendar_year": N_("customer and calendar year"),
    "provider_period": N_("provider and month"),
}
PAID_BY = N_("%(claim)s by %(provider)s")
CHANGE = N_("%(line)s: %(paid_amount)s kr → %(recomputed_amount)s kr (%(difference_amount)s kr)")
REDUCTION = N_("%(component)s, %(rule)s reduction")


class Shown:
    """Parameters as a language writes them."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.i18n: Translations = translate(locale)

    def whole(self, value: str | Decimal) -> str:
        return format_decimal(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP), locale=self.locale)

    def kronor(self, value: str) -> str:
        signed = "+#,##0.00;-#,##0.00" if value[:1] in "+-" else "#,##0.00"
        return format_decimal(Decimal(value), format=signed, locale=self.locale)

    def day(self, value: str) -> str:
        return format_date(date.fromisoformat(value), "long", locale=self.locale)

    def month(self, value: str) -> str:
        return format_date(date.fromisoformat(f"{value}-01"), "LLLL y", locale=self.locale)

    def days(self, ranges: list[str]) -> str:
        shown = []
        for span in ranges:
            first, _, last = span.partition("..")
            shown.append(self.day(first) if first == last else f"{self.day(first)}–{self.day(last)}")
        return format_list(shown, locale=self.locale)

    def moment(self, value: str, *, after: str | None = None) -> str:
        """A moment in Swedish time; the time of day alone when it is on the local day of `after`."""
        at = datetime.fromisoformat(value).astimezone(TIMEZONE)
        clock = format_time(at, "short", locale=self.locale)
        if after is not None and datetime.fromisoformat(after).astimezone(TIMEZONE).date() == at.date():
            return clock
        return f"{format_date(at.date(), 'long', locale=self.locale)} {clock}"

    def area(self, area: str) -> str:
        return self.i18n.gettext(AREA_NAMES[area]) if area in AREA_NAMES else area

    def value(self, name: str, value: Any, part: Part) -> str:
        if name.endswith("minutes") or name.endswith("percent"):
            return self.whole(value)
        if name.endswith("amount"):
            return self.kronor(value)
        if name == "day":
            return self.day(value)
        if name in ("month", "period"):
            return self.month(value)
        if name == "days":
            return self.days(value)
        if name == "start":
            return self.moment(value)
        if name == "end":
            return self.moment(value, after=part.get("start"))
        if name == "per":
            return self.i18n.gettext(PER[value]) if value in PER else str(value)
        if name == "area":
            return self.area(value)
        if name == "areas":
            return format_list([self.area(a) for a in value], style="or", locale=self.locale)
        if name == "paid":
            return format_list([self.i18n.gettext(PAID_BY) % x for x in value], locale=self.locale)
        if name == "changes":
            return "; ".join(self.change(x) for x in value)
        if isinstance(value, list):
            return format_list([str(x) for x in value], locale=self.locale)
        if isinstance(value, int):
            return format_decimal(value, locale=self.locale)
        return str(value)

    def change(self, change: Part) -> str:
        """A line LATE_DATA names: component (or its reduction), customer reference, zone, tariff."""
        what = change["component"]
        if "reduction" in change:
            what = self.i18n.gettext(REDUCTION) % {"component": what, "rule": change["reduction"]}
        line = ", ".join(
            str(x) for x in (what, change.get("customer"), change.get("zone"), change["tariff"]) if x
        )
        amounts = {
            k: self.kronor(change[k]) for k in ("paid_amount", "recomputed_amount", "difference_amount")
        }
        return self.i18n.gettext(CHANGE) % {"line": line, **amounts}


def sentence(code: str, part: Part, shown: Shown) -> str:
    """One part of a finding as the catalogue's sentence (its JSON where no sentence takes it)."""
    names = frozenset(part)
    for wanted, message in MESSAGES.get(code, []):
        if wanted == names:
            return shown.i18n.gettext(message) % {k: shown.value(k, v, part) for k, v in part.items()}
    return msgspec.json.encode(part).decode()


def explainer(locale: str) -> Callable[[str, list[Part] | None, str | None], str]:
    """How the use cases explain a discrepancy in `locale` (service/usecases/documents.py `Explain`):
    its parts as sentences, or the text stored before migration 0013."""
    shown = Shown(locale)

    def explain(code: str, parameters: list[Part] | None, text: str | None) -> str:
        if parameters is None:
            return text or ""
        return " ".join(sentence(code, part, shown) for part in parameters)

    return explain
