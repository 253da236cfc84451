"""The isolation matrix (issue 10, domain.md 2): every operation of the API × every caller.

One world in one database: providers A (`prov-a`) and B (`prov-b`), each with a customer and a
protected one, decisions, provider records, visits and claims, a run of the month, and A's month
settled. Every operation of the OpenAPI document is called by each caller with the same request,
aimed at A's data: A's own key ("own"), B's key ("other"), registry, invoice_admin, reader, auditor
and no key. Each answer must have the expected status, and no body may show what the caller may
not know: to A nothing of B's, to B nothing of A's (provider id, customer numbers, names, refs),
protected identities to nobody but invoice_admin and auditor, personal data not to reader, nothing
without a key. Whatever the caller itself sent in the request does not count as shown.

Reads come first; writes are identical replays of A's records (or refused), so that the world the
later requests see stays the one described. A new operation without an entry fails the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from tests.api.ingestion import PNR_A, PNR_B, PNR_C, customer, register
from tests.conftest import auth

PNR_D = "194502179387"  # prov-b's protected customer
NAMES = {PNR_A: "Anna Ahlström", PNR_B: "Berit Berglund", PNR_C: "Cecilia Cederlund", PNR_D: "Doris Dahlgren"}
ROLES = ("own", "other", "registry", "invoice_admin", "reader", "auditor", "none")
KEYS = {"own": "provider", "other": "provider_b"}
TARIFF = (files("service") / "data" / "tariffs" / "kson-2024.toml").read_text(encoding="utf-8")


def visit(external_id: str, pnr: str, day: int) -> dict[str, Any]:
    return {
        "id": external_id,
        "customer": pnr,
        "staff": "S1",
        "staff_category": "underskoterska",
        "report_type": "bistand",
        "start": f"2024-03-{day:02d}T07:00:00+01:00",
        "end": f"2024-03-{day:02d}T07:30:00+01:00",
        "codes": ["morgonhjalp"],
        "method": "tag",
        "status": "performed",
    }


def decision(decision_id: str, pnr: str) -> dict[str, Any]:
    line = {
        "id": f"{decision_id}-1",
        "code": "morgonhjalp",
        "category": "omsorg",
        "minutes": "30",
        "occasions": "1",
        "per": "day",
        "from": "2024-01-01",
        "to": None,
    }
    return {"id": decision_id, "customer": pnr, "decided": "2024-01-01", "lines": [line]}


# A's records (B has the same kinds for its own customers).
A = {
    "customers": [
        customer(PNR_A, provider="prov-a", name=NAMES[PNR_A]),
        customer(PNR_B, provider="prov-a", name=NAMES[PNR_B], protected=True),
    ],
    "decision": decision("D1", PNR_A),
    "executions": {"id": "XA", "decision": "D1", "from": "2024-01-10", "to": None},
    "pauses": {"id": "PA", "customer": PNR_A, "reason": "sjukhus", "from": "2024-03-10", "to": "2024-03-14"},
    "enrolments": {
        "id": "EA",
        "customer": PNR_A,
        "area": "hemsjukvard",
        "from": "2024-03-01",
        "to": None,
        "remiss": "REM-A",
    },
    "delegations": {"id": "GA", "customer": PNR_A, "code": "lakemedel", "from": "2024-02-01", "to": None},
    "visits": [visit("VA1", PNR_A, 1), visit("VA2", PNR_B, 2)],
    "claim": {"id": "KA", "type": "sip", "date": "2024-03-07", "customer": PNR_A, "role": "lett"},
}
B = {
    "customers": [
        customer(PNR_C, provider="prov-b", name=NAMES[PNR_C]),
        customer(PNR_D, provider="prov-b", name=NAMES[PNR_D], protected=True),
    ],
    "decision": decision("D2", PNR_C),
    "executions": {"id": "XB", "decision": "D2", "from": "2024-01-10", "to": None},
    "pauses": {"id": "PB", "customer": PNR_C, "reason": "sjukhus", "from": "2024-03-10", "to": "2024-03-14"},
    "enrolments": {
        "id": "EB",
        "customer": PNR_C,
        "area": "hemsjukvard",
        "from": "2024-03-01",
        "to": None,
        "remiss": "REM-B",
    },
    "delegations": {"id": "GB", "customer": PNR_D, "code": "lakemedel", "from": "2024-02-01", "to": None},
    "visits": [visit("VB1", PNR_C, 1), visit("VB2", PNR_D, 2)],
    "claim": {"id": "KB", "type": "sip", "date": "2024-03-07", "customer": PNR_D, "role": "lett"},
}
RECORD_KINDS = ("executions", "pauses", "enrolments", "delegations")
COMPARISON = {"period": "2024-03", "tariffs": ["kson-2024", "kson-2024-min80"]}


async def ok(response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201)), response.text
    return response.json()


@dataclass
class World:
    refs: dict[str, str] = field(default_factory=dict)  # pnr -> ref
    run: str = ""
    line: str = ""  # one of A's invoice lines
    discrepancy: str = ""  # one of A's discrepancies
    code: str = ""  # its code
    settlement: str = ""  # A's settled month


async def build(client, keys) -> World:
    world = World()
    registry, admin = auth(keys["registry"]), auth(keys["invoice_admin"])
    for side, key in ((A, "provider"), (B, "provider_b")):
        for body in side["customers"]:
            world.refs[body["pnr"]] = (await register(client, keys, body))["ref"]
        await ok(await client.post("/v1/decisions", json=side["decision"], headers=registry))
        for kind in RECORD_KINDS:
            await ok(await client.post(f"/v1/{kind}", json=side[kind], headers=auth(keys[key])))
        await ok(await client.post("/v1/visits", json=side["visits"], headers=auth(keys[key])))
        await ok(await client.post("/v1/claims", json=side["claim"], headers=auth(keys[key])))
    # The month: run, approve A's blocking discrepancies, run again, settle A (four eyes).
    await ok(await client.post("/v1/runs", json={"period": "2024-03"}, headers=admin))
    found = await ok(
        await client.get("/v1/discrepancies?period=2024-03&provider=prov-a&limit=1000", headers=admin)
    )
    for item in found["items"]:
        if item["kind"] == "blocking":
            body = {"decision": "approve", "reason": "checked"}
            await ok(await client.post(f"/v1/discrepancies/{item['id']}/decisions", json=body, headers=admin))
    world.run = (await ok(await client.post("/v1/runs", json={"period": "2024-03"}, headers=admin)))["id"]
    found = await ok(await client.get("/v1/discrepancies?period=2024-03&provider=prov-a", headers=admin))
    world.discrepancy, world.code = found["items"][0]["id"], found["items"][0]["code"]
    lines = await ok(await client.get("/v1/periods/2024-03/providers/prov-a/lines", headers=admin))
    world.line = lines["lines"][0]["id"]
    await ok(await client.post("/v1/reports/comparisons", json=COMPARISON, headers=admin))
    prepared = await ok(
        await client.post("/v1/settlements", json={"provider": "prov-a", "period": "2024-03"}, headers=admin)
    )
    world.settlement = prepared["id"]
    await ok(
        await client.post(
            f"/v1/settlements/{world.settlement}/attestation", headers=auth(keys["invoice_admin_2"])
        )
    )
    return world


def expect(none: int = 401, **allowed: int) -> dict[str, int]:
    """The expected status per caller: the given ones; every other key is refused (403)."""
    return {role: allowed.get(role, none if role == "none" else 403) for role in ROLES}


EVERYONE = dict.fromkeys(ROLES, 200)
RECORD_READ = {"own": 200, "other": 200, "invoice_admin": 200, "auditor": 200}


@dataclass
class Call:
    url: str
    expected: dict[str, int]
    body: Any = None


def operations(w: World) -> dict[tuple[str, str], Call]:
    """(method, OpenAPI path) -> the request every caller sends, and the statuses expected. In the
    order they are called: reads, then writes that replay A's records, then the month's actions."""
    ref = w.refs[PNR_A]
    ops: dict[tuple[str, str], Call] = {
        ("GET", "/health"): Call("/health", dict(EVERYONE)),
        ("GET", "/ready"): Call("/ready", dict(EVERYONE)),
        ("GET", "/metrics"): Call("/metrics", expect(reader=200, auditor=200)),
        ("GET", "/v1/me"): Call("/v1/me", expect(**{r: 200 for r in ROLES if r != "none"})),
        ("GET", "/v1/audit"): Call("/v1/audit?limit=1000", expect(auditor=200)),
        ("GET", "/v1/audit/verification"): Call("/v1/audit/verification", expect(auditor=200)),
        ("GET", "/v1/providers"): Call(
            "/v1/providers", expect(registry=200, invoice_admin=200, reader=200, auditor=200)
        ),
        ("GET", "/v1/providers/{provider_id}"): Call(
            "/v1/providers/prov-a", expect(registry=200, invoice_admin=200, reader=200, auditor=200)
        ),
        ("GET", "/v1/insatser"): Call("/v1/insatser", expect(**{r: 200 for r in ROLES if r != "none"})),
        # The customer registry: a provider its own customers only; reader not at all.
        ("GET", "/v1/customers"): Call(
            "/v1/customers", expect(own=200, other=200, registry=200, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/customers/{ref}"): Call(
            f"/v1/customers/{ref}", expect(own=200, other=404, registry=200, invoice_admin=200, auditor=200)
        ),
        ("POST", "/v1/customers/lookup"): Call(
            "/v1/customers/lookup",
            expect(own=200, other=404, registry=200, invoice_admin=200, auditor=200),
            {"pnr": PNR_A},
        ),
        ("GET", "/v1/decisions"): Call("/v1/decisions", expect(registry=200, invoice_admin=200, auditor=200)),
        ("GET", "/v1/decisions/{decision_id}"): Call(
            "/v1/decisions/D1", expect(registry=200, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/visits"): Call("/v1/visits", expect(**RECORD_READ)),
        ("GET", "/v1/visits/{external_id}"): Call(
            "/v1/visits/VA1?provider=prov-a", expect(own=200, other=403, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/claims"): Call("/v1/claims", expect(**RECORD_READ)),
        ("GET", "/v1/claims/{external_id}"): Call(
            "/v1/claims/KA?provider=prov-a", expect(own=200, other=403, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/tariffs"): Call(
            "/v1/tariffs", expect(**{r: 200 for r in ROLES if r not in ("registry", "none")})
        ),
        ("GET", "/v1/tariffs/{tariff_id}"): Call(
            "/v1/tariffs/kson-2024", expect(**{r: 200 for r in ROLES if r not in ("registry", "none")})
        ),
        ("GET", "/v1/runs"): Call("/v1/runs", expect(invoice_admin=200, auditor=200)),
        ("GET", "/v1/runs/under-way"): Call("/v1/runs/under-way", expect(invoice_admin=200, auditor=200)),
        ("GET", "/v1/runs/{run_id}"): Call(f"/v1/runs/{w.run}", expect(invoice_admin=200, auditor=200)),
        # A run of every provider: a provider key gets its own part only.
        ("GET", "/v1/runs/{run_id}/result"): Call(
            f"/v1/runs/{w.run}/result", expect(own=200, other=200, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/periods/{period}/providers/{provider_id}/lines"): Call(
            "/v1/periods/2024-03/providers/prov-a/lines",
            expect(own=200, invoice_admin=200, reader=200, auditor=200),
        ),
        ("GET", "/v1/periods/{period}/providers/{provider_id}/held"): Call(
            "/v1/periods/2024-03/providers/prov-a/held", expect(own=200, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/lines/{invoice_line_id}"): Call(
            f"/v1/lines/{w.line}", expect(own=200, other=404, invoice_admin=200, reader=200, auditor=200)
        ),
        ("GET", "/v1/discrepancies"): Call("/v1/discrepancies?period=2024-03", expect(**RECORD_READ)),
        ("GET", "/v1/discrepancies/{discrepancy_id}"): Call(
            f"/v1/discrepancies/{w.discrepancy}", expect(own=200, other=404, invoice_admin=200, auditor=200)
        ),
        ("GET", "/v1/settlements"): Call(
            "/v1/settlements", expect(own=200, other=200, invoice_admin=200, reader=200, auditor=200)
        ),
        ("GET", "/v1/settlements/{settlement_id}"): Call(
            f"/v1/settlements/{w.settlement}",
            expect(own=200, other=404, invoice_admin=200, reader=200, auditor=200),
        ),
        ("GET", "/v1/settlements/{settlement_id}/export.csv"): Call(
            f"/v1/settlements/{w.settlement}/export.csv",
            expect(own=200, other=404, invoice_admin=200, reader=200, auditor=200),
        ),
        ("GET", "/v1/feed"): Call("/v1/feed", expect(invoice_admin=200, reader=200, auditor=200)),
    }
    # Follow-up reports of A: a provider key reads its own only (naming another is refused).
    reports = {
        "/v1/reports/followup": "from=2024-03&to=2024-03",
        "/v1/reports/followup/period-over-period": "from=2024-03&to=2024-03&compare_from=2024-02&compare_to=2024-02",
        "/v1/reports/comparison": "period=2024-03&tariff=kson-2024&tariff=kson-2024-min80",
    }
    for path, query in reports.items():
        for suffix in ("", ".csv"):
            ops[("GET", path + suffix)] = Call(
                f"{path}{suffix}?{query}&provider=prov-a",
                expect(own=200, other=403, invoice_admin=200, reader=200, auditor=200),
            )
    for kind in RECORD_KINDS:
        record = A[kind]
        ops[("GET", f"/v1/{kind}")] = Call(f"/v1/{kind}", expect(**RECORD_READ))
        ops[("GET", f"/v1/{kind}/{{external_id}}")] = Call(
            f"/v1/{kind}/{record['id']}?provider=prov-a",
            expect(own=200, other=403, invoice_admin=200, auditor=200),
        )
    # Writes: registry records replayed as they are (200, nothing changes).
    ops |= {
        ("POST", "/v1/providers"): Call(
            "/v1/providers", expect(registry=200), {"id": "prov-a", "orgnr": "5566778899", "name": "PROV-A"}
        ),
        ("PUT", "/v1/providers/{provider_id}"): Call(
            "/v1/providers/prov-a", expect(registry=200), {"orgnr": "5566778899", "name": "PROV-A"}
        ),
        ("POST", "/v1/insatser"): Call(
            "/v1/insatser",
            expect(registry=200),
            {"code": "morgonhjalp", "title": "Morgonhjälp", "category": "omsorg", "report_type": "bistand"},
        ),
        ("PUT", "/v1/insatser/{code}"): Call(
            "/v1/insatser/morgonhjalp",
            expect(registry=200),
            {"title": "Morgonhjälp", "category": "omsorg", "report_type": "bistand"},
        ),
        ("POST", "/v1/customers"): Call("/v1/customers", expect(registry=200), A["customers"][0]),
        ("PUT", "/v1/customers/{ref}"): Call(f"/v1/customers/{ref}", expect(registry=200), {}),
        ("POST", "/v1/customers/{ref}/zones"): Call(
            f"/v1/customers/{ref}/zones", expect(registry=200), A["customers"][0]["zones"][0]
        ),
        ("PUT", "/v1/customers/{ref}/zones"): Call(
            f"/v1/customers/{ref}/zones", expect(registry=200), A["customers"][0]["zones"]
        ),
        ("POST", "/v1/customers/{ref}/choices"): Call(
            f"/v1/customers/{ref}/choices", expect(registry=200), A["customers"][0]["choices"][0]
        ),
        ("PUT", "/v1/customers/{ref}/choices"): Call(
            f"/v1/customers/{ref}/choices", expect(registry=200), A["customers"][0]["choices"]
        ),
        ("PATCH", "/v1/customers/{ref}/choices/{start}"): Call(
            f"/v1/customers/{ref}/choices/2024-01-01", expect(registry=200), {"to": None}
        ),
        ("POST", "/v1/decisions"): Call("/v1/decisions", expect(registry=200), A["decision"]),
        ("PATCH", "/v1/decisions/{decision_id}"): Call(
            "/v1/decisions/D1", expect(registry=200), {"decided": "2024-01-01"}
        ),
        ("POST", "/v1/decisions/{decision_id}/lines"): Call(
            "/v1/decisions/D1/lines", expect(registry=200), A["decision"]["lines"][0]
        ),
        ("PUT", "/v1/decisions/{decision_id}/lines/{line_id}"): Call(
            "/v1/decisions/D1/lines/D1-1", expect(registry=200), A["decision"]["lines"][0]
        ),
        ("PATCH", "/v1/decisions/{decision_id}/lines/{line_id}"): Call(
            "/v1/decisions/D1/lines/D1-1", expect(registry=200), {"to": None}
        ),
        ("POST", "/v1/registry/import"): Call(
            "/v1/registry/import", expect(registry=200), [{"kind": "customer", **A["customers"][0]}]
        ),
    }
    # A's records: A corrects and ends its own (as they are); B finds none of them (404).
    for kind in RECORD_KINDS:
        record = A[kind]
        url = f"/v1/{kind}/{record['id']}"
        ops[("PUT", f"/v1/{kind}/{{external_id}}")] = Call(url, expect(own=200, other=404), record)
        ops[("PATCH", f"/v1/{kind}/{{external_id}}")] = Call(
            url, expect(own=200, other=404), {"to": record["to"]}
        )
    ops[("POST", "/v1/visits/{external_id}/corrections")] = Call(
        "/v1/visits/VA1/corrections", expect(own=200, other=404), {"visit": A["visits"][0], "reason": "same"}
    )
    # A claim of a settled month is not withdrawn any more (409); B has no claim KA (404).
    ops[("POST", "/v1/claims/{external_id}/withdrawal")] = Call(
        "/v1/claims/KA/withdrawal", expect(own=409, other=404)
    )
    # Posting A's records again: a replay for A. From B they are new records of B's own: an
    # enrolment, delegation, visit or claim is B's to send for any number (it learns nothing from
    # the reply: the same for every number); a pause needs B to be chosen, an execution a decision
    # of B's customer: refused, the same as for an unknown number or decision.
    creates = {"executions": 422, "pauses": 422, "enrolments": 201, "delegations": 201}
    for kind in RECORD_KINDS:
        ops[("POST", f"/v1/{kind}")] = Call(f"/v1/{kind}", expect(own=200, other=creates[kind]), A[kind])
        batch = 200 if creates[kind] == 201 else 422
        ops[("POST", f"/v1/{kind}/batch")] = Call(
            f"/v1/{kind}/batch", expect(own=200, other=batch), [A[kind]]
        )
    ops[("POST", "/v1/visits")] = Call("/v1/visits", expect(own=200, other=200), A["visits"][:1])
    ops[("POST", "/v1/claims")] = Call("/v1/claims", expect(own=200, other=201), A["claim"])
    ops[("POST", "/v1/claims/batch")] = Call("/v1/claims/batch", expect(own=200, other=200), [A["claim"]])
    # The month's actions, on a settled month and active tariff: replays or refusals, never a change.
    ops |= {
        ("POST", "/v1/tariffs"): Call("/v1/tariffs", expect(invoice_admin=200), {"source": TARIFF}),
        ("POST", "/v1/tariffs/{tariff_id}/activation"): Call(
            "/v1/tariffs/kson-2024/activation", expect(invoice_admin=409)
        ),
        ("POST", "/v1/discrepancies/{discrepancy_id}/decisions"): Call(
            f"/v1/discrepancies/{w.discrepancy}/decisions",
            expect(invoice_admin=409),
            {"decision": "approve", "reason": "checked"},
        ),
        ("POST", "/v1/discrepancies/decisions"): Call(
            "/v1/discrepancies/decisions",
            expect(invoice_admin=409),
            {
                "filter": {"period": "2024-03", "provider": "prov-a", "code": w.code},
                "decision": "approve",
                "reason": "checked",
            },
        ),
        ("POST", "/v1/settlements"): Call(
            "/v1/settlements", expect(invoice_admin=409), {"provider": "prov-a", "period": "2024-03"}
        ),
        ("POST", "/v1/settlements/{settlement_id}/attestation"): Call(
            f"/v1/settlements/{w.settlement}/attestation", expect(invoice_admin=409)
        ),
        ("POST", "/v1/runs"): Call(
            "/v1/runs", expect(invoice_admin=201), {"period": "2024-03", "provider": "prov-b"}
        ),
        ("POST", "/v1/reports/comparisons"): Call(
            "/v1/reports/comparisons", expect(invoice_admin=201), {**COMPARISON, "provider": "prov-a"}
        ),
    }
    return ops


def secrets(w: World, *pnrs: str, provider: str | None = None) -> set[str]:
    """What identifies these customers (number in full and masked, name, ref) and the provider."""
    found = {provider} if provider else set()
    for pnr in pnrs:
        found |= {pnr, pnr[:8], NAMES[pnr], w.refs[pnr]}
    return found


def hidden_from(w: World) -> dict[str, set[str]]:
    """Per caller, what no reply may show it."""
    a = secrets(w, PNR_A, PNR_B, provider="prov-a")
    b = secrets(w, PNR_C, PNR_D, provider="prov-b")
    protected = {PNR_B, PNR_B[:8], NAMES[PNR_B], PNR_D, PNR_D[:8], NAMES[PNR_D]}
    personal = {x for pnr in NAMES for x in (pnr, pnr[:8], NAMES[pnr])}
    return {
        "own": b | protected,
        "other": a | protected,
        "registry": protected,
        "invoice_admin": set(),
        "auditor": set(),
        "reader": personal,
        "none": a | b,
    }


def shown(response) -> str:
    """The reply's text without a problem's `instance` (the caller's own request path, echoed)."""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        body = response.json()
        body.pop("instance", None)
        return json.dumps(body, ensure_ascii=False)
    return response.text


def documented(app) -> set[tuple[str, str]]:
    schema = app.openapi_schema.to_schema()
    return {(method.upper(), path) for path, item in schema["paths"].items() for method in item}


async def test_every_operation_by_every_caller(app, client, keys):
    world = await build(client, keys)
    ops = operations(world)
    assert set(ops) == documented(app), "give every operation of the API an entry (and remove gone ones)"
    hidden = hidden_from(world)
    wrong, leaks, calls = [], [], 0
    for (method, _path), call in ops.items():
        sent = call.url + (json.dumps(call.body, ensure_ascii=False) if call.body is not None else "")
        for role in ROLES:
            headers = {} if role == "none" else auth(keys[KEYS.get(role, role)])
            kwargs = {} if call.body is None else {"json": call.body}
            response = await client.request(method, call.url, headers=headers, **kwargs)
            calls += 1
            if response.status_code != call.expected[role]:
                wrong.append(f"{method} {call.url} as {role}: {response.status_code} {response.text[:200]}")
            text = shown(response)
            if found := sorted(s for s in hidden[role] if s in text and s not in sent):
                leaks.append(f"{method} {call.url} as {role} shows {found}")
    assert not wrong and not leaks, "\n".join(wrong + leaks)
    assert calls == len(ops) * len(ROLES)
    print(f"isolation matrix: {len(ops)} operations x {len(ROLES)} callers = {calls} requests")
