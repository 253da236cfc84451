"""Claims (a tagged union on `type`), withdrawal, and Idempotency-Key on single-object POSTs."""

import pytest

from tests.api.ingestion import LUHN_BAD, PNR_A, PNR_B
from tests.conftest import auth

CLAIMS = {
    "sip": {"id": "K06", "type": "sip", "date": "2024-03-07", "customer": PNR_A, "role": "lett"},
    "lakemedelsgenomgang": {
        "id": "K08",
        "type": "lakemedelsgenomgang",
        "date": "2024-03-12",
        "customer": PNR_B,
    },
    "teamkonferens": {"id": "K01", "type": "teamkonferens", "date": "2024-03-04", "customer": None},
    "extraordinar_insats": {
        "id": "K11",
        "type": "extraordinar_insats",
        "date": "2024-03-22",
        "customer": PNR_B,
        "requested_amount": "2500",
        "motivation": "Dubbelbemanning vid förflyttning efter fall, två veckor",
    },
}


@pytest.mark.parametrize("kind", sorted(CLAIMS))
async def test_each_claim_type_is_stored_idempotently(client, keys, conn, kind):
    prov = auth(keys["provider"])
    body = CLAIMS[kind]
    response = await client.post("/v1/claims", json=body, headers=prov)
    assert response.status_code == 201, response.text
    claim = response.json()
    assert claim["type"] == kind and claim["status"] == "active" and claim["provider"] == "prov-a"
    again = await client.post("/v1/claims", json=body, headers=prov)
    assert again.status_code == 200 and again.json() == claim
    other = await client.post("/v1/claims", json={**body, "date": "2024-03-29"}, headers=prov)
    assert other.status_code == 409
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1


