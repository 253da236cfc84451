"""Registry endpoints: providers, insatser, customers (zones, choices), decisions."""

import json

from service.domain.identity import luhn_valid
from tests.api.ingestion import DECISION, LUHN_BAD, PNR_A, PNR_B, PNR_C, customer, register
from tests.conftest import auth


def samordningsnummer() -> str:
    head = "194001610" + "12"  # born 1940-01-01: day 01 + 60
    return next(head + str(c) for c in range(10) if luhn_valid(head[2:] + str(c)))


async def audit_entries(conn, action):
    return await conn.fetch("SELECT * FROM audit_log WHERE action = $1 ORDER BY seq", action)


# Providers ---------------------------------------------------------------------------------------


async def test_providers_create_replay_conflict_correct(client, keys, conn):
    reg = auth(keys["registry"])
    body = {"id": "omsorg-ab", "orgnr": "556036-0793", "name": "Omsorg AB"}
    response = await client.post("/v1/providers", json=body, headers=reg)
    assert response.status_code == 201, response.text
    assert response.json() == {"id": "omsorg-ab", "orgnr": "5560360793", "name": "Omsorg AB"}
    again = await client.post("/v1/providers", json=body, headers=reg)
    assert again.status_code == 200 and again.json() == response.json()
    other = await client.post("/v1/providers", json={**body, "name": "Annat AB"}, headers=reg)
    assert other.status_code == 409
    taken = await client.post(
        "/v1/providers", json={**body, "id": "copy", "orgnr": "5566778899"}, headers=reg
    )
    assert taken.status_code == 409 and "prov-a" in taken.json()["detail"]
    bad = await client.post("/v1/providers", json={**body, "orgnr": "5560360794"}, headers=reg)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "orgnr"

    corrected = await client.put(
        "/v1/providers/omsorg-ab", json={"orgnr": "5560360793", "name": "Omsorg i Norrtälje AB"}, headers=reg
    )
    assert corrected.json()["name"] == "Omsorg i Norrtälje AB"
    [entry] = await audit_entries(conn, "provider.correct")
    assert entry["before"]["name"] == "Omsorg AB" and entry["after"]["name"] == "Omsorg i Norrtälje AB"
    assert (
        await client.put("/v1/providers/nobody", json={"orgnr": "5560360793", "name": "X"}, headers=reg)
    ).status_code == 404

    page = (await client.get("/v1/providers?limit=2", headers=auth(keys["reader"]))).json()
    assert [p["id"] for p in page["items"]] == ["omsorg-ab", "prov-a"] and page["next_after"] == "prov-a"
    rest = (await client.get("/v1/providers?after=prov-a", headers=auth(keys["reader"]))).json()
    assert [p["id"] for p in rest["items"]] == ["prov-b"] and rest["next_after"] is None
    assert (await client.get("/v1/providers/omsorg-ab", headers=auth(keys["auditor"]))).status_code == 200
    assert len(await audit_entries(conn, "provider.create")) == 2  # the replay is audited too


# The insats catalogue ----------------------------------------------------------------------------


async def test_insatser(client, keys):
    reg = auth(keys["registry"])
    listing = (await client.get("/v1/insatser?limit=1000", headers=auth(keys["provider"]))).json()
    assert {
        "code": "morgonhjalp",
        "title": "Morgonhjälp",
        "category": "omsorg",
        "report_type": "bistand",
    } in listing["items"]
    body = {"code": "fonsterputs", "title": "Fönsterputs", "category": "service", "report_type": "bistand"}
    assert (await client.post("/v1/insatser", json=body, headers=reg)).status_code == 201
    assert (await client.post("/v1/insatser", json=body, headers=reg)).status_code == 200
    assert (await client.post("/v1/insatser", json={**body, "title": "X"}, headers=reg)).status_code == 409
    no_category = await client.post(
        "/v1/insatser", json={"code": "x", "title": "X", "report_type": "bistand"}, headers=reg
    )
    assert no_category.status_code == 422 and no_category.json()["errors"][0]["field"] == "category"
    corrected = await client.put(
        "/v1/insatser/fonsterputs",
        json={"title": "Fönsterputsning", "category": "service", "report_type": "bistand"},
        headers=reg,
    )
    assert corrected.json()["title"] == "Fönsterputsning"


# Customers ---------------------------------------------------------------------------------------


