"""Bounds on input (domain.md 6): every out-of-range or malformed value is a 4xx problem naming its
field (and row), never a 5xx, and nothing of it is stored."""

import json

import pytest

from tests.api.ingestion import DECISION, PNR_A, customer, errors_of, register, visit
from tests.conftest import auth

PROBLEM = "application/problem+json"
INT64_PAST = str(2**63)


def refused(response, status=422):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


def fields(response, status=422):
    return {e["field"] for e in refused(response, status)["errors"]}


def line(**changes):
    return {**DECISION["lines"][0], **changes}


# Finding 3: quantities, dates, amounts, text ------------------------------------------------------


async def test_decision_line_quantities_are_bounded_and_a_run_still_works(client, keys, conn):
    reg = auth(keys["registry"])
    await register(client, keys, customer())
    for minutes, occasions in [("1e30", "1"), ("0", "1"), ("1441", "1"), ("30", "0"), ("30", "100.5")]:
        body = {**DECISION, "lines": [line(minutes=minutes, occasions=occasions)]}
        response = await client.post("/v1/decisions", json=body, headers=reg)
        field = "lines[0].minutes" if minutes != "30" else "lines[0].occasions"
        assert field in fields(response), (minutes, occasions)
    assert await conn.fetchval("SELECT count(*) FROM decision_lines") == 0
    body = {**DECISION, "lines": [line(minutes="1440", occasions="100")]}
    assert (await client.post("/v1/decisions", json=body, headers=reg)).status_code == 201
    corrected = await client.put("/v1/decisions/D1/lines/D1-1", json=line(minutes="1e30"), headers=reg)
    assert fields(corrected) == {"minutes"}
    run = await client.post("/v1/runs", json={"period": "2024-03"}, headers=auth(keys["invoice_admin"]))
    assert run.status_code == 201, run.text


async def test_dates_are_bounded(client, keys, conn):
    reg, prov = auth(keys["registry"]), auth(keys["provider"])
    old_zone = customer(zones=[{"from": "1899-12-31", "zone": "tatort"}])
    assert "zones[0].from" in fields(await client.post("/v1/customers", json=old_zone, headers=reg))
    ref = (await register(client, keys, customer(zones=[{"from": "1900-01-01", "zone": "tatort"}])))["ref"]
    zones = [{"from": "1900-01-01", "zone": "tatort"}, {"from": "2100-01-01", "zone": "skargard"}]
    response = await client.put(f"/v1/customers/{ref}/zones", json=zones, headers=reg)
    assert {(e.get("row"), e["field"]) for e in refused(response)["errors"]} == {(1, "from")}
    late = {**DECISION, "lines": [line(to="2100-01-01")]}
    assert "lines[0].to" in fields(await client.post("/v1/decisions", json=late, headers=reg))

    pause = {"id": "P1", "customer": PNR_A, "reason": "sjukhus", "from": "1999-12-31"}
    assert fields(await client.post("/v1/pauses", json=pause, headers=prov)) == {"from"}
    pause["from"] = "2024-03-01"
    assert "to" in fields(await client.post("/v1/pauses", json={**pause, "to": "2100-01-01"}, headers=prov))
    # The open end is allowed.
    stored = await client.post("/v1/pauses", json={**pause, "to": "9999-12-31"}, headers=prov)
    assert stored.status_code == 201, stored.text
    assert fields(await client.patch("/v1/pauses/P1", json={"to": "2100-01-01"}, headers=prov)) == {"to"}

    ancient = visit(1, start="0001-01-01T00:00:00+01:00", end="0001-01-01T01:00:00+01:00")
    response = await client.post("/v1/visits", json=[ancient], headers=prov)
    assert {(0, "start"), (0, "end")} <= errors_of(response), response.text
    week = visit(2, start="2024-03-01T07:00:00+01:00", end="2024-03-08T07:00:01+01:00")
    assert (0, "end") in errors_of(await client.post("/v1/visits", json=[week], headers=prov))
    claim = {"id": "K1", "type": "teamkonferens", "date": "2100-01-01"}
    assert fields(await client.post("/v1/claims", json=claim, headers=prov)) == {"date"}
    assert await conn.fetchval("SELECT count(*) FROM visits") == 0


