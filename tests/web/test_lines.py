"""The lines page without a browser: the period's totals, its lines a page at a time."""

from __future__ import annotations

import re

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
