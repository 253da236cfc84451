"""Discrepancy explanations from the catalogue (service/web/explain.py): every sentence of every code
in Swedish and English, with whole minutes and per cent, kronor, dates as the language writes them
and times of day in Swedish time; a provider's own view says "you" where the other views name the
provider; a discrepancy stored before its parameters were kept shows the text it was stored with."""

from __future__ import annotations

import pytest

from service.domain.discrepancies import CODES, LIMIT_CODES
from service.web.explain import MESSAGES, explainer
from service.web.i18n import accepted_locale

SV, EN = explainer("sv"), explainer("en")
NBSP = "\xa0"
# 2024-03-05 07:00 UTC is 08:00 in Stockholm (winter time); 2024-03-31 is the first day of summer time.
WINTER = {"start": "2024-03-05T07:00:00+00:00", "end": "2024-03-05T16:30:00+00:00"}
SUMMER = {
    "start": "2024-03-30T16:00:00+00:00",
    "end": "2024-03-31T01:30:00+00:00",
}  # over midnight and into summer time

# (code, parameters, Swedish, English)
CASES = [
    (
        "UNKNOWN_CUSTOMER",
        {},
        "Kunden finns inte i kundregistret.",
        "The customer register does not know the customer.",
    ),
    (
        "NOT_CHOSEN_PROVIDER",
        {"provider": "prov-a", "day": "2024-03-14"},
        "prov-a är inte kundens valda utförare den 14 mars 2024.",
        "prov-a is not the customer's chosen provider on March 14, 2024.",
    ),
    (
        "NOT_CHOSEN_PROVIDER",
        {"day": "2024-03-14"},
        "Ni är inte kundens valda utförare den 14 mars 2024.",
        "You are not the customer's chosen provider on March 14, 2024.",
    ),
    (
        "NOT_CHOSEN_PROVIDER",
        {"provider": "prov-a", "days": ["2024-03-01..2024-03-09", "2024-03-16..2024-03-16"]},
        "prov-a är inte kundens valda utförare de inskrivna dagarna 1 mars 2024–9 mars 2024 och 16 mars 2024, "
        "som inte ger någon listningsersättning.",
        "prov-a is not the customer's chosen provider on the enrolled days March 1, 2024–March 9, 2024 and "
        "March 16, 2024, which earn no listing fee.",
    ),
    (
        "NOT_CHOSEN_PROVIDER",
        {"days": ["2024-03-16..2024-03-31"]},
        "Ni är inte kundens valda utförare de inskrivna dagarna 16 mars 2024–31 mars 2024, som inte ger någon "
        "listningsersättning.",
        "You are not the customer's chosen provider on the enrolled days March 16, 2024–March 31, 2024, which "
        "earn no listing fee.",
    ),
    (
        "NO_ENROLMENT",
        {"areas": ["hemsjukvard", "hemrehab"], "provider": "prov-a", "day": "2024-03-15"},
        "Kunden är inte inskriven för hemsjukvård eller hemrehabilitering hos prov-a den 15 mars 2024.",
        "The customer has no home health care or home rehabilitation enrolment with prov-a on March 15, 2024.",
    ),
    (
        "NO_ENROLMENT",
        {"areas": ["hemrehab"], "day": "2024-03-15"},
        "Kunden är inte inskriven för hemrehabilitering hos er den 15 mars 2024.",
        "The customer has no home rehabilitation enrolment with you on March 15, 2024.",
    ),
    (
        "NO_REMISS",
        {"area": "hemsjukvard"},
        "Inskrivningen för hemsjukvård saknar remiss, så listningsersättningen hålls inne.",
        "The home health care enrolment has no referral, so its listing fee is held.",
    ),
    (
        "DURING_PAUSE",
        {"day": "2024-03-12", "pauses": ["P1", "P2"]},
        "Kunden har uppehåll den 12 mars 2024 (uppehåll P1 och P2).",
        "The customer has a pause on March 12, 2024 (pause P1 and P2).",
    ),
    (
        "DURING_PAUSE",
        {"day": "2024-03-12"},
        "Kunden har ett uppehåll den 12 mars 2024.",
        "The customer has a pause on March 12, 2024.",
    ),
    (
        "STAFF_CATEGORY",
        {"category": "undersköterska", "report_type": "hsl"},
        "Personal i kategori undersköterska får inte registrera besök av typen hsl.",
        "Staff of category undersköterska may not register hsl visits.",
    ),
    (
        "OVERLAP",
        {"staff": "S2", **WINTER, "visits": ["V10", "V11"]},
        "Medarbetaren S2 var också på V10 och V11 under det här besöket (5 mars 2024 08:00–17:30).",
        "Staff member S2 was also on V10 and V11 during this visit (March 5, 2024 8:00\u202fAM–5:30\u202fPM).",
    ),
    (
        "DUPLICATE",
        {"start": WINTER["start"], "visit": "D9"},
        "Samma kund, medarbetare, rapporttyp och starttid (5 mars 2024 08:00) som D9, som kom in först.",
        "Same customer, staff member, report type and start (March 5, 2024 8:00\u202fAM) as D9, which arrived first.",
    ),
    (
        "MANUAL_REGISTRATION",
        {"components": ["omsorg"]},
        "Registrerat för hand på en komponent som betalas efter utförd tid (omsorg).",
        "Registered by hand on a component paid by performed time (omsorg).",
    ),
    (
        "LONG_VISIT",
        {**SUMMER, "minutes": "570.0000", "hours": 8},
        "Besöket (30 mars 2024 17:00–31 mars 2024 03:30) varade 570 minuter, mer än 8 timmar.",
        "The visit (March 30, 2024 5:00\u202fPM–March 31, 2024 3:30\u202fAM) lasted 570 minutes, more than 8 hours.",
    ),
    (
        "GRANTED_WITHOUT_VISITS",
        {"granted_minutes": "96.4286", "month": "2024-03"},
        "96 minuter beviljades för mars 2024, men inget betalbart biståndsbesök utfördes och inget uppehåll fanns.",
        "96 minutes were granted in March 2024, but no payable bistånd visit was performed and there was no pause.",
    ),
    (
        "LOW_PERFORMED_SHARE",
        {"performed_minutes": "1495.0000", "granted_minutes": "1893.7299", "percent": "78.9447"},
        f"1{NBSP}495 av 1{NBSP}894 beviljade minuter utfördes (79 %).",
        "1,495 of 1,894 granted minutes were performed (79 %).",
    ),
    (
        "BELOW_MINIMUM_SHARE",
        {
            "performed_minutes": "700.5000",
            "granted_minutes": "1000.0000",
            "percent": "70.0500",
            "minimum_percent": "80.00",
        },
        "701 av 1\xa0000 beviljade minuter utfördes (70 %), under lägsta andelen 80 %.",
        "701 of 1,000 granted minutes were performed (70 %), below the minimum of 80 %.",
    ),
    (
        "DELEGATED_CAP",
        {
            "paid_minutes": "35.0000",
            "cap_minutes": "31.2000",
            "share_percent": "13.00",
            "basis_minutes": "240.0000",
            "report_type": "bistand",
        },
        "35 minuter betalas, över taket på 31 minuter (13 % av 240 minuter bistand).",
        "35 minutes are paid, over the cap of 31 minutes (13 % of 240 bistand minutes).",
    ),
    (
        "TEAM_AMOUNT_CAP",
        {"total_amount": "6000.00", "cap_amount": "5000.00"},
        f"6{NBSP}000,00 kr är över taket på 5{NBSP}000,00 kr.",
        "6,000.00 kr is over the cap of 5,000.00 kr.",
    ),
    (
        "EXTRAORDINARY",
        {"requested_amount": "2500.00", "motivation": "Dubbelbemanning vid förflyttning"},
        f"2{NBSP}500,00 kr begärs: Dubbelbemanning vid förflyttning",
        "2,500.00 kr requested: Dubbelbemanning vid förflyttning",
    ),
    (
        "DECLINED_VISITS",
        {"visits": ["V06"]},
        "Avböjda besök: V06.",
        "Declined visits: V06.",
    ),
    (
        "NOT_IN_TARIFF",
        {"type": "sip", "tariff": "kson-2021"},
        "Anspråk av typen sip har ingen komponent i tariffen kson-2021.",
        "Claims of type sip have no component in tariff kson-2021.",
    ),
    (
        "NOT_IN_TARIFF",
        {"type": "sip", "day": "2023-12-31"},
        "Anspråk av typen sip kan inte betalas: ingen tariff gäller den 31 december 2023.",
        "Claims of type sip cannot be paid: no tariff is in force on December 31, 2023.",
    ),
    (
        "SIP_DUPLICATE",
        {"count": 1, "per": "customer_provider_date", "paid": [{"claim": "K1", "provider": "prov-b"}]},
        "Gränsen 1 per kund, utförare och dag är nådd (redan betalt: K1 av prov-b).",
        "The limit of 1 per customer, provider and day is reached (already paid: K1 by prov-b).",
    ),
    (
        "LMG_ALREADY_PAID",
        {"count": 1, "per": "customer_calendar_year", "own": ["K1"]},
        "Gränsen 1 per kund och kalenderår är nådd (redan betalt: era K1).",
        "The limit of 1 per customer and calendar year is reached (already paid: your K1).",
    ),
    (
        "TEAM_COUNT_CAP",
        {"count": 4, "per": "provider_period"},
        "Gränsen 4 per utförare och månad är nådd.",
        "The limit of 4 per provider and month is reached.",
    ),
    (
        "LATE_DATA",
        {
            "period": "2024-03",
            "difference_amount": "+2080.55",
            "changes": [
                {
                    "component": "omsorg",
                    "customer": "K-7",
                    "zone": "tatort",
                    "tariff": "kson-2024",
                    "paid_amount": "6110.00",
                    "recomputed_amount": "8146.67",
                    "difference_amount": "+2036.67",
                },
                {
                    "component": "delegerad_ovrig",
                    "reduction": "cap",
                    "tariff": "kson-2024",
                    "paid_amount": "-65.90",
                    "recomputed_amount": "-96.35",
                    "difference_amount": "-30.45",
                },
            ],
        },
        "mars 2024 ändrades efter att perioden reglerats: omräknad skiljer den sig med +2\xa0080,55 kr från det "
        "som betalades (omsorg, K-7, tatort, kson-2024: 6\xa0110,00 kr → 8\xa0146,67 kr (+2\xa0036,67 kr); "
        "delegerad_ovrig, reduktion cap, kson-2024: -65,90 kr → -96,35 kr (-30,45 kr)).",
        "March 2024 changed after it was settled: recomputed, it differs from what was paid by +2,080.55 kr "
        "(omsorg, K-7, tatort, kson-2024: 6,110.00 kr → 8,146.67 kr (+2,036.67 kr); "
        "delegerad_ovrig, cap reduction, kson-2024: -65.90 kr → -96.35 kr (-30.45 kr)).",
    ),
]