@pytest.mark.parametrize("amount", ["10000000.01", "99999999999999999999.00", "1" * 30])
async def test_amounts_are_bounded(client, keys, amount):
    await register(client, keys, customer())
    claim = {
        "id": "K1",
        "type": "extraordinar_insats",
        "date": "2024-03-05",
        "customer": PNR_A,
        "requested_amount": amount,
        "motivation": "Dubbelbemanning",
    }
    response = await client.post("/v1/claims", json=claim, headers=auth(keys["provider"]))
    assert fields(response) == {"requested_amount"}
    ok = await client.post(
        "/v1/claims", json={**claim, "requested_amount": "10000000.00"}, headers=auth(keys["provider"])
    )
    assert ok.status_code == 201, ok.text


async def test_control_characters_are_refused_in_text(client, keys, conn):
    reg, prov = auth(keys["registry"]), auth(keys["provider"])
    provider = {"id": "omsorg-ab", "orgnr": "556036-0793", "name": "Omsorg\u0000AB"}
    assert fields(await client.post("/v1/providers", json=provider, headers=reg)) == {"name"}
    named = customer(name="Anna\u0007")
    assert fields(await client.post("/v1/customers", json=named, headers=reg)) == {"name"}
    await register(client, keys, customer())
    response = await client.post("/v1/visits", json=[visit(1, staff="S\u00001")], headers=prov)
    assert errors_of(response) == {(0, "staff")}
    enrolment = {"id": "E1", "customer": PNR_A, "area": "hemrehab", "from": "2024-03-01", "remiss": "R\n1"}
    assert fields(await client.post("/v1/enrolments", json=enrolment, headers=prov)) == {"remiss"}
    # Free text (reasons, motivations) may hold tabs and line breaks, nothing else.
    claim = {
        "id": "K1",
        "type": "extraordinar_insats",
        "date": "2024-03-05",
        "customer": PNR_A,
        "requested_amount": "100.00",
        "motivation": "Rad ett\n\tRad två\u0000",
    }
    assert fields(await client.post("/v1/claims", json=claim, headers=prov)) == {"motivation"}
    claim["motivation"] = "Rad ett\r\n\tRad två"
    assert (await client.post("/v1/claims", json=claim, headers=prov)).status_code == 201
    assert await conn.fetchval("SELECT count(*) FROM visits") == 0


# Finding 4: what reached a 5xx -------------------------------------------------------------------


def _list_routes(document):
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            if parameter["in"] == "query":
                yield path, parameter["name"]


async def test_nul_in_any_query_parameter_is_refused_naming_it(client, keys):
    document = (await client.get("/schema/openapi.json")).json()
    routes = list(_list_routes(document))
    assert len({path for path, _ in routes}) >= 15
    for path, name in routes:
        key = keys["auditor"] if path == "/v1/audit" else keys["invoice_admin"]
        response = await client.get(path, params={name: "a\u0000b"}, headers=auth(key))
        assert response.status_code == 422, (path, name, response.text)
        assert name in {e["field"] for e in response.json()["errors"]}, (path, name)


@pytest.mark.parametrize(
    "path", ["/v1/visits/V%001", "/v1/customers/C%00", "/v1/providers/p%00", "/v1/tariffs/t%00"]
)
async def test_nul_in_a_path_is_not_a_server_error(client, keys, path):
    role = "provider" if "visits" in path else "invoice_admin"
    response = await client.get(path, headers=auth(keys[role]))
    assert response.status_code in (404, 422), response.text


