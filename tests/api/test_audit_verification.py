"""Verification checks what settlements froze, not only the chain itself (domain.md 7b).

`kundval audit verify` and `GET /v1/audit/verification` report a chain cut back to before the head a
settlement recorded, and a settlement whose lines no longer hash to its stored SHA-256. The tampering
is done as the owner with the guards switched off: the one way left to change settled data.
"""

import asyncio
import uuid

import pytest

from service.cli import main
from service.domain.principal import Principal
from service.usecases import audit
from tests.api.test_settlements import PROVIDER, _settle
from tests.api.test_settlements import month as month  # a fixture
from tests.conftest import auth


@pytest.fixture
def verify(client, month, monkeypatch, capsys, database_url):
    """Both ways in: the command (exit code, output) and the auditor's route (its document)."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    def command():
        code = main(["audit", "verify"])
        return code, capsys.readouterr().out

    async def run():
        code, out = await asyncio.to_thread(command)
        response = await client.get("/v1/audit/verification", headers=auth(month["ic"]))
        assert response.status_code == 200, response.text
        return code, out, response.json()

    return run


async def _as_owner(conn, table, trigger, sql, *args):
    await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    await conn.execute(sql, *args)
    await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


async def _cut_chain(conn, keep):
    """Remove the chain's entries after `keep` and set its head back there, as an owner could."""
    await _as_owner(conn, "audit_log", "audit_log_append_only", "DELETE FROM audit_log WHERE seq > $1", keep)
    await conn.execute(
        "UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_log WHERE seq = $1)", keep
    )


async def test_settled_data_as_attested_verifies(client, month, verify):
    await _settle(client, month, PROVIDER)
    code, out, body = await verify()
    assert code == 0 and "intact" in out
    assert body["ok"] is True and body["problem"] is None


async def test_a_chain_cut_back_before_a_settlements_head_is_reported(client, conn, month, verify):
    settled = await _settle(client, month, PROVIDER)
    head = settled["audit_head"]["seq"]
    await _cut_chain(conn, head - 1)
    assert (await conn.fetchval("SELECT seq FROM audit_head")) == head - 1  # the walk alone passes

    code, out, body = await verify()
    assert code == 1
    assert f"settlement {settled['id']}" in out and f"recorded its head at {head}" in out
    assert body["ok"] is False and body["first_broken"] == head
    assert f"settlement {settled['id']}" in body["problem"]
    result = await audit.verify(conn, Principal(tenant_id="kson", role="auditor", name="ic"))
    assert (result.ok, result.first_broken, result.checked) == (False, head, head - 1)


async def test_a_chain_grown_again_past_a_cut_is_reported(client, conn, month, verify):
    settled = await _settle(client, month, PROVIDER)
    head = settled["audit_head"]["seq"]
    await _cut_chain(conn, head - 1)
    for _ in range(3):  # the service writes on: new entries take the removed positions
        assert (await client.get("/v1/audit/verification", headers=auth(month["ic"]))).status_code == 200
        await client.get(f"/v1/settlements/{settled['id']}", headers=auth(month["anna"]))

    code, out, body = await verify()
    assert code == 1 and f"entry {head} is not the head settlement {settled['id']} recorded" in out
    assert (body["ok"], body["first_broken"]) == (False, head)


async def test_a_head_set_back_over_entries_is_reported(client, service_conn, month, verify):
    settled = await _settle(client, month, PROVIDER)
    head = settled["audit_head"]["seq"]
    # The service writes audit_head: set back, it would leave the entries after it unchecked.
    await service_conn.execute(
        "UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_log WHERE seq = $1)", head - 1
    )
    code, out, body = await verify()
    assert code == 1 and "after its recorded head" in out
    assert (body["ok"], body["first_broken"]) == (False, head)


@pytest.mark.parametrize(
    ("table", "guard", "change", "reported"),
    [
        (
            "settlement_lines",
            "settlement_lines_immutable",
            "UPDATE settlement_lines SET account = '9999' WHERE settlement_id = $1 AND ord = 2",
            "its lines no longer hash to its SHA-256",
        ),
        (
            "settlement_lines",
            "settlement_lines_immutable",
            "UPDATE settlement_lines SET amount = amount + 1 WHERE settlement_id = $1 AND ord = 2",
            "its line 2 no longer matches the run's line it froze",
        ),
        (
            "settlement_lines",
            "settlement_lines_frozen",
            """INSERT INTO settlement_lines
               SELECT tenant_id, settlement_id, 999, run_line_id, kind, component, account, area, tariff_id,
                      pnr, zone, unit, quantity, unit_price, amount, original_period
               FROM settlement_lines WHERE settlement_id = $1 AND ord = 1""",
            "its lines no longer hash to its SHA-256",
        ),
        (
            "settlements",
            "settlements_guard",
            "UPDATE settlements SET document = jsonb_set(document, '{total}', '\"0.00\"') WHERE id = $1",
            "its stored document no longer hashes to its SHA-256",
        ),
    ],
    ids=["account of a line changed", "amount of a line's copy changed", "line added", "document changed"],
)
async def test_a_changed_settlement_is_reported(client, conn, month, verify, table, guard, change, reported):
    settled = await _settle(client, month, PROVIDER)
    await _as_owner(conn, table, guard, change, uuid.UUID(settled["id"]))
    code, out, body = await verify()
    problem = f"settlement {settled['id']} ({PROVIDER} 2024-03): {reported}"
    assert code == 1 and f"settled data of kson BROKEN: {problem}" in out
    assert (body["ok"], body["first_broken"], body["problem"]) == (False, None, problem)
