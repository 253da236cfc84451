"""Tariffer and Granskningslogg in a real browser: a version loaded by one administrator is activated
by another, never by the same person; the auditor reads the log (logins included) and verifies it."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.web.axe import assert_accessible
from tests.web.users import create_user, sign_in

SOURCE = (
    (
        __import__("service.web.assets", fromlist=["STATIC_DIR"]).STATIC_DIR.parent.parent
        / "data"
        / "tariffs"
        / "kson-2024.toml"
    )
    .read_text(encoding="utf-8")
    .replace('id = "kson-2024"', 'id = "kson-2026"')
    .replace("valid_from = 2024-02-01", "valid_from = 2026-01-01")
)


async def _users(conn) -> None:
    for username, role in [("anna", "invoice_admin"), ("bo", "invoice_admin"), ("ines", "auditor")]:
        await create_user(conn, username, role, username.title())


async def _log_in(page: Page, username: str, path: str) -> None:
    await page.goto(path)
    await sign_in(page, username)


async def test_a_tariff_is_activated_by_another_person_and_the_auditor_verifies_the_log(
    page: Page, conn, tmp_path
):
    await _users(conn)
    await _log_in(page, "anna", "/tariffs")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tariffer")
    await assert_accessible(page)
    path = tmp_path / "kson-2026.toml"
    path.write_text(SOURCE, encoding="utf-8")
    await page.get_by_label("Taxefil (TOML)").set_input_files(path)
    await page.get_by_role("button", name="Läs in").click()
    await expect(page.get_by_role("status")).to_contain_text("kson-2026 är inläst")
    await page.get_by_role("button", name="Aktivera kson-2026").click()
    await expect(page.get_by_role("alert")).to_contain_text("second invoice_admin")
    assert await conn.fetchval("SELECT status FROM tariffs WHERE id = 'kson-2026'") == "pending"
    await page.get_by_role("button", name="Logga ut").click()

    await _log_in(page, "bo", "/tariffs")
    await page.get_by_role("button", name="Aktivera kson-2026").click()
    await expect(page.get_by_role("row", name="kson-2026")).to_contain_text("active")
    await page.goto("/audit")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Inte tillåtet")  # for the auditor
    await page.get_by_role("button", name="Logga ut").click()

    await _log_in(page, "ines", "/audit")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Granskningslogg")
    await page.get_by_label("Vad (åtgärd)").fill("tariff.activate")
    await page.get_by_role("button", name="Filtrera").click()
    await expect(page.get_by_role("table")).to_contain_text("bo")
    await page.get_by_role("link", name="Verifiera kedjan").click()
    await expect(page.get_by_role("status")).to_contain_text("Kedjan är hel")
    await assert_accessible(page)