async def test_nul_in_json_strings_is_refused(client, keys):
    reg = auth(keys["registry"])
    insats = {"code": "bad", "title": "T\u0000", "report_type": "hsl"}
    assert fields(await client.post("/v1/insatser", json=insats, headers=reg)) == {"title"}
    run = {"period": "2024-03", "provider": "a\u0000"}
    assert fields(await client.post("/v1/runs", json=run, headers=auth(keys["invoice_admin"]))) == {
        "provider"
    }


@pytest.mark.parametrize("path", ["/v1/feed", "/v1/audit"])
async def test_a_cursor_past_int64_is_refused(client, keys, path):
    key = keys["auditor"]
    response = await client.get(path, params={"after": INT64_PAST}, headers=auth(key))
    assert fields(response) == {"after"}


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "1999-12", "2100-01"])
async def test_periods_outside_2000_to_2099_are_refused(client, keys, period):
    admin = auth(keys["invoice_admin"])
    assert fields(await client.post("/v1/runs", json={"period": period}, headers=admin)) == {"period"}
    settle = {"period": period, "provider": "prov-a"}
    assert fields(await client.post("/v1/settlements", json=settle, headers=admin)) == {"period"}
    for path in ["/v1/runs", "/v1/discrepancies", "/v1/settlements", "/v1/visits"]:
        response = await client.get(path, params={"period": period}, headers=admin)
        assert fields(response) == {"period"}, path
    for tail in ["lines", "held"]:
        response = await client.get(f"/v1/periods/{period}/providers/prov-a/{tail}", headers=admin)
        assert fields(response) == {"period"}, tail


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/v1/customers", "registry"),
        ("/v1/runs", "invoice_admin"),
        ("/v1/visits", "provider"),
        ("/v1/registry/import", "registry"),
        ("/v1/discrepancies/decisions", "invoice_admin"),
    ],
)
async def test_deeply_nested_json_is_refused(client, keys, path, role, depth):
    headers = {**auth(keys[role]), "content-type": "application/json"}
    response = await client.post(path, content=_nested(depth), headers=headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_deeply_nested_tariff_file_is_refused(client, keys):
    source = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    response = await client.post("/v1/tariffs", json={"source": source}, headers=auth(keys["invoice_admin"]))
    assert fields(response) == {"source"}


async def test_a_row_names_every_bad_field(client, keys):
    reg, prov = auth(keys["registry"]), auth(keys["provider"])
    body = {"pnr": 123, "name": "", "zones": [{"from": "x", "zone": "moon"}], "colour": "red"}
    assert fields(await client.post("/v1/customers", json=body, headers=reg)) == {
        "pnr",
        "name",
        "zones[0].from",
        "zones[0].zone",
        "colour",
    }
    bad = visit(1, staff="", staff_category="chef", codes=[], status="done")
    del bad["method"]
    response = await client.post("/v1/visits", json=[visit(0), bad], headers=prov)
    assert errors_of(response) == {
        (1, "staff"),
        (1, "staff_category"),
        (1, "codes"),
        (1, "status"),
        (1, "method"),
    }
    rows = [
        {"kind": "customer", **customer(), "zones": [{"from": 5, "zone": "x"}]},
        {"kind": "decision", **DECISION, "customer": None, "lines": [line(per="year", minutes=[])]},
    ]
    response = await client.post("/v1/registry/import", content=json.dumps(rows), headers=reg)
    assert errors_of(response) == {
        (0, "zones[0].from"),
        (0, "zones[0].zone"),
        (1, "customer"),
        (1, "lines[0].per"),
        (1, "lines[0].minutes"),
    }


async def test_a_row_bad_in_type_and_then_malformed_is_named(client, keys):
    # msgspec refuses the type of `id` before it reaches the broken end of the line.
    headers = {**auth(keys["provider"]), "content-type": "application/x-ndjson"}
    response = await client.post("/v1/visits", content=b'{"id": 5, "customer": }\n', headers=headers)
    assert errors_of(response) == {(0, None)}
    assert "malformed JSON" in response.json()["errors"][0]["message"]