@pytest.mark.parametrize(("code", "part", "sv", "en"), CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_each_sentence_in_swedish_and_english(code, part, sv, en):
    assert SV(code, [part], None) == sv
    assert EN(code, [part], None) == en


def test_every_code_and_every_sentence_is_covered():
    assert set(MESSAGES) == set(CODES)
    covered = {(code, frozenset(part)) for code, part, _, _ in CASES}
    limits = set(LIMIT_CODES.values())  # they share their sentences: each is checked under one of them
    assert {
        (c, names) for c, messages in MESSAGES.items() for names, _ in messages if c not in limits
    } <= covered
    assert {names for c, names in covered if c in limits} == {names for names, _ in MESSAGES["SIP_DUPLICATE"]}


def test_a_finding_found_twice_is_two_sentences():
    part = {
        "paid_minutes": "35",
        "cap_minutes": "31.2",
        "share_percent": "13",
        "basis_minutes": "240",
        "report_type": "x",
    }
    assert SV("DELEGATED_CAP", [part, part], None) == " ".join([SV("DELEGATED_CAP", [part], None)] * 2)


def test_stored_before_parameters_the_text_it_was_stored_with():
    text = "performed 1495.0000 of granted 1893.7299 minutes (78.9447 %)"
    assert SV("LOW_PERFORMED_SHARE", None, text) == EN("LOW_PERFORMED_SHARE", None, text) == text


def test_parameters_no_sentence_takes_are_shown_as_they_are():
    assert SV("LONG_VISIT", [{"minutes": "9"}], None) == '{"minutes":"9"}'


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "sv"),
        ("", "sv"),
        ("en", "en"),
        ("en-GB", "en"),
        ("sv-SE, en;q=0.5", "sv"),
        ("de, en;q=0.7, sv;q=0.3", "en"),
        ("en;q=0.2, sv;q=0.9", "sv"),
        ("en, sv", "en"),  # equal weights: the first
        ("en;q=0", "sv"),  # not acceptable
        ("de, fr;q=0.8", "sv"),
        ("*", "sv"),
        ("en;q=x", "sv"),
    ],
)
def test_the_apis_language_from_accept_language(header, locale):
    assert accepted_locale(header) == locale