async def test_amounts_are_money(client, keys, conn):
    prov = auth(keys["provider"])
    body = CLAIMS["extraordinar_insats"]
    created = (await client.post("/v1/claims", json=body, headers=prov)).json()
    assert created["requested_amount"] == "2500.00"
    assert (
        await client.post("/v1/claims", json={**body, "requested_amount": "2500.00"}, headers=prov)
    ).status_code == 200
    for amount in ("25.005", "-1", "0", "abc"):
        response = await client.post(
            "/v1/claims", json={**body, "id": "K12", "requested_amount": amount}, headers=prov
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "requested_amount"
    response = await client.post(
        "/v1/claims", json={**body, "id": "K13", "requested_amount": 2500}, headers=prov
    )
    assert response.status_code == 422  # a JSON number is never money


async def test_each_type_is_validated_by_its_own_fields(client, keys):
    prov = auth(keys["provider"])
    cases = [
        ({**CLAIMS["sip"], "role": "ordforande"}, "role"),
        ({k: v for k, v in CLAIMS["sip"].items() if k != "role"}, "role"),
        ({**CLAIMS["teamkonferens"], "customer": PNR_A}, "customer"),
        ({**CLAIMS["lakemedelsgenomgang"], "role": "lett"}, "role"),
        ({**CLAIMS["lakemedelsgenomgang"], "customer": LUHN_BAD}, "customer"),
        ({**CLAIMS["sip"], "type": "fika"}, "type"),
        ({**CLAIMS["extraordinar_insats"], "motivation": ""}, "motivation"),
        ({**CLAIMS["sip"], "provider": "prov-b"}, "provider"),
    ]
    for body, field in cases:
        response = await client.post("/v1/claims", json=body, headers=prov)
        assert response.status_code == 422, (body, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, (field, response.json())


async def test_a_provider_lists_and_withdraws_its_own_claims(client, keys, conn):
    prov, prov_b = auth(keys["provider"]), auth(keys["provider_b"])
    for body in CLAIMS.values():
        await client.post("/v1/claims", json=body, headers=prov)
    await client.post("/v1/claims", json=CLAIMS["teamkonferens"], headers=prov_b)
    seq = await conn.fetchval(
        "SELECT changed_seq FROM claims WHERE provider_id = 'prov-a' AND external_id = 'K06'"
    )

    withdrawn = await client.post("/v1/claims/K06/withdrawal", headers=prov)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert await conn.fetchval("SELECT changed_seq FROM claims WHERE external_id = 'K06'") > seq
    assert (await client.post("/v1/claims/K06/withdrawal", headers=prov)).json()["status"] == "withdrawn"
    assert (await client.post("/v1/claims/K06/withdrawal", headers=prov_b)).status_code == 404
    assert (await client.get("/v1/claims/K06", headers=prov_b)).status_code == 404

    own = (await client.get("/v1/claims", headers=prov)).json()["items"]
    assert {c["id"]: c["status"] for c in own} == {
        "K01": "active",
        "K06": "withdrawn",
        "K08": "active",
        "K11": "active",
    }
    assert own[1]["customer"] == "19380514-****"
    active = (await client.get("/v1/claims?status=active", headers=prov)).json()["items"]
    assert [c["id"] for c in active] == ["K01", "K08", "K11"]
    assert [c["provider"] for c in (await client.get("/v1/claims", headers=prov_b)).json()["items"]] == [
        "prov-b"
    ]
    everyone = (await client.get("/v1/claims", headers=auth(keys["invoice_admin"]))).json()["items"]
    assert len(everyone) == 5
    [entry] = await conn.fetch("SELECT * FROM audit_log WHERE action = 'claim.withdraw' ORDER BY seq LIMIT 1")
    assert entry["before"] == {"status": "active"} and entry["after"] == {"status": "withdrawn"}


async def test_idempotency_key_replays_the_first_reply(client, keys, conn):
    headers = {**auth(keys["provider"]), "Idempotency-Key": "claim-2024-03-07-1"}
    first = await client.post("/v1/claims", json=CLAIMS["sip"], headers=headers)
    assert first.status_code == 201
    second = await client.post("/v1/claims", json=CLAIMS["sip"], headers=headers)
    assert second.status_code == 201 and second.content == first.content  # the first reply, again
    other = await client.post("/v1/claims", json=CLAIMS["lakemedelsgenomgang"], headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await conn.fetchval("SELECT count(*) FROM claims") == 1
    # Keys are per API key: another caller's identical key is its own.
    theirs = await client.post(
        "/v1/claims",
        json=CLAIMS["sip"],
        headers={**auth(keys["provider_b"]), "Idempotency-Key": "claim-2024-03-07-1"},
    )
    assert theirs.status_code == 201 and theirs.json()["provider"] == "prov-b"
    # A refused request stores no reply: after fixing the cause, the same key works.
    fixed = {**auth(keys["provider"]), "Idempotency-Key": "k2"}
    assert (
        await client.post("/v1/claims", json={**CLAIMS["teamkonferens"], "date": "2024-02-30"}, headers=fixed)
    ).status_code in (400, 422)
    assert (await client.post("/v1/claims", json=CLAIMS["teamkonferens"], headers=fixed)).status_code == 201


async def test_idempotency_key_on_registry_posts(client, keys):
    headers = {**auth(keys["registry"]), "Idempotency-Key": "prov-1"}
    body = {"id": "omsorg-ab", "orgnr": "5560360793", "name": "Omsorg AB"}
    assert (await client.post("/v1/providers", json=body, headers=headers)).status_code == 201
    assert (await client.post("/v1/providers", json=body, headers=headers)).status_code == 201
    reused = await client.post(
        "/v1/insatser", json={"code": "x", "title": "X", "report_type": "larm"}, headers=headers
    )
    assert reused.status_code == 422
    too_long = await client.post(
        "/v1/providers", json=body, headers={**headers, "Idempotency-Key": "k" * 201}
    )
    assert too_long.status_code == 422


async def test_no_withdrawal_once_the_period_is_settled(client, keys, conn):
    prov = auth(keys["provider"])
    await client.post("/v1/claims", json=CLAIMS["sip"], headers=prov)
    await client.post("/v1/claims", json={**CLAIMS["teamkonferens"], "date": "2024-04-01"}, headers=prov)
    # A settled 2024-03 for prov-a, written directly (the settlement flow has its own tests).
    await conn.execute("SET session_replication_role = replica")  # no run behind it
    await conn.execute(
        """INSERT INTO settlements (tenant_id, id, provider_id, period, run_id, status, prepared_by,
                                    attested_by, attested_at, total, totals, totals_by_area, accounts,
                                    tariffs, sha256, document)
           VALUES ('kson', gen_random_uuid(), 'prov-a', '2024-03', gen_random_uuid(), 'settled', 'a', 'b',
                   now(), 0, '{}', '{}', '{}', '{kson-2024}', repeat('0', 64), '{}')"""
    )
    await conn.execute("RESET session_replication_role")
    response = await client.post("/v1/claims/K06/withdrawal", headers=prov)
    assert response.status_code == 409 and "2024-03" in response.json()["detail"]
    assert (await client.post("/v1/claims/K01/withdrawal", headers=prov)).status_code == 200


async def test_a_claims_batch_is_all_or_nothing_and_idempotent(client, keys, conn):
    prov = auth(keys["provider"])
    good = {"id": "KB1", "type": "teamkonferens", "date": "2024-03-04"}
    bad = {
        "id": "KB2",
        "type": "extraordinar_insats",
        "date": "2024-03-04",
        "customer": "193805149494",
        "requested_amount": "-1",
        "motivation": "x",
    }
    response = await client.post("/v1/claims/batch", json=[good, bad], headers=prov)
    assert response.status_code == 422, response.text
    assert {(e["row"], e["field"]) for e in response.json()["errors"]} == {
        (1, "customer"),
        (1, "requested_amount"),
    }
    assert await conn.fetchval("SELECT count(*) FROM claims") == 0
    response = await client.post("/v1/claims/batch", json=[good], headers=prov)
    assert response.json() == {"inserted": 1, "unchanged": 0}
    response = await client.post("/v1/claims/batch", json=[good], headers=prov)
    assert response.json() == {"inserted": 0, "unchanged": 1}
    response = await client.post("/v1/claims/batch", json=[{**good, "date": "2024-03-05"}], headers=prov)
    assert response.status_code == 409 and response.json()["conflicts"] == [{"id": "KB1"}]
