"""Provider records: executions, pauses, enrolments, delegations; always the key's own provider."""

import json

import pytest

from tests.api.ingestion import DECISION, LUHN_BAD, PNR_A, PNR_B, UNKNOWN, customer, register
from tests.conftest import auth

RECORDS = {
    "executions": {"id": "X1", "decision": "D1", "from": "2024-01-10"},
    "pauses": {"id": "PA1", "customer": PNR_A, "reason": "sjukhus", "from": "2024-03-10", "to": "2024-03-14"},
    "enrolments": {
        "id": "E1",
        "customer": PNR_A,
        "area": "hemsjukvard",
        "from": "2024-03-01",
        "remiss": "REM-1",
    },
    "delegations": {"id": "G1", "customer": PNR_A, "code": "lakemedel", "from": "2024-02-01"},
}


@pytest.fixture
async def registry(client, keys):
    """PNR_A chose prov-a from 2024-01-01 and has decision D1."""
    await register(client, keys, customer(PNR_A, provider="prov-a"))
    response = await client.post("/v1/decisions", json=DECISION, headers=auth(keys["registry"]))
    assert response.status_code == 201


@pytest.mark.parametrize("kind", sorted(RECORDS))
async def test_create_replay_conflict_correct_end(client, keys, conn, registry, kind):
    prov = auth(keys["provider"])
    body = RECORDS[kind]
    response = await client.post(f"/v1/{kind}", json=body, headers=prov)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == body["id"] and created["provider"] == "prov-a"
    if "customer" in body:
        assert created["customer"] == PNR_A and created["customer_ref"].startswith("C")
    again = await client.post(f"/v1/{kind}", json=body, headers=prov)
    assert again.status_code == 200 and again.json() == created
    other = await client.post(f"/v1/{kind}", json={**body, "from": "2024-03-11"}, headers=prov)
    assert other.status_code == 409

    url = f"/v1/{kind}/{body['id']}"
    seq = await conn.fetchval(f"SELECT changed_seq FROM {kind}")
    corrected = await client.put(url, json={**body, "from": "2024-03-11"}, headers=prov)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["from"] == "2024-03-11"
    assert await conn.fetchval(f"SELECT changed_seq FROM {kind}") > seq
    assert (await client.put(url, json={**body, "id": "OTHER"}, headers=prov)).status_code == 422
    ended = await client.patch(url, json={"to": "2024-03-31"}, headers=prov)
    assert ended.json()["to"] == "2024-03-31"
    assert (await client.patch(url, json={"to": "2024-01-01"}, headers=prov)).status_code == 422
    assert (await client.get(url, headers=prov)).json()["to"] == "2024-03-31"

    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE entity_kind = $1 ORDER BY seq", kind[:-1]
        )
    ]
    assert actions == [
        f"{kind[:-1]}.create",
        f"{kind[:-1]}.create",
        f"{kind[:-1]}.correct",
        f"{kind[:-1]}.end",
    ]
    entries = await conn.fetch(
        "SELECT entity_ids, before, after FROM audit_log WHERE entity_kind = $1", kind[:-1]
    )
    assert entries[0]["entity_ids"] == [f"prov-a:{body['id']}"]
    assert PNR_A not in json.dumps([dict(e) for e in entries])


@pytest.mark.parametrize("kind", sorted(RECORDS))
async def test_another_providers_records_are_not_found(client, keys, registry, kind):
    body = RECORDS[kind]
    await client.post(f"/v1/{kind}", json=body, headers=auth(keys["provider"]))
    other = auth(keys["provider_b"])
    url = f"/v1/{kind}/{body['id']}"
    for response in (
        await client.get(url, headers=other),
        await client.put(url, json=body, headers=other),
        await client.patch(url, json={"to": None}, headers=other),
    ):
        assert response.status_code == 404
        assert PNR_A not in response.text
    listing = (await client.get(f"/v1/{kind}?provider=prov-a", headers=other)).json()
    assert all(item["provider"] == "prov-b" for item in listing["items"])
    # The same external id is the other provider's own record (for a customer of its own).
    await register(client, keys, customer(PNR_B, provider="prov-b"))
    d2 = {**DECISION, "id": "D2", "customer": PNR_B, "lines": [{**DECISION["lines"][0], "id": "D2-1"}]}
    assert (await client.post("/v1/decisions", json=d2, headers=auth(keys["registry"]))).status_code == 201
    own = {**body, "decision": "D2"} if kind == "executions" else {**body, "customer": PNR_B}
    assert (await client.post(f"/v1/{kind}", json=own, headers=other)).status_code == 201


