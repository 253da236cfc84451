"""Settlement with four eyes, frozen rows, export and the change feed (issue 5)."""

import asyncio
import random
import uuid

import asyncpg
import pytest

from service import db
from service.scenario_load import load_scenario
from service.store import apikeys
from service.store import settlements as store
from tests.api.test_load_worked_month import SCENARIO, scenario_keys
from tests.conftest import auth

PROVIDER = "exempel-omsorg"


@pytest.fixture
async def month(client, conn):
    """The worked month loaded through the API, with two invoice_admin keys, a reader and an auditor."""
    keys = await scenario_keys(client, conn)
    await load_scenario(client, SCENARIO, keys)
    for name, role in [
        ("anna", "invoice_admin"),
        ("bo", "invoice_admin"),
        ("finance", "reader"),
        ("ic", "auditor"),
    ]:
        _, key = await apikeys.create(conn, tenant_id="kson", role=role, name=name)
        keys[name] = f"Bearer {key}"
    return keys


async def _run(client, keys):
    response = await client.post("/v1/runs", json={"period": "2024-03"}, headers=auth(keys["anna"]))
    assert response.status_code == 201, response.text
    return response.json()


async def _decide_all(client, keys, provider):
    response = await client.get(
        f"/v1/discrepancies?period=2024-03&provider={provider}&kind=blocking&status=open",
        headers=auth(keys["anna"]),
    )
    assert response.status_code == 200, response.text
    for item in response.json()["items"]:
        body = {"decision": "approve", "reason": "checked with the provider"}
        if item["code"] == "EXTRAORDINARY":
            body["amount"] = "2000.00"
        decided = await client.post(
            f"/v1/discrepancies/{item['id']}/decisions", json=body, headers=auth(keys["anna"])
        )
        assert decided.status_code in (200, 201), decided.text


async def _settle(client, keys, provider):
    await _run(client, keys)
    await _decide_all(client, keys, provider)
    await _run(client, keys)
    prepared = await client.post(
        "/v1/settlements", json={"provider": provider, "period": "2024-03"}, headers=auth(keys["anna"])
    )
    assert prepared.status_code == 201, prepared.text
    attested = await client.post(
        f"/v1/settlements/{prepared.json()['id']}/attestation", headers=auth(keys["bo"])
    )
    assert attested.status_code == 200, attested.text
    return attested.json()


