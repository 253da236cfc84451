"""Discrepancy explanations on the pages: the catalogue's sentences with whole minutes and per cent,
for every text the engine writes in the worked month; an unknown text is shown as it is."""

from __future__ import annotations

from service.web.explain import RULES, explain, sentence
from service.web.i18n import translate
from tests.conftest import auth
from tests.web.test_queue import PERIOD, month  # noqa: F401  (the fixture)

SV, EN = translate("sv"), translate("en")


def test_the_engines_figures_become_whole_minutes_and_per_cent():
    text = "performed 1495.0000 of granted 1893.7299 minutes (78.9447 %)"
    assert explain("LOW_PERFORMED_SHARE", text, "sv", SV) == (
        "1\xa0495 av 1\xa0894 beviljade minuter utfördes (79 %)."
    )
    assert (
        explain("LOW_PERFORMED_SHARE", text, "en", EN)
        == "1,495 of 1,894 granted minutes were performed (79 %)."
    )
    cap = "paid 35.0000 min > cap 31.2000 min (= 0.13 x 240.0000 bistand min)"
    assert explain("DELEGATED_CAP", cap, "sv", SV) == (
        "35 minuter betalas, över taket på 31 minuter (13 % av 240 minuter bistand)."
    )
    both = "the registry does not know the customer; a text no rule knows"
    assert (
        explain("UNKNOWN_CUSTOMER", both, "sv", SV)
        == "Kunden finns inte i kundregistret. a text no rule knows"
    )


async def test_every_explanation_of_the_worked_month_is_a_sentence(client, month):  # noqa: F811
    found = (await client.get(f"/v1/discrepancies?period={PERIOD}&limit=500", headers=auth(month))).json()[
        "items"
    ]
    assert found
    for d in found:
        assert d["code"] in RULES
        parts = [d["detail"]] if sentence(d["code"], d["detail"], "sv", SV) else d["detail"].split("; ")
        assert all(sentence(d["code"], part, "sv", SV) for part in parts), d
    page = (await client.get(f"/discrepancies?period={PERIOD}&code=LOW_PERFORMED_SHARE")).text
    assert "beviljade minuter utfördes" in page and "performed" not in page