async def test_a_customer_is_stored_once_and_addressed_by_ref(client, keys, conn):
    reg = auth(keys["registry"])
    body = customer(
        PNR_A, zones=[{"from": "2024-03-16", "zone": "skargard"}, {"from": "2019-05-01", "zone": "landsbygd"}]
    )
    response = await client.post("/v1/customers", json=body, headers=reg)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["ref"].startswith("C") and len(created["ref"]) == 11
    assert created["pnr"] == PNR_A and created["protected"] is False
    assert [z["from"] for z in created["zones"]] == ["2019-05-01", "2024-03-16"]
    assert created["choices"] == [{"from": "2024-01-01", "to": None, "provider": "prov-a"}]

    again = await client.post("/v1/customers", json=body, headers=reg)
    assert again.status_code == 200 and again.json() == created
    hyphen = await client.post("/v1/customers", json={**body, "pnr": "19380514-9493"}, headers=reg)
    assert hyphen.status_code == 200 and hyphen.json()["ref"] == created["ref"]
    other = await client.post("/v1/customers", json={**body, "name": "Anna"}, headers=reg)
    assert other.status_code == 409 and created["ref"] in other.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM customers") == 1
    [entry] = (await audit_entries(conn, "customer.create"))[:1]
    assert entry["entity_ids"] == [created["ref"]]
    assert PNR_A not in json.dumps(dict(entry), default=str)


async def test_bad_customers(client, keys):
    reg = auth(keys["registry"])
    response = await client.post("/v1/customers", json=customer(LUHN_BAD), headers=reg)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "pnr"
    assert LUHN_BAD not in response.text
    early = customer(PNR_A, zones=[{"from": "2024-02-01", "zone": "tatort"}])
    response = await client.post("/v1/customers", json=early, headers=reg)
    assert {e["field"] for e in response.json()["errors"]} == {"choices[0].from"}
    unknown = customer(PNR_A, provider="nobody")
    assert (await client.post("/v1/customers", json=unknown, headers=reg)).json()["errors"][0][
        "field"
    ] == "choices[0].provider"
    no_zone = customer(PNR_A, zones=[])
    assert (await client.post("/v1/customers", json=no_zone, headers=reg)).status_code == 422
    response = await client.post("/v1/customers", json=customer(samordningsnummer()), headers=reg)
    assert response.status_code == 201


async def test_who_sees_which_customer(client, keys, conn):
    a = await register(client, keys, customer(PNR_A, provider="prov-a"))
    b = await register(client, keys, customer(PNR_B, provider="prov-b", name="Berit", protected=True))
    c = await register(client, keys, customer(PNR_C, provider=None))

    async def view(role, ref):
        return await client.get(f"/v1/customers/{ref}", headers=auth(keys[role]))

    assert (await view("registry", a["ref"])).json()["pnr"] == PNR_A
    assert (await view("provider", a["ref"])).json()["pnr"] == PNR_A
    assert (await view("provider_b", a["ref"])).status_code == 404  # not its customer
    assert (await view("provider", c["ref"])).status_code == 404
    assert (await view("reader", a["ref"])).status_code == 403  # reader does not read the registry
    # A protected identity: only invoice_admin and auditor see the number and name, in a single view.
    assert (await view("invoice_admin", b["ref"])).json()["pnr"] == PNR_B
    assert (await view("auditor", b["ref"])).json()["name"] == "Berit"
    assert (await view("registry", b["ref"])).json()["pnr"] is None
    assert (await view("provider_b", b["ref"])).json()["pnr"] is None
    assert (await view("invoice_admin", "CNOSUCHREF0")).status_code == 404
    reads = await audit_entries(conn, "customer.read")
    assert len(reads) == 6
    assert {r["entity_ids"][0] for r in reads} == {a["ref"], b["ref"]}

    async def listing(role):
        return (await client.get("/v1/customers", headers=auth(keys[role]))).json()["items"]

    admin = {x["ref"]: x for x in await listing("invoice_admin")}
    assert admin[a["ref"]]["pnr"] == "19380514-****"
    assert admin[b["ref"]] == {"ref": b["ref"], "pnr": None, "name": None, "protected": True}
    assert (await client.get("/v1/customers", headers=auth(keys["reader"]))).status_code == 403
    assert [x["ref"] for x in await listing("provider")] == [a["ref"]]
    assert PNR_B[:8] not in json.dumps(await listing("provider_b"))


async def test_customer_lookup_by_number(client, keys):
    a = await register(client, keys, customer(PNR_A))
    found = await client.post(
        "/v1/customers/lookup", json={"pnr": "19380514-9493"}, headers=auth(keys["invoice_admin"])
    )
    assert found.status_code == 200 and found.json()["ref"] == a["ref"]
    assert (
        await client.post("/v1/customers/lookup", json={"pnr": PNR_A}, headers=auth(keys["provider_b"]))
    ).status_code == 404
    assert (
        await client.post("/v1/customers/lookup", json={"pnr": PNR_B}, headers=auth(keys["registry"]))
    ).status_code == 404


