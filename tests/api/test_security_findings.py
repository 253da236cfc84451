"""Issue 10's isolation findings, each reproduced as reported (domain.md 2, 3 and 7b):

1. an enrolment (or any record a provider posts) never makes a customer the provider's own;
2. a customer correction keeps what it leaves out (protected identity above all);
6. a provider's replies are the same whether a number is unknown, another provider's or protected;
7. reads of personal data are audited; invoice_admin and auditor read single provider records;
   reader does not read the customer registry.
"""

import json

import pytest

from tests.api.ingestion import PNR_A, PNR_B, PNR_C, UNKNOWN, customer, register
from tests.conftest import auth


async def audit_rows(conn, action):
    return await conn.fetch("SELECT * FROM audit_log WHERE action = $1 ORDER BY seq", action)


@pytest.fixture
async def world(client, keys):
    """PNR_A and PNR_B (protected) are prov-a's by choice; PNR_C is prov-b's; decision D1 is PNR_A's."""
    a = await register(client, keys, customer(PNR_A, provider="prov-a", name="Anna"))
    b = await register(client, keys, customer(PNR_B, provider="prov-a", name="Berit", protected=True))
    c = await register(client, keys, customer(PNR_C, provider="prov-b", name="Cecilia"))
    decision = {
        "id": "D1",
        "customer": PNR_A,
        "lines": [
            {
                "id": "D1-1",
                "code": "morgonhjalp",
                "category": "omsorg",
                "minutes": 30,
                "occasions": "1",
                "per": "day",
                "from": "2024-01-01",
            }
        ],
    }
    response = await client.post("/v1/decisions", json=decision, headers=auth(keys["registry"]))
    assert response.status_code == 201
    return {"a": a["ref"], "b": b["ref"], "c": c["ref"]}


def enrolment(n, pnr):
    return {"id": f"E{n}", "customer": pnr, "area": "hemrehab", "from": "2024-03-01"}


# Finding 1: takeover by self-enrolment ----------------------------------------------------------


async def test_an_enrolment_never_makes_another_providers_customer_readable(client, keys, world):
    prov_b = auth(keys["provider_b"])
    for n, pnr in enumerate((PNR_A, PNR_B)):
        response = await client.post("/v1/enrolments", json=enrolment(n, pnr), headers=prov_b)
        assert response.status_code == 201
    for ref in (world["a"], world["b"]):
        assert (await client.get(f"/v1/customers/{ref}", headers=prov_b)).status_code == 404
    for pnr in (PNR_A, PNR_B):
        found = await client.post("/v1/customers/lookup", json={"pnr": pnr}, headers=prov_b)
        assert found.status_code == 404
    listed = (await client.get("/v1/customers", headers=prov_b)).json()["items"]
    assert [x["ref"] for x in listed] == [world["c"]]


async def test_an_enrolment_never_lets_a_provider_pause_another_providers_customer(client, keys, world):
    prov_b = auth(keys["provider_b"])
    for n, pnr in enumerate((PNR_A, PNR_B)):
        await client.post("/v1/enrolments", json=enrolment(n, pnr), headers=prov_b)
    replies = []
    for n, pnr in enumerate((PNR_A, PNR_B, UNKNOWN)):
        pause = {"id": f"P{n}", "customer": pnr, "reason": "sjukhus", "from": "2024-03-05"}
        single = await client.post("/v1/pauses", json=pause, headers=prov_b)
        batch = await client.post("/v1/pauses/batch", json=[pause], headers=prov_b)
        assert (single.status_code, batch.status_code) == (422, 422)
        replies.append((single.json()["errors"], batch.json()["errors"]))
    # The same reply whether the number is another provider's, protected, or unknown.
    assert replies[0] == replies[1] == replies[2]