async def test_prepare_names_what_is_missing(client, month):
    refused = await client.post(
        "/v1/settlements", json={"provider": PROVIDER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    assert refused.status_code == 409
    assert refused.json()["missing"] == ["run"]

    await _run(client, month)
    refused = await client.post(
        "/v1/settlements", json={"provider": PROVIDER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    assert refused.status_code == 409
    body = refused.json()
    assert "OVERLAP:exempel-omsorg:V10" in body["undecided"]
    assert "blocking discrepancies undecided" in body["detail"]

    await _decide_all(client, month, PROVIDER)
    refused = await client.post(
        "/v1/settlements", json={"provider": PROVIDER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    assert refused.status_code == 409
    assert "decided after run" in refused.json()["detail"]


async def test_four_eyes_freeze_and_hash(client, conn, month):
    await _run(client, month)
    await _decide_all(client, month, PROVIDER)
    run = await _run(client, month)
    prepared = await client.post(
        "/v1/settlements", json={"provider": PROVIDER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    assert prepared.status_code == 201, prepared.text
    settlement_id = prepared.json()["id"]
    assert prepared.json()["status"] == "prepared"

    self_attest = await client.post(
        f"/v1/settlements/{settlement_id}/attestation", headers=auth(month["anna"])
    )
    assert self_attest.status_code == 409
    assert "four eyes" in self_attest.json()["detail"]

    attested = await client.post(f"/v1/settlements/{settlement_id}/attestation", headers=auth(month["bo"]))
    assert attested.status_code == 200, attested.text
    settled = attested.json()
    assert settled["status"] == "settled" and settled["attested_by"] == "bo"
    assert settled["run"] == run["id"]
    assert len(settled["sha256"]) == 64
    total = next(p["total"] for p in run["providers"] if p["provider"] == PROVIDER)
    assert settled["total"] == total
    assert sum(map(float, settled["totals"].values())) == pytest.approx(float(total))
    assert set(settled["accounts"]) <= {"4631", "4632", "4633", "4634", "4635", "4636", "4639"}
    head = await conn.fetchrow("SELECT seq, hash FROM audit_log WHERE seq = $1", settled["audit_head"]["seq"])
    assert head["hash"] == settled["audit_head"]["hash"]

    row = await store.get(conn, "kson", settled_id := uuid.UUID(settlement_id))
    assert store.verify(row)
    # The database itself refuses any change to settled rows.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE settlements SET total = 0 WHERE id = $1", settled_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE settlement_lines SET amount = 0 WHERE settlement_id = $1", settled_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM settlements WHERE id = $1", settled_id)

    again = await client.post(
        "/v1/settlements", json={"provider": PROVIDER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    assert again.status_code == 409 and "already settled" in again.json()["detail"]

    verified = await client.get("/v1/audit/verification", headers=auth(month["ic"]))
    assert verified.json()["ok"] is True


async def test_reader_sees_masked_lines_csv_and_feed(client, month):
    settled = await _settle(client, month, PROVIDER)
    response = await client.get(f"/v1/settlements/{settled['id']}", headers=auth(month["finance"]))
    assert response.status_code == 200
    body = response.json()
    customers = {x["customer"] for x in body["lines"] if x["customer"]}
    assert customers and not any(c.isdigit() for c in customers)  # references, never personnummer
    assert "193805149493" not in response.text
    assert {x["account"] for x in body["lines"]} <= set(body["accounts"])

    admin_view = await client.get(f"/v1/settlements/{settled['id']}", headers=auth(month["anna"]))
    assert "193805149493" in admin_view.text

    csv = await client.get(f"/v1/settlements/{settled['id']}/export.csv", headers=auth(month["finance"]))
    assert csv.status_code == 200
    assert csv.content.startswith(b"\xef\xbb\xbf")
    text = csv.content.decode("utf-8-sig")
    header, *rows = text.split("\r\n")[:-1]
    assert header.split(";")[:5] == ["period", "provider", "kind", "component", "account"]
    assert len(rows) == len(body["lines"])
    amounts = [row.split(";")[12] for row in rows]
    assert all("," in a and "." not in a for a in amounts)
    assert "193805149493" not in text

    feed = await client.get("/v1/feed", headers=auth(month["finance"]))
    assert feed.status_code == 200
    items = feed.json()["items"]
    assert [(i["position"], i["kind"], i["provider"]) for i in items] == [(1, "settlement", PROVIDER)]
    assert feed.json()["next_after"] == 1
    empty = await client.get("/v1/feed?after=1", headers=auth(month["finance"]))
    assert empty.json() == {"items": [], "next_after": 1}

    listed = await client.get("/v1/settlements?period=2024-03", headers=auth(month["finance"]))
    assert [x["provider"] for x in listed.json()["items"]] == [PROVIDER]


async def test_a_provider_sees_only_its_own_settlement(client, month):
    settled = await _settle(client, month, PROVIDER)
    other = await client.get(f"/v1/settlements/{settled['id']}", headers=auth(month["skargardens-vard"]))
    assert other.status_code == 404
    own = await client.get(f"/v1/settlements/{settled['id']}", headers=auth(month[PROVIDER]))
    assert own.status_code == 200
    listed = await client.get("/v1/settlements", headers=auth(month["skargardens-vard"]))
    assert listed.json()["items"] == []


async def test_feed_never_skips_or_repeats_under_parallel_writers(client, conn, database_url, month):
    settled = await _settle(client, month, PROVIDER)
    writers, seen = 24, []
    done = asyncio.Event()
    # A settled settlement for each writer to publish, of later months (written directly, as the owner).
    later = [
        await conn.fetchval(
            """INSERT INTO settlements (tenant_id, id, provider_id, period, run_id, status, prepared_by, total,
                                        totals, totals_by_area, accounts, tariffs)
               VALUES ('kson', gen_random_uuid(), $1, $2, $3, 'prepared', 'a', 1, '{}', '{}', '{}', '{}')
               RETURNING id""",
            PROVIDER,
            f"{2030 + n // 12}-{n % 12 + 1:02d}",
            uuid.UUID(settled["run"]),
        )
        for n in range(writers)
    ]
    await conn.execute(
        """UPDATE settlements SET status = 'settled', attested_by = 'b', attested_at = now(),
                                  sha256 = repeat('0', 64), document = '{}'
           WHERE id = ANY ($1::uuid[])""",
        later,
    )

    async def writer(n):
        c = await db.connect(database_url)
        try:
            async with c.transaction():
                await asyncio.sleep(random.random() * 0.02)
                await store.publish(c, "kson", later[n])
                # Hold the transaction open a while after taking a position: a sequence-based feed
                # would now let a later position commit first.
                await asyncio.sleep(random.random() * 0.05)
        finally:
            await c.close()

    async def poller():
        c = await db.connect(database_url)
        after = 0
        try:
            while True:
                finished = done.is_set()
                rows = await store.feed(c, "kson", after, 1000)
                for r in rows:
                    seen.append(r["position"])
                    after = r["position"]
                if finished and not rows:
                    return
                await asyncio.sleep(0.001)
        finally:
            await c.close()

    polling = asyncio.create_task(poller())
    await asyncio.gather(*(writer(n) for n in range(writers)))
    done.set()
    await polling
    assert seen == list(range(1, writers + 2))  # the settlement's own entry, then every writer's
