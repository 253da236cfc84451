"""Tariff versions over HTTP: load, four-eyes activation, validity rules, and what runs use."""

import json
from importlib.resources import files

from tests.conftest import auth

SHIPPED = (files("service") / "data" / "tariffs" / "kson-2024.toml").read_text(encoding="utf-8")
SHIPPED_2021 = (files("service") / "data" / "tariffs" / "kson-2021.toml").read_text(encoding="utf-8")


def version(tariff_id: str, valid_from: str, *, source: str = SHIPPED, old: str = "kson-2024") -> str:
    start = "2024-02-01" if old == "kson-2024" else "2021-06-01"
    return source.replace(f'id = "{old}"', f'id = "{tariff_id}"').replace(
        f"valid_from = {start}", f"valid_from = {valid_from}"
    )


async def test_shipped_versions_are_active_from_installation(client, keys):
    listed = (await client.get("/v1/tariffs", headers=auth(keys["provider"]))).json()
    assert [(t["id"], t["status"], t["valid_from"], t["valid_to"]) for t in listed] == [
        ("kson-2021", "active", "2021-06-01", "2024-01-31"),
        ("kson-2024", "active", "2024-02-01", None),
        ("kson-2024-min80", "simulation", "2024-02-01", None),
        ("kson-2024-utford", "simulation", "2024-02-01", None),
    ]
    detail = (await client.get("/v1/tariffs/kson-2024", headers=auth(keys["reader"]))).json()
    assert detail["source"] == SHIPPED and detail["loaded_by"] == "system:shipped"
    assert [c["id"] for c in detail["components"]][:3] == ["omsorg", "service", "delegering_paslag"]
    assert (await client.get("/v1/tariffs/nope", headers=auth(keys["reader"]))).status_code == 404


async def test_a_malformed_file_is_refused_with_the_path_of_the_bad_field(client, keys):
    bad = SHIPPED.replace('tatort = "470.00"', "tatort = 470.00", 1)
    response = await client.post("/v1/tariffs", json={"source": bad}, headers=auth(keys["invoice_admin"]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "source:component[0].rate.tatort"
    response = await client.post(
        "/v1/tariffs",
        json={"source": SHIPPED.replace('basis = "claim"', 'basis = "clam"')},
        headers=auth(keys["invoice_admin"]),
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"].startswith(
        "source:component["
    )


async def test_a_later_version_needs_a_second_admin_and_ends_the_open_ended_one(client, keys, conn):
    admin, second = auth(keys["invoice_admin"]), auth(keys["invoice_admin_2"])
    source = version("kson-2025", "2025-01-01")
    response = await client.post("/v1/tariffs", json={"source": source}, headers=admin)
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert (await client.post("/v1/tariffs", json={"source": source}, headers=admin)).status_code == 200
    changed = source.replace('price = "1000.00"', 'price = "1100.00"')
    response = await client.post("/v1/tariffs", json={"source": changed}, headers=admin)
    assert response.status_code == 409 and "immutable" in response.json()["detail"]
    # A pending version prices nothing real, but a what-if may use it.
    run = (await client.post("/v1/runs", json={"period": "2025-01"}, headers=admin)).json()
    assert run["tariffs"] == ["kson-2024"]
    run = (
        await client.post("/v1/runs", json={"period": "2025-01", "tariff": "kson-2025"}, headers=admin)
    ).json()
    assert (run["kind"], run["tariffs"]) == ("whatif", ["kson-2025"])

    response = await client.post("/v1/tariffs/kson-2025/activation", headers=admin)
    assert response.status_code == 409 and "second invoice_admin" in response.json()["detail"]
    response = await client.post("/v1/tariffs/kson-2025/activation", headers=second)
    assert response.status_code == 200 and response.json()["activated_by"] == "invoice_admin_2"
    listed = {t["id"]: t for t in (await client.get("/v1/tariffs", headers=admin)).json()}
    assert listed["kson-2024"]["valid_to"] == "2024-12-31" and listed["kson-2025"]["status"] == "active"
    run = (await client.post("/v1/runs", json={"period": "2025-01"}, headers=admin)).json()
    assert run["tariffs"] == ["kson-2025"]
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("tariff.load") == 1 and actions.count("tariff.activate") == 1


async def test_overlaps_are_refused_and_a_same_validity_version_replaces(client, keys):
    admin, second = auth(keys["invoice_admin"]), auth(keys["invoice_admin_2"])
    response = await client.post(
        "/v1/tariffs", json={"source": version("early", "2023-06-01")}, headers=admin
    )
    assert response.status_code == 409 and "overlaps" in response.json()["detail"]
    fixed = version("kson-2021b", "2021-06-01", source=SHIPPED_2021, old="kson-2021").replace(
        'tatort = "427.00"', 'tatort = "428.00"'
    )
    assert (await client.post("/v1/tariffs", json={"source": fixed}, headers=admin)).status_code == 201
    assert (await client.post("/v1/tariffs/kson-2021b/activation", headers=second)).status_code == 200
    listed = {t["id"]: t for t in (await client.get("/v1/tariffs", headers=admin)).json()}
    assert (listed["kson-2021"]["status"], listed["kson-2021"]["superseded_by"]) == (
        "superseded",
        "kson-2021b",
    )
    run = (await client.post("/v1/runs", json={"period": "2024-01"}, headers=admin)).json()
    assert run["tariffs"] == ["kson-2021b"]
    assert (await client.post("/v1/tariffs/kson-2021b/activation", headers=second)).status_code == 409


async def test_a_simulation_is_never_in_force_overlaps_and_takes_no_activation(client, keys):
    # followup.md 3: loaded as a simulation, priced only by what-ifs.
    admin, second = auth(keys["invoice_admin"]), auth(keys["invoice_admin_2"])
    source = version("kson-2024-sim", "2024-03-01").replace(
        "valid_from = 2024-03-01", "valid_from = 2024-03-01\nsimulation = true"
    )
    response = await client.post("/v1/tariffs", json={"source": source}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "simulation"  # overlapping kson-2024 and the shipped ones
    response = await client.post("/v1/tariffs/kson-2024-sim/activation", headers=second)
    assert response.status_code == 409
    run = (await client.post("/v1/runs", json={"period": "2024-03"}, headers=admin)).json()
    assert run["tariffs"] == ["kson-2024"]
    for simulation in ("kson-2024-sim", "kson-2024-utford", "kson-2024-min80"):
        body = {"period": "2024-03", "tariff": simulation}
        run = (await client.post("/v1/runs", json=body, headers=admin)).json()
        assert (run["kind"], run["tariffs"]) == ("whatif", [simulation])


async def test_tariff_changes_are_logged_as_events(client, keys, capsys):
    source = version("kson-2026", "2026-01-01")
    await client.post("/v1/tariffs", json={"source": source}, headers=auth(keys["invoice_admin"]))
    await client.post("/v1/tariffs/kson-2026/activation", headers=auth(keys["invoice_admin_2"]))
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    events = [x for x in lines if x["logger"] == "kundval.events"]
    assert [(e["event"], e["tariff"]) for e in events] == [
        ("tariff.loaded", "kson-2026"),
        ("tariff.activated", "kson-2026"),
    ]
    assert events[1]["ends"] == "kson-2024" and events[1]["request_id"]