async def test_a_provider_sees_only_its_own_choice_spans(client, keys, world, conn):
    switched = customer(PNR_A, provider=None, name="Anna")
    switched["choices"] = [
        {"from": "2024-01-01", "to": "2024-02-29", "provider": "prov-b"},
        {"from": "2024-03-01", "provider": "prov-a"},
    ]
    response = await client.put(
        f"/v1/customers/{world['a']}/choices", json=switched["choices"], headers=auth(keys["registry"])
    )
    assert response.status_code == 200
    seen_by_a = (await client.get(f"/v1/customers/{world['a']}", headers=auth(keys["provider"]))).json()
    assert seen_by_a["choices"] == [{"from": "2024-03-01", "to": None, "provider": "prov-a"}]
    seen_by_b = await client.get(f"/v1/customers/{world['a']}", headers=auth(keys["provider_b"]))
    assert seen_by_b.json()["choices"] == [{"from": "2024-01-01", "to": "2024-02-29", "provider": "prov-b"}]
    assert "prov-a" not in seen_by_b.text
    admin = (await client.get(f"/v1/customers/{world['a']}", headers=auth(keys["invoice_admin"]))).json()
    assert len(admin["choices"]) == 2


async def test_a_pause_needs_the_choice_on_its_first_day(client, keys, world):
    choices = [
        {"from": "2024-01-01", "to": "2024-02-29", "provider": "prov-b"},
        {"from": "2024-03-01", "provider": "prov-a"},
    ]
    await client.put(f"/v1/customers/{world['a']}/choices", json=choices, headers=auth(keys["registry"]))

    async def pause(key, start, end=None):
        body = {"id": f"P-{key}-{start}", "customer": PNR_A, "reason": "sjukhus", "from": start, "to": end}
        return (await client.post("/v1/pauses", json=body, headers=auth(keys[key]))).status_code

    # prov-b was chosen until 2024-02-29: a pause starting later is not its to register, nor one
    # that starts before prov-a was chosen and runs into prov-a's days.
    assert await pause("provider_b", "2024-03-05") == 422
    assert await pause("provider", "2024-02-20", "2024-03-10") == 422
    assert await pause("provider_b", "2024-02-20", "2024-03-10") == 201
    assert await pause("provider", "2024-03-05") == 201


# Finding 2: protected identity lost by omission -------------------------------------------------


async def test_a_correction_keeps_what_it_leaves_out(client, keys, world, conn):
    reg, admin = auth(keys["registry"]), auth(keys["invoice_admin"])
    url = f"/v1/customers/{world['b']}"
    assert (await client.put(url, json={"name": "Berit B"}, headers=reg)).json()["protected"] is True
    assert (await client.put(url, json={}, headers=reg)).json()["protected"] is True
    view = (await client.get(url, headers=admin)).json()
    assert (view["name"], view["protected"]) == ("Berit B", True)
    # Only an explicit false lifts protection, and that is audited; an explicit null clears the name.
    lifted = await client.put(url, json={"protected": False, "name": None}, headers=reg)
    assert lifted.json()["protected"] is False
    view = (await client.get(url, headers=admin)).json()
    assert (view["name"], view["protected"]) == (None, False)
    entries = await audit_rows(conn, "customer.correct")
    assert [(e["entity_ids"], e["after"]["protected"]) for e in entries] == [
        ([world["b"]], True),
        ([world["b"]], True),
        ([world["b"]], False),
    ]
    assert entries[-1]["before"]["protected"] is True


async def test_an_import_keeps_a_name_it_leaves_out(client, keys, world):
    row = {"kind": "customer", **customer(PNR_B, provider="prov-a")}
    response = await client.post("/v1/registry/import", json=[row], headers=auth(keys["registry"]))
    assert response.status_code == 200, response.text
    view = (await client.get(f"/v1/customers/{world['b']}", headers=auth(keys["invoice_admin"]))).json()
    assert (view["name"], view["protected"]) == ("Berit", True)


# Finding 6: existence oracles -------------------------------------------------------------------


def _without(reply, pnr, n):
    """A reply with what differs by construction (the id and the number sent) taken out."""
    text = json.dumps(reply).replace(pnr, "NUMBER").replace(pnr[:8], "NUMBER8")
    body = json.loads(text)
    for item in body.get("items", [body]):
        item.pop("received_at", None)
        item["id"] = item["id"].replace(str(n), "N")
    return body