async def test_a_body_naming_another_provider_is_refused(client, keys, registry):
    response = await client.post(
        "/v1/enrolments", json={**RECORDS["enrolments"], "provider": "prov-b"}, headers=auth(keys["provider"])
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "provider"
    same = await client.post(
        "/v1/enrolments", json={**RECORDS["enrolments"], "provider": "prov-a"}, headers=auth(keys["provider"])
    )
    assert same.status_code == 201


async def test_record_checks(client, keys, registry):
    prov = auth(keys["provider"])
    response = await client.post(
        "/v1/executions", json={**RECORDS["executions"], "decision": "D9"}, headers=prov
    )
    assert response.json()["errors"] == [{"field": "decision", "message": "unknown decision"}]
    response = await client.post(
        "/v1/delegations", json={**RECORDS["delegations"], "code": "morgonhjalp"}, headers=prov
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "code"
    response = await client.post(
        "/v1/delegations", json={**RECORDS["delegations"], "code": "flyga"}, headers=prov
    )
    assert response.status_code == 422
    response = await client.post(
        "/v1/enrolments", json={**RECORDS["enrolments"], "customer": LUHN_BAD}, headers=prov
    )
    assert response.status_code == 422 and LUHN_BAD not in response.text
    response = await client.post("/v1/pauses", json={**RECORDS["pauses"], "reason": "semester"}, headers=prov)
    assert response.status_code == 422
    response = await client.post("/v1/pauses", json={**RECORDS["pauses"], "to": "2024-03-01"}, headers=prov)
    assert response.json()["errors"] == [
        {"field": "to", "message": "must not be before `from` (both are inclusive)"}
    ]


async def test_an_enrolment_without_remiss_and_for_an_unknown_customer(client, keys, registry):
    body = {"id": "E2", "customer": UNKNOWN, "area": "hemrehab", "from": "2024-03-16", "remiss": None}
    response = await client.post("/v1/enrolments", json=body, headers=auth(keys["provider"]))
    assert response.status_code == 201
    assert response.json()["customer_ref"] is None and response.json()["remiss"] is None


async def test_a_pause_only_for_the_providers_own_customer(client, keys, registry):
    """Only the provider chosen on the pause's first day registers one (domain.md 2)."""
    prov_b = auth(keys["provider_b"])
    pause = {**RECORDS["pauses"], "id": "PB"}
    response = await client.post("/v1/pauses", json=pause, headers=prov_b)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "customer"
    # prov-b becomes the chosen provider from 2024-03-20: a pause that starts before is still refused,
    # even one that runs into prov-b's days; one that starts on them is prov-b's to register.
    ref = (await register(client, keys, customer(PNR_A, provider="prov-a")))["ref"]
    await client.post(
        f"/v1/customers/{ref}/choices",
        json={"from": "2024-03-20", "provider": "prov-b"},
        headers=auth(keys["registry"]),
    )
    assert (
        await client.post("/v1/pauses", json={**pause, "to": "2024-03-25"}, headers=prov_b)
    ).status_code == 422
    later = {**pause, "from": "2024-03-21", "to": None}
    assert (await client.post("/v1/pauses", json=later, headers=prov_b)).status_code == 201
    # An enrolment does not make the customer the provider's.
    b_pause = {"id": "PB3", "customer": PNR_B, "reason": "annat", "from": "2024-03-01"}
    await client.post(
        "/v1/enrolments",
        json={"id": "EB", "customer": PNR_B, "area": "hemrehab", "from": "2024-03-01"},
        headers=prov_b,
    )
    assert (await client.post("/v1/pauses", json=b_pause, headers=prov_b)).status_code == 422


async def test_lists_for_the_provider_and_for_the_invoice_admin(client, keys, registry):
    for i in range(3):
        await client.post(
            "/v1/enrolments", json={**RECORDS["enrolments"], "id": f"E{i}"}, headers=auth(keys["provider"])
        )
    await client.post(
        "/v1/enrolments", json={**RECORDS["enrolments"], "id": "EB"}, headers=auth(keys["provider_b"])
    )
    page = (await client.get("/v1/enrolments?limit=2", headers=auth(keys["invoice_admin"]))).json()
    assert [(e["provider"], e["id"]) for e in page["items"]] == [("prov-a", "E0"), ("prov-a", "E1")]
    assert page["items"][0]["customer"] == "19380514-****"
    rest = (
        await client.get(f"/v1/enrolments?after={page['next_after']}", headers=auth(keys["invoice_admin"]))
    ).json()
    assert [(e["provider"], e["id"]) for e in rest["items"]] == [("prov-a", "E2"), ("prov-b", "EB")]
    only_b = (await client.get("/v1/enrolments?provider=prov-b", headers=auth(keys["auditor"]))).json()
    assert [e["id"] for e in only_b["items"]] == ["EB"]
    own = (await client.get("/v1/enrolments", headers=auth(keys["provider_b"]))).json()
    assert [e["id"] for e in own["items"]] == ["EB"]


@pytest.mark.parametrize("kind", sorted(RECORDS))
async def test_a_batch_is_all_or_nothing_and_idempotent(client, keys, conn, registry, kind):
    prov = auth(keys["provider"])
    good = RECORDS[kind]
    second = {**good, "id": f"{good['id']}-2"}
    bad = {**good, "id": f"{good['id']}-3", "provider": "prov-b", "to": "2000-01-01"}
    response = await client.post(f"/v1/{kind}/batch", json=[good, bad, second], headers=prov)
    assert response.status_code == 422, response.text
    named = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert {(1, "provider"), (1, "to")} <= named and {row for row, _ in named} == {1}
    assert await conn.fetchval(f"SELECT count(*) FROM {kind}") == 0

    body = "\n".join(json.dumps(x) for x in [good, second])
    headers = {**prov, "Content-Type": "application/x-ndjson"}
    response = await client.post(f"/v1/{kind}/batch", content=body, headers=headers)
    assert response.json() == {"inserted": 2, "unchanged": 0}
    response = await client.post(f"/v1/{kind}/batch", json=[good, second], headers=prov)
    assert response.json() == {"inserted": 0, "unchanged": 2}
    changed = {**second, "from": "2024-03-02"}
    response = await client.post(f"/v1/{kind}/batch", json=[changed], headers=prov)
    assert response.status_code == 409 and response.json()["conflicts"] == [{"id": second["id"]}]
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count(f"{kind[:-1]}.batch") == 2


# A row each kind's checks against the registry refuse, and the field they name.
AGAINST_REGISTRY = {
    "executions": ({"decision": "D9"}, "decision"),
    "pauses": ({"customer": UNKNOWN}, "customer"),
    "delegations": ({"code": "morgonhjalp"}, "code"),
}


@pytest.mark.parametrize("kind", sorted(AGAINST_REGISTRY))
async def test_a_batch_checks_every_row_against_the_registry(client, keys, conn, registry, kind):
    good = RECORDS[kind]
    change, field = AGAINST_REGISTRY[kind]
    rows = [
        good,
        {**good, "id": "R1", **change},
        {**good, "id": "R2"},
        {**good, "id": "R3", **change},
    ]
    response = await client.post(f"/v1/{kind}/batch", json=rows, headers=auth(keys["provider"]))
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(1, field), (3, field)]
    assert await conn.fetchval(f"SELECT count(*) FROM {kind}") == 0
    good_rows = [good, {**good, "id": "R2"}]
    response = await client.post(f"/v1/{kind}/batch", json=good_rows, headers=auth(keys["provider"]))
    assert response.json() == {"inserted": 2, "unchanged": 0}
