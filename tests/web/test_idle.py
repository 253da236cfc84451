"""Idle logout in a real browser: a session unused for longer than KUNDVAL_SESSION_IDLE (30 minutes
by default; 2 seconds here) ends, and the next click leads to the login page, which says why and
returns to where the user was."""

from __future__ import annotations

import asyncio
import re

import msgspec
import pytest
from playwright.async_api import Page, expect

from service.settings import Settings
from tests.web.axe import assert_accessible
from tests.web.users import create_user, sign_in


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, session_idle=2)


async def test_an_idle_session_ends_and_the_login_page_says_so(page: Page, conn):
    await create_user(conn, "anna", "reader", "Anna Andersson")
    await page.goto("/runs")
    await sign_in(page, "anna")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Avstämning")
    await asyncio.sleep(3)
    await page.get_by_role("link", name="Avvikelser").click()
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fdiscrepancies&expired=1$"))
    await expect(page.get_by_role("status")).to_contain_text("loggades ut efter 1 minut utan aktivitet")
    await assert_accessible(page)
    await sign_in(page, "anna")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Avvikelser")
    assert await conn.fetchval("SELECT ended_why FROM web_sessions WHERE ended_at IS NOT NULL") == "idle"