async def test_a_providers_records_look_the_same_for_any_number(client, keys, world):
    """prov-b posts records for prov-a's customer, prov-a's protected customer, and an unknown number:
    the replies (single, replayed, listed) differ only by the number it sent."""
    prov_b = auth(keys["provider_b"])
    replies = []
    for n, pnr in enumerate((PNR_A, PNR_B, UNKNOWN)):
        shown = []
        for kind, body in (
            ("enrolments", enrolment(n, pnr)),
            ("delegations", {"id": f"G{n}", "customer": pnr, "code": "lakemedel", "from": "2024-03-01"}),
            ("claims", {"id": f"K{n}", "type": "lakemedelsgenomgang", "date": "2024-03-07", "customer": pnr}),
        ):
            created = await client.post(f"/v1/{kind}", json=body, headers=prov_b)
            assert created.status_code == 201, created.text
            read = await client.get(f"/v1/{kind}/{body['id']}", headers=prov_b)
            shown += [_without(created.json(), pnr, n), _without(read.json(), pnr, n)]
        visit = {
            "id": f"V{n}",
            "customer": pnr,
            "staff": "S1",
            "staff_category": "underskoterska",
            "report_type": "bistand",
            "start": "2024-03-01T07:00:00+01:00",
            "end": "2024-03-01T08:00:00+01:00",
            "codes": ["morgonhjalp"],
            "method": "tag",
            "status": "performed",
        }
        assert (await client.post("/v1/visits", json=[visit], headers=prov_b)).status_code == 200
        read = (await client.get(f"/v1/visits/V{n}", headers=prov_b)).json()
        shown.append(_without(read["visit"], pnr, n))
        replies.append(shown)
    assert replies[0] == replies[1] == replies[2]
    assert all(x["customer_ref"] is None for x in replies[0])
    for kind in ("enrolments", "delegations", "claims", "visits"):
        items = (await client.get(f"/v1/{kind}", headers=prov_b)).json()["items"]
        assert len({x["customer_ref"] for x in items}) == 1  # all null
        assert all(x["customer"] is not None for x in items)


async def test_an_execution_of_another_providers_decision_is_an_unknown_decision(client, keys, world):
    prov_b = auth(keys["provider_b"])
    replies = []
    for decision in ("D1", "D-NONE"):
        body = {"id": "X1", "decision": decision, "from": "2024-03-01"}
        single = await client.post("/v1/executions", json=body, headers=prov_b)
        batch = await client.post("/v1/executions/batch", json=[body], headers=prov_b)
        assert (single.status_code, batch.status_code) == (422, 422)
        replies.append((single.json()["errors"], batch.json()["errors"]))
    assert replies[0] == replies[1]
    own = await client.post(
        "/v1/executions",
        json={"id": "X1", "decision": "D1", "from": "2024-03-01"},
        headers=auth(keys["provider"]),
    )
    assert own.status_code == 201


# Finding 7: reads of personal data ------------------------------------------------------------


async def test_reads_of_personal_data_are_audited(client, keys, world, conn):
    prov = auth(keys["provider"])
    await client.post("/v1/enrolments", json=enrolment(1, PNR_A), headers=prov)
    await client.post(
        "/v1/visits",
        json=[
            {
                "id": "V1",
                "customer": PNR_A,
                "staff": "S1",
                "staff_category": "underskoterska",
                "report_type": "bistand",
                "start": "2024-03-01T07:00:00+01:00",
                "end": "2024-03-01T08:00:00+01:00",
                "codes": ["morgonhjalp"],
                "method": "tag",
                "status": "performed",
            }
        ],
        headers=prov,
    )
    before = await conn.fetchval("SELECT count(*) FROM audit_log")
    admin = auth(keys["invoice_admin"])
    reads = [
        ("/v1/customers", admin),
        ("/v1/decisions", admin),
        ("/v1/decisions/D1", admin),
        ("/v1/enrolments", prov),
        ("/v1/enrolments/E1", prov),
        ("/v1/visits", prov),
        ("/v1/visits/V1", prov),
        ("/v1/visits?provider=prov-a", admin),
    ]
    for url, key in reads:
        response = await client.get(url, headers=key)
        assert response.status_code == 200, (url, response.text)
    entries = await conn.fetch("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq", before)
    assert len(entries) == len(reads)  # one entry per read
    for entry in entries:
        assert entry["entity_kind"] == "customer" and world["a"] in entry["entity_ids"]
        assert PNR_A not in json.dumps(dict(entry), default=str)
    listed = entries[0]["entity_ids"]
    assert set(listed) == {world["a"], world["b"], world["c"]}  # the list names the customers shown


