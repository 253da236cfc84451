"""Property: replaying any mix of batches never changes what is stored, nor counts anything twice."""

import hypothesis.strategies as st
import msgspec
from hypothesis import HealthCheck, given, settings

from tests.api.ingestion import PNR_B, visit
from tests.conftest import auth

# A pool of distinct visits, each with one content, plus a changed version of some of them.
POOL = [visit(i, customer=PNR_B if i % 3 else "193805149493") for i in range(12)]
CHANGED = [{**v, "status": "declined"} for v in POOL[:4]]

batches = st.lists(
    st.tuples(
        st.lists(st.sampled_from(range(len(POOL))), max_size=8),  # rows, possibly repeated
        st.sampled_from(["json", "ndjson"]),
        st.one_of(st.none(), st.sampled_from(range(len(CHANGED)))),  # a changed row mixed in
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=batches)
async def test_replays_never_change_the_stored_counts(client, keys, conn, sequence):
    await conn.execute("DELETE FROM visits")
    stored: dict[str, str] = {}  # id -> which content is stored ("pool" or "changed")
    for rows, encoding, changed in sequence:
        batch = [("pool", POOL[i]) for i in rows] + (
            [] if changed is None else [("changed", CHANGED[changed])]
        )
        bodies = [v for _, v in batch]
        if encoding == "json":
            response = await client.post("/v1/visits", json=bodies, headers=auth(keys["provider"]))
        else:
            response = await client.post(
                "/v1/visits",
                content=b"\n".join(msgspec.json.encode(v) for v in bodies),
                headers={**auth(keys["provider"]), "Content-Type": "application/x-ndjson"},
            )
        sent: dict[str, set[str]] = {}
        for variant, v in batch:
            sent.setdefault(v["id"], set()).add(variant)
        if any(len(variants) > 1 for variants in sent.values()):
            assert response.status_code == 422, response.text  # one id, two contents in one batch
        elif any(stored.get(i, variants.copy().pop()) not in variants for i, variants in sent.items()):
            assert response.status_code == 409, response.text  # other content under a stored id
        else:
            assert response.status_code == 200, response.text
            assert response.json() == {
                "inserted": len(sent.keys() - stored.keys()),
                "unchanged": len(sent.keys() & stored.keys()),
            }
            stored.update({i: variants.pop() for i, variants in sent.items()})
        assert await conn.fetchval("SELECT count(*) FROM visits") == len(stored)
        rows_stored = await conn.fetch("SELECT external_id, status FROM visits")
        assert {r["external_id"]: r["status"] == "declined" for r in rows_stored} == {
            i: v == "changed" for i, v in stored.items()
        }