async def test_correct_a_customer(client, keys, conn):
    a = await register(client, keys, customer(PNR_A))
    seq = await conn.fetchval("SELECT changed_seq FROM customers")
    response = await client.put(
        f"/v1/customers/{a['ref']}", json={"name": "Anna", "protected": True}, headers=auth(keys["registry"])
    )
    assert response.json()["protected"] is True and response.json()["pnr"] is None
    assert await conn.fetchval("SELECT changed_seq FROM customers") > seq
    [entry] = await audit_entries(conn, "customer.correct")
    assert "Anna" not in json.dumps(dict(entry), default=str)


async def test_zone_history(client, keys, conn):
    reg = auth(keys["registry"])
    a = await register(client, keys, customer(PNR_A))
    url = f"/v1/customers/{a['ref']}/zones"
    added = await client.post(url, json={"from": "2024-03-16", "zone": "skargard"}, headers=reg)
    assert added.status_code == 201 and len(added.json()["zones"]) == 2
    same = await client.post(url, json={"from": "2024-03-16", "zone": "skargard"}, headers=reg)
    assert same.status_code == 200
    other = await client.post(url, json={"from": "2024-03-16", "zone": "tatort"}, headers=reg)
    assert other.status_code == 409
    early = await client.post(url, json={"from": "2019-12-31", "zone": "tatort"}, headers=reg)
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "from"

    replaced = await client.put(url, json=[{"from": "2023-01-01", "zone": "landsbygd"}], headers=reg)
    assert replaced.json()["zones"] == [{"from": "2023-01-01", "zone": "landsbygd"}]
    # Replacing the zones so that a choice starts before the first zone is bad input.
    late = await client.put(url, json=[{"from": "2024-02-01", "zone": "tatort"}], headers=reg)
    assert late.status_code == 422
    assert (await client.put(url, json=[], headers=reg)).status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM customer_zones") == 1
    [entry] = await audit_entries(conn, "customer.zones.replace")
    assert (
        entry["before"]["zones"][0]["zone"] == "tatort" and entry["after"]["zones"][0]["zone"] == "landsbygd"
    )


async def test_choice_history(client, keys, conn):
    reg = auth(keys["registry"])
    a = await register(client, keys, customer(PNR_A))
    url = f"/v1/customers/{a['ref']}/choices"
    switched = await client.post(url, json={"from": "2024-03-16", "provider": "prov-b"}, headers=reg)
    assert switched.status_code == 201
    assert [c["provider"] for c in switched.json()["choices"]] == ["prov-a", "prov-b"]
    assert (
        await client.post(url, json={"from": "2024-03-16", "provider": "prov-a"}, headers=reg)
    ).status_code == 409
    early = await client.post(url, json={"from": "2019-01-01", "provider": "prov-a"}, headers=reg)
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "choices[2].from"

    seq = await conn.fetchval("SELECT changed_seq FROM customers")
    ended = await client.patch(f"{url}/2024-03-16", json={"to": "2024-04-30"}, headers=reg)
    assert ended.json()["choices"][1] == {"from": "2024-03-16", "to": "2024-04-30", "provider": "prov-b"}
    assert await conn.fetchval("SELECT changed_seq FROM customers") > seq
    backwards = await client.patch(f"{url}/2024-03-16", json={"to": "2024-03-01"}, headers=reg)
    assert backwards.status_code == 422
    assert (await client.patch(f"{url}/2024-05-01", json={"to": None}, headers=reg)).status_code == 404

    replaced = await client.put(
        url, json=[{"from": "2024-01-01", "to": "2024-06-30", "provider": "prov-b"}], headers=reg
    )
    assert replaced.json()["choices"] == [{"from": "2024-01-01", "to": "2024-06-30", "provider": "prov-b"}]


# Decisions ---------------------------------------------------------------------------------------


