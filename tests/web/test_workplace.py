"""The workplace in a real browser, as an administrator meets it: log in, run the worked month, decide
in the queue (one in place, the rest in bulk), run again, prepare as one user, be refused attesting
as the same user, attest as another, download the CSV, open the follow-up, the comparison, the
tariffs and a line's trail; the auditor reads the audit log; switch language, log out. Every screen
passes axe (no serious or critical finding)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from service.domain.principal import Principal
from service.scenario_load import load_scenario
from service.usecases import keys
from tests.api.test_load_worked_month import SCENARIO, scenario_keys
from tests.web.axe import assert_accessible
from tests.web.users import create_user, sign_in

# SCREENSHOTS=docs/screenshots makes this test save a picture of each screen (docs/workplace.md).
SCREENSHOTS = os.environ.get("SCREENSHOTS")


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=Path(SCREENSHOTS) / f"{name}.png", full_page=True)


PERIOD = "2024-03"
PROVIDER = "exempel-omsorg"


@pytest.fixture
async def month(server, conn):
    """The worked month loaded through the API, and two invoice administrators."""
    async with httpx.AsyncClient(base_url=server, timeout=120) as client:
        keys = await scenario_keys(client, conn)
        await load_scenario(client, SCENARIO, keys)
    for username, name, role in [
        ("anna", "Anna Andersson", "invoice_admin"),
        ("bo", "Bo Berg", "invoice_admin"),
        ("ines", "Ines Isaksson", "auditor"),
    ]:
        await create_user(conn, username, role, name)


async def log_in(page: Page, username: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    await sign_in(page, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Logga ut").click()
    await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")


async def run_month(page: Page, provider: str | None = None) -> None:
    await page.get_by_role("link", name="Avstämning").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Avstämning")
    await page.get_by_label("Period (ÅÅÅÅ-MM)").fill(PERIOD)
    if provider:
        await page.get_by_label("Utförare").select_option(provider)
    await page.get_by_role("button", name="Starta körningen").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Körning av {PERIOD}")
    # Its progress until it is stored (tests/web/test_runs.py), then its result.
    await expect(page.get_by_role("table", name="Summor per utförare")).to_be_visible(timeout=60_000)


async def test_a_month_from_the_first_run_to_an_attested_settlement(page: Page, server, month, conn):
    await page.goto("/login")
    await assert_accessible(page)
    await shot(page, "01-logga-in")
    await log_in(page, "anna")
    await expect(page.get_by_text("Ingen månad har stämts av ännu.")).to_be_visible()
    await assert_accessible(page)

    await run_month(page)
    await expect(page.get_by_role("table", name="Summor per utförare")).to_contain_text(PROVIDER)
    await assert_accessible(page)
    await shot(page, "03-avstamning")
    await page.get_by_role("link", name="Översikt").click()
    overview = page.get_by_role("table")
    await expect(overview).to_contain_text("Avgör de blockerande avvikelserna")
    await assert_accessible(page)
    await shot(page, "02-oversikt")

    # One discrepancy opened in place and decided there: the extraordinary claim, with its amount.
    await page.goto(f"/discrepancies?period={PERIOD}&provider={PROVIDER}&code=EXTRAORDINARY")
    await assert_accessible(page)
    await page.get_by_role("button", name="Visa").click()
    await expect(page.get_by_role("table", name="Sida 1 av 1")).to_contain_text("2 500,00")  # requested
    record = page.locator(".record")
    await expect(record).to_contain_text("EXTRAORDINARY")
    await assert_accessible(page)
    await shot(page, "05-avvikelse-pa-plats")
    await record.get_by_label("Godkänn").check()
    await record.get_by_label("Skäl med egna ord").fill("Styrkt med kvitto")
    await record.get_by_label("Belopp som betalas").fill("2000.00")
    await record.get_by_role("button", name="Spara beslutet").click()
    await expect(page.locator(".record")).to_contain_text("Beslutat: godkänd")
    await expect(page.locator(".record")).to_contain_text("Styrkt med kvitto")

    # A customer behind a row (a read of personal data, audited).
    await page.goto(f"/discrepancies?period={PERIOD}&provider={PROVIDER}&kind=blocking&status=open")
    await page.locator("table.queue a[href^='/customers/']").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Kund")
    await expect(page.get_by_role("table", name="Val av utförare")).to_contain_text(PROVIDER)
    await assert_accessible(page)
    await shot(page, "07-kund")
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'customer.read'") == 1

    # The rest in bulk, with one common reason; the filters are in the URL.
    await page.goto(f"/discrepancies?period={PERIOD}&provider={PROVIDER}&kind=blocking&status=open")
    await shot(page, "04-avvikelser")
    picks = page.locator("input[name=id]")
    count = await picks.count()
    assert count == 9
    for i in range(count):
        await picks.nth(i).check()
    bulk = page.locator("form#bulk")
    await bulk.get_by_label("Godkänn").check()
    await bulk.get_by_label("Vanligt skäl").select_option(
        label="Kontrollerat med utföraren: besöket utfördes"
    )
    await bulk.get_by_role("button", name="Besluta om de valda").click()
    await expect(page.locator("#outcomes")).to_contain_text("Beslutade 9 av 9.")
    await assert_accessible(page)
    await shot(page, "06-avvikelser-beslutade")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Exportera som CSV").click()
    csv = (await (await download.value).path()).read_text(encoding="utf-8-sig")
    assert csv.splitlines()[0].startswith("period;provider;code")

    # Decisions apply from the next run; then anna prepares, and may not attest her own.
    await run_month(page, PROVIDER)
    await page.get_by_role("link", name="Attest").click()
    await page.get_by_label("Period (ÅÅÅÅ-MM)").fill(PERIOD)
    await page.get_by_label("Utförare").fill(PROVIDER)
    await page.get_by_role("button", name="Förbered").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Attest {PROVIDER} {PERIOD}")
    await expect(page.get_by_text("förberedd, väntar på attest")).to_be_visible()
    await assert_accessible(page)
    await shot(page, "08-attest-forberedd")
    settlement_url = page.url
    await page.get_by_role("button", name="Attestera").click()
    await expect(page.get_by_role("alert")).to_contain_text("en annan fakturahandläggare måste attestera")
    assert await conn.fetchval("SELECT status FROM settlements") == "prepared"
    # Nor through a key made for her: four eyes holds per person, whatever mix of session and key.
    async with conn.transaction():
        _, key = await keys.create(conn, Principal.cli("kson", "test"), role="invoice_admin", user="anna")
    async with httpx.AsyncClient(base_url=server) as client:
        refused = await client.post(
            f"/v1/settlements/{settlement_url.rsplit('/', 1)[1]}/attestation",
            headers={"Authorization": f"Bearer {key}"},
        )
    assert refused.status_code == 409 and "four eyes" in refused.json()["detail"]
    await log_out(page)

    await log_in(page, "bo")
    await page.goto(settlement_url)
    await page.get_by_role("button", name="Attestera").click()
    await expect(page.get_by_text("SHA-256")).to_be_visible()
    await shot(page, "09-attest-attesterad")
    row = await conn.fetchrow("SELECT status, prepared_by, attested_by FROM settlements")
    assert dict(row) == {"status": "settled", "prepared_by": "anna", "attested_by": "bo"}
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Ladda ner CSV-filen").click()
    assert (await download.value).suggested_filename == f"kundval-{PROVIDER}-{PERIOD}.csv"

    # The follow-up: graph 1 against the 85 % line, and payout per area, each beside its table.
    await page.get_by_role("link", name="Uppföljning").click()
    await page.get_by_label("Första månaden (ÅÅÅÅ-MM)").fill(PERIOD)
    await page.get_by_role("button", name="Visa").click()
    await expect(
        page.get_by_role("img", name="Andel utförd av beviljad tid, Exempel Omsorg AB")
    ).to_be_visible()
    await expect(page.get_by_role("img", name="Utbetalning per område, Exempel Omsorg AB")).to_be_visible()
    await expect(page.locator("svg.chart").first).to_contain_text("mål 85 %")
    await expect(page.get_by_role("table", name="Andel utförd av beviljad tid").first).to_contain_text(PERIOD)
    await assert_accessible(page)
    await shot(page, "12-uppfoljning")

    # The month under two tariffs side by side (what-if runs), the totals charted beside the table.
    await page.get_by_role("link", name="Jämför modeller").click()
    await page.get_by_label("Period (ÅÅÅÅ-MM)").fill(PERIOD)
    await page.get_by_label("Jämförelsetaxa").select_option("kson-2024")
    await page.get_by_label("Jämförd med").select_option("kson-2024-utford")
    await page.get_by_role("button", name="Prissätt på nytt med aktuella uppgifter").click()
    await expect(page).to_have_url(
        re.compile(r"/compare\?period=2024-03&tariff=kson-2024&tariff=kson-2024-utford$")
    )
    tenant = page.get_by_role("table", name="Hela huvudmannen")
    await expect(tenant).to_contain_text("kson-2024-utford")
    await expect(page.get_by_role("img", name=f"Totalt med varje taxa, {PERIOD}")).to_be_visible()
    await assert_accessible(page)
    await shot(page, "13-jamfor-modeller")

    # The tariff versions: the one in force, and the two the comparison priced under.
    await page.get_by_role("link", name="Tariffer").click()
    versions = page.get_by_role("table", name="Taxeversioner")
    in_force = versions.locator("tr", has=page.get_by_role("rowheader", name="kson-2024", exact=True))
    await expect(in_force).to_contain_text("active")
    await expect(versions).to_contain_text("kson-2024-utford")
    await assert_accessible(page)
    await shot(page, "14-tariffer")
    await page.goto(settlement_url)

    # A line's trail.
    await page.get_by_role("link", name="Raderna och deras spår").click()
    await expect(page).to_have_url(re.compile(rf"/lines\?period={PERIOD}&provider={PROVIDER}"))
    await assert_accessible(page)
    await shot(page, "10-fakturarader")
    await page.get_by_role("link", name="Spår 1", exact=True).click()
    await expect(page.get_by_role("heading", level=2, name="Spår")).to_be_visible()
    await assert_accessible(page)
    await shot(page, "11-fakturarad-spar")

    # The auditor reads the log: who attested, and the chain whole.
    await log_out(page)
    await log_in(page, "ines")
    await page.get_by_role("link", name="Granskningslogg").click()
    await page.get_by_label("Vad (åtgärd)").fill("settlement.attest")
    await page.get_by_role("button", name="Filtrera").click()
    await expect(page.get_by_role("table")).to_contain_text("bo")
    await page.get_by_role("link", name="Verifiera kedjan").click()
    await expect(page.get_by_role("status")).to_contain_text("Kedjan är hel")
    await assert_accessible(page)
    await shot(page, "15-granskningslogg")

    # English, remembered; and out.
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("link", name="Overview")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("status")).to_have_text("You are logged out.")
    await page.goto("/settlements")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettlements$"))

    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("session.login") == 3 and actions.count("session.logout") == 3
    assert "settlement.prepare" in actions and "settlement.attest" in actions
