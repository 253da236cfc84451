"""`kundval demo`: the worked month into the running service through its API, and two demo
administrators who can log in at once."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from service import scenario_synth
from service.cli import main
from tests.web.users import sign_in


async def test_demo_loads_the_month_and_makes_two_administrators(
    page: Page, server, database_url, conn, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    code = await asyncio.to_thread(main, ["demo", "--url", server])
    out = capsys.readouterr().out
    assert code == 0, out
    assert await conn.fetchval("SELECT count(*) FROM visits") > 0
    assert (
        await conn.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 0
    )  # made for the load only
    users = {r["username"]: r["role"] for r in await conn.fetch("SELECT username, role FROM users")}
    assert users == {"anna": "invoice_admin", "bo": "invoice_admin"}
    password = re.search(r"user anna \(Anna Andersson, invoice_admin\), password: (\S+)", out).group(1)

    await page.goto("/login")
    await sign_in(page, "anna", password)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


async def test_demo_with_a_generated_month_loads_it_beside_the_worked_month(
    server, database_url, conn, monkeypatch, capsys
):
    """--norrtalje at a small size (--customers): the benchmarks' generated month, whole, in a service
    that already holds the worked month."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["demo", "--url", server]) == 0
    worked = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("customers", "visits", "claims")}
    capsys.readouterr()
    month = scenario_synth.generate(customers=40, providers=5)
    code = await asyncio.to_thread(main, ["demo", "--url", server, "--norrtalje", "--customers", "40"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"loaded a generated month 2024-03 (40 customers, 5 providers, {len(month.visits)} visits)" in out
    assert "user anna not made" in out  # made by the first demo
    assert await conn.fetchval("SELECT count(*) FROM customers") == worked["customers"] + 40
    assert await conn.fetchval("SELECT count(*) FROM visits") == worked["visits"] + len(month.visits)
    assert await conn.fetchval("SELECT count(*) FROM claims") == worked["claims"] + len(month.claims)
    assert await conn.fetchval("SELECT count(*) FROM decisions WHERE id LIKE 'ND%'") == len(month.decisions)
    providers = {r["id"] for r in await conn.fetch("SELECT id FROM providers")}
    assert providers == {"exempel-omsorg", "skargardens-vard"} | {p for p, _, _ in month.providers}
    assert await conn.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 0


def test_demo_sizes_only_a_generated_month(capsys):
    assert main(["demo", "--customers", "40"]) == 1
    assert "--customers sizes the generated month: give it with --norrtalje" in capsys.readouterr().err