async def test_decisions(client, keys, conn):
    reg = auth(keys["registry"])
    a = await register(client, keys, customer(PNR_A))
    response = await client.post("/v1/decisions", json=DECISION, headers=reg)
    assert response.status_code == 201, response.text
    decision = response.json()
    assert decision["customer"] == PNR_A and decision["customer_ref"] == a["ref"]
    assert decision["decided"] == "2024-01-01"
    assert decision["lines"][1]["occasions"] == "0.5" and decision["lines"][0]["minutes"] == "30"
    same = {**DECISION, "lines": [{**DECISION["lines"][0], "minutes": "30.0"}, DECISION["lines"][1]]}
    assert (await client.post("/v1/decisions", json=same, headers=reg)).status_code == 200
    other = {**DECISION, "lines": [{**DECISION["lines"][0], "minutes": 45}, DECISION["lines"][1]]}
    assert (await client.post("/v1/decisions", json=other, headers=reg)).status_code == 409
    taken = {**DECISION, "id": "D2", "lines": [DECISION["lines"][0]]}
    response = await client.post("/v1/decisions", json=taken, headers=reg)
    assert response.status_code == 409 and "D1-1" in response.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM decisions") == 1

    listing = (
        await client.get(f"/v1/decisions?customer={a['ref']}", headers=auth(keys["invoice_admin"]))
    ).json()
    assert [d["id"] for d in listing["items"]] == ["D1"] and listing["items"][0][
        "customer"
    ] == "19380514-****"
    assert (await client.get("/v1/decisions?customer=CNOSUCHREF0", headers=reg)).json()["items"] == []
    assert (await client.get("/v1/decisions/D1", headers=auth(keys["auditor"]))).json()["customer"] == PNR_A
    assert (await client.get("/v1/decisions/D9", headers=reg)).status_code == 404


async def test_bad_decisions(client, keys):
    reg = auth(keys["registry"])
    await register(client, keys, customer(PNR_A))
    bad = {
        "id": "D5",
        "customer": PNR_A,
        "lines": [
            {**DECISION["lines"][0], "id": "D5-1", "category": "service"},  # the catalogue says omsorg
            {**DECISION["lines"][0], "id": "D5-2", "code": "lakemedel"},  # not granted by decision
            {**DECISION["lines"][0], "id": "D5-3", "code": "flyga"},
            {**DECISION["lines"][0], "id": "D5-4", "minutes": 0, "to": "2023-12-31"},
            {**DECISION["lines"][0], "id": "D5-4"},
        ],
    }
    response = await client.post("/v1/decisions", json=bad, headers=reg)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "lines[0].category",
        "lines[1].code",
        "lines[2].code",
        "lines[3].minutes",
        "lines[3].to",
        "lines[4].id",
    }
    unknown = await client.post("/v1/decisions", json={**DECISION, "customer": PNR_B}, headers=reg)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "customer"


async def test_decision_corrections_and_ends(client, keys, conn):
    reg = auth(keys["registry"])
    await register(client, keys, customer(PNR_A))
    await client.post("/v1/decisions", json=DECISION, headers=reg)
    seq = await conn.fetchval("SELECT changed_seq FROM decision_lines WHERE id = 'D1-1'")

    response = await client.patch("/v1/decisions/D1", json={"decided": "2023-12-20"}, headers=reg)
    assert response.json()["decided"] == "2023-12-20"
    added = await client.post(
        "/v1/decisions/D1/lines",
        json={
            "id": "D1-3",
            "code": "dusch",
            "category": "omsorg",
            "minutes": 45,
            "occasions": 1,
            "per": "week",
            "from": "2024-03-01",
        },
        headers=reg,
    )
    assert added.status_code == 201 and [x["id"] for x in added.json()["lines"]] == ["D1-1", "D1-2", "D1-3"]
    line = {**DECISION["lines"][0], "minutes": 40}
    corrected = await client.put("/v1/decisions/D1/lines/D1-1", json=line, headers=reg)
    assert corrected.json()["lines"][0]["minutes"] == "40"
    assert await conn.fetchval("SELECT changed_seq FROM decision_lines WHERE id = 'D1-1'") > seq
    renamed = await client.put("/v1/decisions/D1/lines/D1-1", json={**line, "id": "D1-9"}, headers=reg)
    assert renamed.status_code == 422
    ended = await client.patch("/v1/decisions/D1/lines/D1-2", json={"to": "2024-03-20"}, headers=reg)
    assert ended.json()["lines"][1]["to"] == "2024-03-20"
    assert (
        await client.patch("/v1/decisions/D1/lines/D1-2", json={"to": "2023-01-01"}, headers=reg)
    ).status_code == 422
    assert (
        await client.patch("/v1/decisions/D1/lines/D9-9", json={"to": None}, headers=reg)
    ).status_code == 404
    [entry] = await audit_entries(conn, "decision.line.correct")
    assert entry["before"]["minutes"] == "30" and entry["after"]["minutes"] == "40"
