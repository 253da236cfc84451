"""Discrepancy explanations on the pages and in the CSV: the catalogue's sentences, the same as the
API's `detail` in the same language, with whole minutes and times of day in Swedish time; every
explanation of the worked month has a sentence."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from service.web.explain import MESSAGES
from tests.conftest import auth
from tests.web.test_queue import PERIOD, month  # noqa: F401  (the fixture)

STOCKHOLM = ZoneInfo("Europe/Stockholm")


async def _api(client, key, language="sv", **params):
    response = await client.get(
        "/v1/discrepancies",
        params={"period": PERIOD, "limit": 500, **params},
        headers=auth(key) | {"Accept-Language": language},
    )
    return response.json()["items"]


async def test_every_explanation_of_the_worked_month_is_a_sentence(client, month):  # noqa: F811
    found = await _api(client, month)
    assert found
    for d in found:
        assert d["parameters"], d
        for part in d["parameters"]:
            assert frozenset(part) in {names for names, _ in MESSAGES[d["code"]]}, d


async def test_a_page_shows_the_sentence_with_local_time_and_whole_minutes(client, month):  # noqa: F811
    (long_visit,) = await _api(client, month, code="LONG_VISIT")
    (part,) = long_visit["parameters"]
    minutes = Decimal(part["minutes"]).quantize(Decimal(1), ROUND_HALF_UP)
    start, end = (datetime.fromisoformat(part[k]).astimezone(STOCKHOLM) for k in ("start", "end"))
    assert start.date() == end.date()  # the worked month's long visit ends the day it starts
    months = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
              "oktober", "november", "december"]  # fmt: skip
    expected = (
        f"Besöket ({start.day} {months[start.month - 1]} {start.year} {start:%H:%M}–{end:%H:%M}) "
        f"varade {minutes} minuter, mer än 8 timmar."
    )
    assert long_visit["detail"] == expected

    queue = (await client.get(f"/discrepancies?period={PERIOD}&code=LONG_VISIT")).text
    assert expected in queue
    in_place = (await client.get(f"/discrepancies/{long_visit['id']}", headers={"HX-Request": "true"})).text
    assert expected in in_place

    english = (await client.get(f"/discrepancies?period={PERIOD}&code=LONG_VISIT&lang=en")).text
    (api_en,) = await _api(client, month, "en", code="LONG_VISIT")
    assert api_en["detail"].startswith("The visit (") and f"lasted {minutes} minutes" in api_en["detail"]
    assert html.escape(api_en["detail"]) in english


async def test_the_csv_explains_as_the_page_does(client, month):  # noqa: F811
    body = (await client.get(f"/discrepancies.csv?period={PERIOD}")).content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    api = {(d["record"], d["code"]): d["detail"] for d in await _api(client, month)}
    assert rows and {(r["record"], r["code"]): r["detail"] for r in rows} == api
    shares = [r["detail"] for r in rows if r["code"] == "LOW_PERFORMED_SHARE"]
    assert shares and all("beviljade minuter utfördes" in x and "," not in x for x in shares)  # whole minutes
