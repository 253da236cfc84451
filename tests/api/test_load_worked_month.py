"""The worked example's records load entirely through the ingestion endpoints."""

import json
from pathlib import Path

from service.scenario_load import load_scenario
from service.store import apikeys
from tests.conftest import auth

SCENARIO = json.loads(
    (Path(__file__).parent.parent / "data" / "2024-03-input.json").read_text(encoding="utf-8")
)


async def scenario_keys(client, conn, scenario=SCENARIO):
    """A registry key; the scenario's providers registered, then one key per provider (a key needs
    its provider). The `keys` fixture is not used: its providers share the scenario's orgnr."""
    _, registry = await apikeys.create(conn, tenant_id="kson", role="registry", name="registry")
    for provider in scenario["providers"]:
        response = await client.post("/v1/providers", json=provider, headers=auth(f"Bearer {registry}"))
        assert response.status_code == 201, response.text
    out = {"registry": f"Bearer {registry}"}
    for provider in scenario["providers"]:
        _, key = await apikeys.create(
            conn, tenant_id="kson", role="provider", name=provider["id"], provider_id=provider["id"]
        )
        out[provider["id"]] = f"Bearer {key}"
    return out


async def test_the_worked_month_loads_through_the_api(client, conn):
    keys = await scenario_keys(client, conn)
    await load_scenario(client, SCENARIO, keys)

    counts = {
        table: await conn.fetchval(f"SELECT count(*) FROM {table}")
        for table in (
            "customers",
            "customer_zones",
            "provider_choices",
            "decisions",
            "decision_lines",
            "executions",
            "pauses",
            "enrolments",
            "delegations",
            "visits",
            "claims",
        )
    }
    assert counts == {
        "customers": 4,
        "customer_zones": 5,
        "provider_choices": 5,
        "decisions": 4,
        "decision_lines": 6,
        "executions": 5,
        "pauses": 1,
        "enrolments": 3,
        "delegations": 2,
        "visits": 24,
        "claims": 11,
    }
    # Arrival order is the scenario's order (DUPLICATE's "first received").
    order = await conn.fetch(
        "SELECT external_id FROM visits WHERE provider_id = 'exempel-omsorg' ORDER BY received_seq"
    )
    assert [r["external_id"] for r in order] == [
        v["id"] for v in SCENARIO["visits"] if v["provider"] == "exempel-omsorg"
    ]
    executions = await conn.fetch(
        "SELECT provider_id, external_id, decision_id FROM executions ORDER BY 2, 1"
    )
    assert [tuple(r) for r in executions] == [
        ("exempel-omsorg", "D1-X1", "D1"),
        ("exempel-omsorg", "D2-X1", "D2"),
        ("skargardens-vard", "D3-X1", "D3"),
        ("exempel-omsorg", "D3-X2", "D3"),
        ("exempel-omsorg", "D4-X1", "D4"),
    ]
    k11 = await conn.fetchrow("SELECT requested_amount, motivation FROM claims WHERE external_id = 'K11'")
    assert str(k11["requested_amount"]) == "2500.00"

    # Loading it again stores nothing new: every request is an identical replay.
    await load_scenario(client, SCENARIO, keys)
    assert await conn.fetchval("SELECT count(*) FROM visits") == 24
    assert await conn.fetchval("SELECT count(*) FROM claims") == 11
