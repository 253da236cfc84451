"""Discrepancy explanations as plain sentences in the page's language, from the catalogue.

The engine writes one English text per finding (the API's `detail`, which the result documents and
their tests keep as it is); its figures are in that text only. Here each code's text is read back
into its parts, once per code, and the catalogue's sentence is filled in with them: minutes as whole
minutes, shares as whole per cent, amounts and numbers as the language writes them. A text this
table does not know (a new wording of the engine) is shown as the engine wrote it, never lost.
A finding found twice in one run carries both texts joined by "; ": each part is explained alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal
from babel.support import Translations

from service.web.i18n import N_

Number = Callable[[str], str]

# Per code: (the engine's text as a pattern, the catalogue's sentence, how each part is shown).
# Part kinds: "min" whole minutes, "pct" a percentage to whole per cent, "share" a fraction as whole
# per cent, "kr" an amount, "int" a count, "per" what a limit counts within; others as they are.
NUMBER = r"[+-]?\d+(?:\.\d+)?"
RULES: dict[str, list[tuple[re.Pattern[str], str, dict[str, str]]]] = {}


def _rule(code: str, pattern: str, message: str, **kinds: str) -> None:
    RULES.setdefault(code, []).append((re.compile(f"^{pattern}$"), message, kinds))


_rule(
    "UNKNOWN_CUSTOMER",
    "the registry does not know the customer",
    N_("The customer register does not know the customer."),
)
_rule(
    "NOT_CHOSEN_PROVIDER",
    r"(?P<provider>\S+) is not the customer's chosen provider on enrolled days (?P<days>.+); they earn no listing",
    N_(
        "%(provider)s is not the customer's chosen provider on the enrolled days %(days)s, which earn no listing fee."
    ),
)
_rule(
    "NOT_CHOSEN_PROVIDER",
    r"(?P<provider>\S+) is not the customer's chosen provider on (?P<day>\S+)",
    N_("%(provider)s is not the customer's chosen provider on %(day)s."),
)
_rule(
    "NO_ENROLMENT",
    r"no (?P<area>.+) enrolment with (?P<provider>\S+) on (?P<day>\S+)",
    N_("The customer has no %(area)s enrolment with %(provider)s on %(day)s."),
)
_rule(
    "NO_REMISS",
    r"(?P<area>.+) enrolment without remiss; listing fee held",
    N_("The %(area)s enrolment has no referral, so its listing fee is held."),
)
_rule(
    "DURING_PAUSE",
    r"the customer is paused on (?P<day>\S+) \(pause (?P<pauses>.+)\)",
    N_("The customer has a pause on %(day)s (pause %(pauses)s)."),
)
_rule(
    "STAFF_CATEGORY",
    r"staff category (?P<category>\S+) may not register (?P<type>\S+) visits",
    N_("Staff of category %(category)s may not register %(type)s visits."),
)
_rule(
    "OVERLAP",
    r"staff (?P<staff>\S+) also on (?P<visits>.+) at the same time",
    N_("Staff member %(staff)s was on %(visits)s at the same time."),
)
_rule(
    "DUPLICATE",
    r"same customer, staff, report type and start as (?P<visit>\S+), received first",
    N_("Same customer, staff member, report type and start as %(visit)s, which arrived first."),
)
_rule(
    "MANUAL_REGISTRATION",
    r"manual registration on a paid performed-time component \((?P<components>.+)\)",
    N_("Registered by hand on a component paid by performed time (%(components)s)."),
)
_rule(
    "LONG_VISIT",
    rf"(?P<minutes>{NUMBER}) minutes, over (?P<hours>\d+) hours",
    N_("The visit lasted %(minutes)s minutes, more than %(hours)s hours."),
    minutes="min",
    hours="int",
)
_rule(
    "GRANTED_WITHOUT_VISITS",
    rf"(?P<minutes>{NUMBER}) granted minutes, no payable performed bistand visit and no pause in (?P<month>\S+)",
    N_(
        "%(minutes)s minutes were granted in %(month)s, but no payable bistånd visit was performed and there was no pause."
    ),
    minutes="min",
)
_rule(
    "BELOW_MINIMUM_SHARE",
    rf"performed (?P<performed>{NUMBER}) of granted (?P<granted>{NUMBER}) minutes \((?P<share>{NUMBER}) %\), "
    rf"below the minimum share (?P<minimum>{NUMBER})",
    N_(
        "%(performed)s of %(granted)s granted minutes were performed (%(share)s %%), below the minimum of %(minimum)s %%."
    ),
    performed="min",
    granted="min",
    share="pct",
    minimum="share",
)
_rule(
    "LOW_PERFORMED_SHARE",
    rf"performed (?P<performed>{NUMBER}) of granted (?P<granted>{NUMBER}) minutes \((?P<share>{NUMBER}) %\)",
    N_("%(performed)s of %(granted)s granted minutes were performed (%(share)s %%)."),
    performed="min",
    granted="min",
    share="pct",
)
_rule(
    "DELEGATED_CAP",
    rf"paid (?P<paid>{NUMBER}) min > cap (?P<cap>{NUMBER}) min \(= (?P<share>{NUMBER}) x (?P<basis>{NUMBER}) (?P<type>\S+) min\)",
    N_(
        "%(paid)s minutes are paid, over the cap of %(cap)s minutes (%(share)s %% of %(basis)s %(type)s minutes)."
    ),
    paid="min",
    cap="min",
    share="share",
    basis="min",
)
_rule(
    "TEAM_AMOUNT_CAP",
    rf"(?P<total>{NUMBER}) > cap (?P<cap>{NUMBER})",
    N_("%(total)s kr is over the cap of %(cap)s kr."),
    total="kr",
    cap="kr",
)
_rule("DECLINED_VISITS", r"declined visits (?P<visits>.+)", N_("Declined visits: %(visits)s."))
_rule(
    "NOT_IN_TARIFF",
    r"(?P<type>\S+) claims have no component in tariff (?P<tariff>\S+)",
    N_("Claims of type %(type)s have no component in tariff %(tariff)s."),
)
_rule(
    "NOT_IN_TARIFF",
    r"(?P<type>\S+) claims have no component in no tariff in force on (?P<day>\S+)",
    N_("Claims of type %(type)s cannot be paid: no tariff is in force on %(day)s."),
)
_rule(
    "EXTRAORDINARY",
    rf"requested (?P<amount>{NUMBER}): (?P<motivation>.*)",
    N_("%(amount)s kr requested: %(motivation)s"),
    amount="kr",
)
for _code in ("SIP_DUPLICATE", "LMG_ALREADY_PAID", "TEAM_COUNT_CAP"):
    _rule(
        _code,
        r"limit (?P<count>\d+) per (?P<per>\S+) reached \(paid: (?P<paid>.+)\)",
        N_("The limit of %(count)s per %(per)s is reached (already paid: %(paid)s)."),
        count="int",
        per="per",
    )
    _rule(
        _code,
        r"limit (?P<count>\d+) per (?P<per>\S+) reached",
        N_("The limit of %(count)s per %(per)s is reached."),
        count="int",
        per="per",
    )
_rule(
    "LATE_DATA",
    rf"(?P<period>\S+) changed after it was settled; recomputed, it differs from what was paid by (?P<diff>{NUMBER}) kr: (?P<changes>.*)",
    N_(
        "%(period)s changed after it was settled: recomputed, it differs from what was paid by %(diff)s kr (%(changes)s)."
    ),
    diff="kr",
)

# What a claim limit counts within (the tariff's `limit.per`).
PER = {
    "customer_provider_date": N_("customer, provider and day"),
    "customer_calendar_year": N_("customer and calendar year"),
    "provider_period": N_("provider and month"),
}


def _shown(kind: str, value: str, locale: str, i18n: Translations) -> str:
    if kind == "min":
        return format_decimal(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP), locale=locale)
    if kind in ("pct", "share"):
        percent = Decimal(value) * (100 if kind == "share" else 1)
        return format_decimal(percent.quantize(Decimal(1), ROUND_HALF_UP), locale=locale)
    if kind == "kr":
        return format_decimal(
            Decimal(value), format="+#,##0.00;-#,##0.00" if value[0] in "+-" else "#,##0.00", locale=locale
        )
    if kind == "int":
        return format_decimal(int(value), locale=locale)
    if kind == "per":
        return i18n.gettext(PER[value]) if value in PER else value
    return value


def sentence(code: str, text: str, locale: str, i18n: Translations) -> str | None:
    """One engine text as the catalogue's sentence, or None where no rule of the code reads it."""
    for pattern, message, kinds in RULES.get(code, []):
        if found := pattern.match(text):
            parts = {k: _shown(kinds.get(k, ""), v, locale, i18n) for k, v in found.groupdict().items()}
            return i18n.gettext(message) % parts
    return None


def explain(code: str, detail: str, locale: str, i18n: Translations) -> str:
    """The engine's `detail` of a `code` finding as sentences of the catalogue, or as it is."""
    whole = sentence(code, detail, locale, i18n)
    if whole is not None:
        return whole
    return " ".join(sentence(code, part, locale, i18n) or part for part in detail.split("; "))
