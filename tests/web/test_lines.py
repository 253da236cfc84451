"""The lines page without a browser: the period's totals, its lines a page at a time."""

from __future__ import annotations

import re
from decimal import Decimal

from service.web import lines as lines_page
from tests.conftest import auth
from tests.web.test_queue import PERIOD, month  # noqa: F401  (the fixture)

TRAIL = re.compile(r'<a href="/lines/([0-9a-f-]{36})">')


async def test_lines_come_a_page_at_a_time_with_the_periods_totals(client, month, monkeypatch):  # noqa: F811
    api = (await client.get(f"/v1/discrepancies?period={PERIOD}&limit=1", headers=auth(month))).json()
    provider = api["items"][0]["provider"]
    whole = (await client.get(f"/v1/periods/{PERIOD}/providers/{provider}/lines", headers=auth(month))).json()
    monkeypatch.setattr(lines_page, "PER_PAGE", 3)
    seen, number = [], 1
    while True:
        html = (await client.get(f"/lines?period={PERIOD}&provider={provider}&page={number}")).text
        listed = re.search(r"<caption>Rader</caption>.*?</table>", html, re.S).group(0)
        seen += TRAIL.findall(listed)
        assert f"{whole['total']}".replace(".", ",") in html.replace("\xa0", "").replace(" ", "")
        if "Nästa sida" not in html:
            break
        number += 1
    assert number == -(-len(whole["lines"]) // 3) > 1
    assert seen == [x["id"] for x in whole["lines"]]


TOTAL_ROW = re.compile(r'<tr><th scope="row">([^<]+)</th><td class="num">([^<]+)</td></tr>')


async def test_the_pages_totals_are_the_sums_of_the_periods_lines(client, month, monkeypatch):  # noqa: F811
    """The page sums in the database; the API's lines, reductions and adjustments (read and added up
    here) must agree, per component and in all, whichever page is shown."""
    provider = "exempel-omsorg"
    whole = (await client.get(f"/v1/periods/{PERIOD}/providers/{provider}/lines", headers=auth(month))).json()
    assert len(whole["lines"]) > 3 and whole["reductions"]
    expected: dict[str, Decimal] = {}
    for x in (*whole["lines"], *whole["reductions"], *whole["adjustments"]):
        expected[x["component"]] = expected.get(x["component"], Decimal(0)) + Decimal(x["amount"])
    assert sum(expected.values()) == Decimal(whole["total"]) > 0
    monkeypatch.setattr(lines_page, "PER_PAGE", 3)
    for number in (1, 2):
        html = (await client.get(f"/lines?period={PERIOD}&provider={provider}&page={number}")).text
        table = re.search(r"<caption>Summor per komponent</caption>.*?</table>", html, re.S).group(0)
        body = re.search(r"<tbody>.*?</tbody>", table, re.S).group(0)
        shown = {c: _amount(a) for c, a in TOTAL_ROW.findall(body)}
        assert {c: a for c, a in shown.items() if a} == {c: a for c, a in expected.items() if a}
        footer = re.search(r'<tfoot>.*?class="num">([^<]+)</td>', table, re.S).group(1)
        assert _amount(footer) == Decimal(whole["total"])


def _amount(text: str) -> Decimal:
    """An amount as the Swedish page writes it (1 234,50, with any kind of space)."""
    return Decimal(re.sub(r"\s", "", text).replace("\u2212", "-").replace(",", "."))
