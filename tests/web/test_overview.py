"""The overview without a browser: a provider-period is marked changed since its run exactly when
changes.since says so, also now that only runs that can be stale are asked about."""

from __future__ import annotations

from tests.conftest import auth
from tests.web.test_queue import PERIOD, month  # noqa: F401  (the fixture)

CHANGED = "ändrat sedan körningen"


async def test_changed_since_the_run_follows_rulings_and_inputs(client, conn, month):  # noqa: F811
    assert CHANGED not in (await client.get("/")).text
    found = (
        await client.get(f"/v1/discrepancies?period={PERIOD}&kind=blocking&limit=5", headers=auth(month))
    ).json()
    ruled = await client.post(
        f"/v1/discrepancies/{found['items'][0]['id']}/decisions",
        json={"decision": "reject", "reason": "no record"},
        headers=auth(month),
    )
    assert ruled.status_code in (200, 201), ruled.text
    assert (await client.get("/")).text.count(CHANGED) == 1  # the one provider's period

    ran = await client.post("/v1/runs", json={"period": PERIOD}, headers=auth(month))
    assert ran.status_code == 201, ran.text
    assert CHANGED not in (await client.get("/")).text

    pnr = found["items"][0]["customer"]
    await conn.execute("UPDATE customers SET changed_seq = nextval('input_change_seq') WHERE pnr = $1", pnr)
    assert CHANGED in (await client.get("/")).text
