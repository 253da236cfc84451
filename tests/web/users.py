"""The workplace's people in the browser tests: accounts made as `kundval user create` makes them,
and the login form filled in as they would."""

from __future__ import annotations

from playwright.async_api import Page

from service.domain.principal import Principal
from service.usecases import accounts

PASSWORD = "correct horse battery staple"


async def create_user(conn, username: str, role: str, name: str | None = None) -> None:
    """An account of tenant kson with PASSWORD, named `name` (or its username)."""
    async with conn.transaction():
        await accounts.create(
            conn,
            Principal.cli("kson", "test"),
            username=username,
            role=role,
            name=name or username,
            password=PASSWORD,
        )


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in and send the login form the page shows."""
    await page.get_by_label("Användarnamn").fill(username)
    await page.get_by_label("Lösenord").fill(password)
    await page.get_by_role("button", name="Logga in").click()