async def test_invoice_admin_and_auditor_read_single_provider_records(client, keys, world):
    prov = auth(keys["provider"])
    await client.post("/v1/enrolments", json=enrolment(1, PNR_A), headers=prov)
    await client.post(
        "/v1/claims",
        json={"id": "K1", "type": "lakemedelsgenomgang", "date": "2024-03-07", "customer": PNR_A},
        headers=prov,
    )
    for role in ("invoice_admin", "auditor"):
        for url in ("/v1/enrolments/E1?provider=prov-a", "/v1/claims/K1?provider=prov-a"):
            response = await client.get(url, headers=auth(keys[role]))
            assert response.status_code == 200, (role, url, response.text)
            assert response.json()["customer"] == PNR_A
        missing = await client.get("/v1/enrolments/E1?provider=prov-b", headers=auth(keys[role]))
        assert missing.status_code == 404
        unnamed = await client.get("/v1/enrolments/E1", headers=auth(keys[role]))
        assert unnamed.status_code == 422 and unnamed.json()["errors"][0]["field"] == "provider"
    # A provider key reads its own without naming itself, and never another's.
    assert (await client.get("/v1/enrolments/E1", headers=prov)).status_code == 200
    named = await client.get("/v1/enrolments/E1?provider=prov-a", headers=auth(keys["provider_b"]))
    assert named.status_code == 403


async def test_reader_does_not_read_the_customer_registry(client, keys, world):
    reader = auth(keys["reader"])
    assert (await client.get("/v1/customers", headers=reader)).status_code == 403
    assert (await client.get(f"/v1/customers/{world['a']}", headers=reader)).status_code == 403


async def test_a_providers_discrepancies_look_the_same_for_any_number(client, keys, world):
    """prov-b's visits for prov-a's customer, prov-a's protected customer and an unknown number are
    all discrepancies of prov-b's run; prov-b sees each customer the same way: the number it sent."""
    prov_b = auth(keys["provider_b"])
    visits = [
        {
            "id": f"V{n}",
            "customer": pnr,
            "staff": "S1",
            "staff_category": "underskoterska",
            "report_type": "bistand",
            "start": f"2024-03-0{n + 1}T07:00:00+01:00",
            "end": f"2024-03-0{n + 1}T08:00:00+01:00",
            "codes": ["morgonhjalp"],
            "method": "tag",
            "status": "performed",
        }
        for n, pnr in enumerate((PNR_A, PNR_B, UNKNOWN))
    ]
    assert (await client.post("/v1/visits", json=visits, headers=prov_b)).status_code == 200
    run = await client.post(
        "/v1/runs", json={"period": "2024-03", "provider": "prov-b"}, headers=auth(keys["invoice_admin"])
    )
    assert run.status_code == 201, run.text
    items = (await client.get("/v1/discrepancies?period=2024-03&limit=1000", headers=prov_b)).json()["items"]
    by_record = {}
    for item in items:
        for n, pnr in enumerate((PNR_A, PNR_B, UNKNOWN)):
            if item["customer"] == pnr:
                by_record.setdefault(n, []).append((item["customer_ref"], item["kind"]))
    assert set(by_record) == {0, 1, 2}, items
    assert all(ref is None for found in by_record.values() for ref, _ in found)
    result = await client.get(f"/v1/runs/{run.json()['id']}/result", headers=prov_b)
    assert world["a"] not in result.text and world["b"] not in result.text
