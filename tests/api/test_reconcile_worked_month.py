"""The worked month (examples/) through the public HTTP API: exact under kson-2024, the kson-2021
what-if, re-runs, decisions, and what each role sees."""

import json
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from service.scenario_load import load_scenario
from service.store import apikeys
from tests.conftest import auth

DATA = Path(__file__).parent.parent / "data"
SCENARIO = json.loads((DATA / "2024-03-input.json").read_text(encoding="utf-8"))


def expected(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"), parse_float=Decimal)


EXPECTED = expected("2024-03-expected.json")
EXEMPEL, SKARGARD = "exempel-omsorg", "skargardens-vard"
PNR = re.compile(r"(?<![0-9])(19|20)[0-9]{10}(?![0-9])")


def _num(value):
    return None if value is None else Decimal(str(value))


def comparable(doc: dict) -> dict:
    """What examples/README.md says must match exactly; list order and extra fields are free."""
    lines, reductions, held, totals = Counter(), Counter(), Counter(), {}
    for p in doc["providers"]:
        pid = p["provider"]
        for x in p["lines"]:
            identity = (pid, x["component"], x["tariff"], x.get("customer"), x.get("zone"), x["unit"])
            amounts = (_num(x["quantity"]), _num(x["unit_price"]), _num(x["amount"]))
            lines[(*identity, *amounts, tuple(sorted(x["sources"])))] += 1
        for x in p["reductions"]:
            reductions[(pid, x["component"], _num(x["amount"]))] += 1
        for x in p["held"]:
            held[
                (
                    pid,
                    x["component"],
                    x.get("customer"),
                    x.get("zone"),
                    x["held_by"],
                    _num(x["amount_if_approved"]),
                )
            ] += 1
        totals[pid] = ({c: _num(a) for c, a in p["totals"].items()}, _num(p["total"]))
    discrepancies = {
        (x["key"], x["code"], x["kind"], x["provider"], x["status"]) for x in doc["discrepancies"]
    }
    followup = doc["followup"]
    return {
        "lines": lines,
        "reductions": reductions,
        "held": held,
        "totals": totals,
        "grand_total": _num(doc["grand_total"]),
        "discrepancies": discrepancies,
        # followup.md 1: every figure, per provider and for the tenant
        "followup": ({x["provider"]: x for x in followup["providers"]}, followup["tenant"]),
    }


@pytest.fixture
async def month(client, conn):
    """The scenario loaded through the API; keys per role by name."""
    keys = {}
    for role in ("registry", "invoice_admin", "reader", "auditor"):
        _, key = await apikeys.create(conn, tenant_id="kson", role=role, name=role)
        keys[role] = f"Bearer {key}"
    _, key = await apikeys.create(conn, tenant_id="kson", role="invoice_admin", name="second")
    keys["invoice_admin_2"] = f"Bearer {key}"
    for provider in SCENARIO["providers"]:
        response = await client.post("/v1/providers", json=provider, headers=auth(keys["registry"]))
        assert response.status_code == 201, response.text
        _, key = await apikeys.create(
            conn, tenant_id="kson", role="provider", name=provider["id"], provider_id=provider["id"]
        )
        keys[provider["id"]] = f"Bearer {key}"
    await load_scenario(client, SCENARIO, keys)
    return keys


async def call(client, key, method, url, expect=200, **kwargs):
    response = await client.request(method, url, headers=auth(key), **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


async def find(client, key, run_id, wanted):
    code, provider = wanted.split(":")[:2]
    page = await call(
        client, key, "GET", "/v1/discrepancies", params={"run": run_id, "provider": provider, "code": code}
    )
    return next(x for x in page["items"] if x["key"] == wanted)


async def reconcile(client, keys, tariff=None):
    """As the scenario command does: run, apply the review decisions, run again."""
    admin = keys["invoice_admin"]
    body = {"period": "2024-03", **({"tariff": tariff} if tariff else {})}
    first = await call(client, admin, "POST", "/v1/runs", 201, json=body)
    for item in SCENARIO["review_decisions"]:
        found = await find(client, admin, first["id"], item["key"])
        decision = {k: item[k] for k in ("decision", "reason", "amount") if k in item}
        await call(client, admin, "POST", f"/v1/discrepancies/{found['id']}/decisions", 201, json=decision)
    second = await call(client, admin, "POST", "/v1/runs", 201, json=body)
    return first, second, await call(client, admin, "GET", f"/v1/runs/{second['id']}/result")


def without_ids(doc):
    return [
        [{k: v for k, v in x.items() if k != "id"} for x in p["lines"] + p["held"] + p["reductions"]]
        for p in doc["providers"]
    ]


async def test_the_worked_month_is_exact_and_reruns_are_identical(client, month):
    first, second, result = await reconcile(client, month)
    assert comparable(result) == comparable(EXPECTED)
    assert result["tariffs"] == ["kson-2024"] and result["kind"] == "real" and result["warnings"] == []
    assert first["providers"][0]["open_blocking"] == 10 and second["providers"][0]["open_blocking"] == 8
    assert second["decision_seq"] > first["decision_seq"] == 0
    assert second["input_marks"] == first["input_marks"] and second["input_seq"] == max(
        first["input_marks"].values()
    )
    # Unchanged inputs and decisions: identical lines (only the line ids are new).
    third = await call(client, month["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    again = await call(client, month["invoice_admin"], "GET", f"/v1/runs/{third['id']}/result")
    assert without_ids(again) == without_ids(result)
    assert again["discrepancies"] == result["discrepancies"]  # the same opaque ids per key


@pytest.mark.parametrize("tariff", ["kson-2021", "kson-2024-utford", "kson-2024-min80"])
async def test_the_worked_month_priced_under_another_tariff_is_exact(client, month, tariff):
    *_, whatif = await reconcile(client, month, tariff=tariff)
    assert whatif["kind"] == "whatif" and whatif["tariffs"] == [tariff]
    assert comparable(whatif) == comparable(expected(f"2024-03-expected.whatif-{tariff}.json"))


async def test_the_worked_month_under_kson_2021_is_a_whatif_kept_apart(client, month):
    *_, real = await reconcile(client, month)
    *_, whatif = await reconcile(client, month, tariff="kson-2021")
    assert (whatif["kind"], whatif["tariffs"], whatif["grand_total"]) == ("whatif", ["kson-2021"], "27349.21")
    counts = whatif["discrepancy_counts"]
    assert counts["NOT_IN_TARIFF"] == 10 and "NO_REMISS" not in counts and "DELEGATED_CAP" not in counts
    # The period's current lines are still the real run's.
    current = await call(
        client, month["invoice_admin"], "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines"
    )
    assert current["run"] == real["run"] and current["kind"] == "real" and current["total"] == "37052.07"
    assert current["totals_by_area"] == {
        "hemrehab": "680.00",
        "hemsjukvard": "4860.53",
        "hemtjanst": "23511.54",
        "ovrigt": "8000.00",
    }
    runs = await call(client, month["invoice_admin"], "GET", "/v1/runs", params={"kind": "whatif"})
    assert [r["tariff"] for r in runs["items"]] == ["kson-2021", "kson-2021"]


async def test_a_provider_sees_its_own_part_phrased_from_its_view(client, month):
    *_, result = await reconcile(client, month)
    mine = await call(client, month[SKARGARD], "GET", f"/v1/runs/{result['run']}/result")
    assert [p["provider"] for p in mine["providers"]] == [SKARGARD]
    assert {d["provider"] for d in mine["discrepancies"]} == {SKARGARD}
    (own,) = mine["followup"]["providers"]  # its own figures only, and their sum
    assert own["provider"] == SKARGARD and own["granted_minutes"] == "96.4286"
    assert mine["followup"]["tenant"] == {k: v for k, v in own.items() if k != "provider"}
    text = json.dumps(mine)
    assert EXEMPEL not in text and "Exempel" not in text
    (not_chosen,) = [d for d in mine["discrepancies"] if d["code"] == "NOT_CHOSEN_PROVIDER"]
    assert not_chosen["detail"] == "Ni är inte kundens valda utförare den 20 mars 2024."
    assert not_chosen["parameters"] == [{"day": "2024-03-20"}]
    english = await client.get(
        f"/v1/discrepancies/{not_chosen['id']}", headers={**auth(month[SKARGARD]), "Accept-Language": "en"}
    )
    assert (
        english.json()["discrepancy"]["detail"]
        == "You are not the customer's chosen provider on March 20, 2024."
    )
    listed = await call(client, month[SKARGARD], "GET", "/v1/discrepancies", params={"period": "2024-03"})
    assert {d["provider"] for d in listed["items"]} == {SKARGARD} and len(listed["items"]) == 3
    await call(client, month[SKARGARD], "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines", 403)
    await call(
        client,
        month[SKARGARD],
        "GET",
        "/v1/discrepancies",
        403,
        params={"period": "2024-03", "provider": EXEMPEL},
    )
    held = await call(client, month[SKARGARD], "GET", f"/v1/periods/2024-03/providers/{SKARGARD}/held")
    assert held["total_if_approved"] == "755.36"
    other = next(d for d in result["discrepancies"] if d["provider"] == EXEMPEL)
    await call(client, month[SKARGARD], "GET", f"/v1/discrepancies/{other['id']}", 404)


async def test_reader_sees_lines_with_customer_references_only(client, month, conn):
    await reconcile(client, month)
    lines = await call(client, month["reader"], "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines")
    assert not PNR.search(json.dumps(lines))
    refs = {r["ref"] for r in await conn.fetch("SELECT ref FROM customers")}
    assert {x["customer"] for x in lines["lines"] if x["customer"]} <= refs
    line = await call(client, month["reader"], "GET", f"/v1/lines/{lines['lines'][0]['id']}")
    assert not PNR.search(json.dumps(line))
    # Reads that showed personnummer are in the audit log, with the customers' references.
    await call(client, month["invoice_admin"], "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines")
    logged = await conn.fetch("SELECT role, entity_ids FROM audit_log WHERE action = 'lines.read'")
    assert [r["role"] for r in logged] == ["invoice_admin"] and set(logged[0]["entity_ids"]) <= refs


async def test_a_line_has_its_full_trail(client, month):
    *_, result = await reconcile(client, month)
    (v21,) = [x for p in result["providers"] for x in p["lines"] if "V21" in x["sources"]]
    line = await call(client, month["auditor"], "GET", f"/v1/lines/{v21['id']}")
    assert (line["component"], line["quantity"], line["quantity_exact"], line["amount"]) == (
        "delegerad_ovrig",
        "0.2500",
        "1/4",
        "117.50",
    )
    (visit,) = line["trail"]["visits"]
    assert (visit["id"], visit["method"], visit["minutes"]) == ("V21", "manual", "15.0000")
    (approval,) = line["trail"]["approvals"]
    assert approval["key"] == "MANUAL_REGISTRATION:exempel-omsorg:V21" and approval["reason"].startswith(
        "Taggen"
    )
    (granted,) = [x for p in result["providers"] for x in p["lines"] if x["sources"] == ["D1", "D1-1"]]
    line = await call(client, month["invoice_admin"], "GET", f"/v1/lines/{granted['id']}")
    assert line["trail"]["days"] == ["2024-03-01..2024-03-09", "2024-03-15..2024-03-31"]
    assert line["trail"]["decision_lines"][0]["minutes"] == "30"


async def test_decisions_need_a_blocking_discrepancy_a_reason_and_for_extraordinary_an_amount(
    client, month, conn
):
    admin = month["invoice_admin"]
    run = await call(client, admin, "POST", "/v1/runs", 201, json={"period": "2024-03"})
    hard = await find(client, admin, run["id"], "SIP_DUPLICATE:exempel-omsorg:K07")
    info = await find(client, admin, run["id"], "TEAM_AMOUNT_CAP:exempel-omsorg:2024-03")
    extra = await find(client, admin, run["id"], "EXTRAORDINARY:exempel-omsorg:K11")
    overlap = await find(client, admin, run["id"], "OVERLAP:exempel-omsorg:V11")
    for found in (hard, info):
        problem = await call(
            client,
            admin,
            "POST",
            f"/v1/discrepancies/{found['id']}/decisions",
            409,
            json={"decision": "approve", "reason": "x"},
        )
        assert problem["type"] == "urn:kundval:problem:conflict"
    await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        422,
        json={"decision": "approve"},
    )
    await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        422,
        json={"decision": "approve", "reason": "   "},
    )
    await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        422,
        json={"decision": "approve", "reason": "ok", "amount": "10.00"},
    )
    await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{extra['id']}/decisions",
        422,
        json={"decision": "approve", "reason": "ok"},
    )
    await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{extra['id']}/decisions",
        422,
        json={"decision": "approve", "reason": "ok", "amount": "1.005"},
    )
    await call(
        client,
        month["reader"],
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        403,
        json={"decision": "approve", "reason": "ok"},
    )

    decided = await call(
        client,
        admin,
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        201,
        json={"decision": "reject", "reason": "dubbelregistrering"},
    )
    assert decided["discrepancy"]["status"] == "rejected" and decided["discrepancy"]["run_status"] == "open"
    revised = await call(
        client,
        month["invoice_admin_2"],
        "POST",
        f"/v1/discrepancies/{overlap['id']}/decisions",
        201,
        json={"decision": "approve", "reason": "bekräftat av enhetschef"},
    )
    assert [h["decision"] for h in revised["history"]] == ["reject", "approve"]
    assert [h["in_force"] for h in revised["history"]] == [False, True]
    entries = await conn.fetch(
        "SELECT actor, reason, entity_ids FROM audit_log WHERE action = 'discrepancy.decide' ORDER BY seq"
    )
    assert [(e["actor"], e["reason"]) for e in entries] == [
        ("invoice_admin", "dubbelregistrering"),
        ("second", "bekräftat av enhetschef"),
    ]
    assert entries[0]["entity_ids"] == [overlap["id"]]
    # The decision applies from the next run, and the status filter reads decisions as they are now.
    approved = await call(
        client, admin, "GET", "/v1/discrepancies", params={"period": "2024-03", "status": "approved"}
    )
    assert [x["key"] for x in approved["items"]] == ["OVERLAP:exempel-omsorg:V11"]
    after = await call(client, admin, "POST", "/v1/runs", 201, json={"period": "2024-03"})
    result = await call(client, admin, "GET", f"/v1/runs/{after['id']}/result")
    assert any("OVERLAP:exempel-omsorg:V11" in x["sources"] for p in result["providers"] for x in p["lines"])


async def test_runs_are_recorded_and_validated(client, month):
    admin = month["invoice_admin"]
    run = await call(client, admin, "POST", "/v1/runs", 201, json={"period": "2024-03", "provider": SKARGARD})
    assert (run["provider"], run["kind"], run["started_by"], run["grand_total"]) == (
        SKARGARD,
        "real",
        "invoice_admin",
        "0.00",
    )
    assert run["input_marks"]["visits"] > 0 and run["duration_ms"] >= 0
    assert await call(client, month["auditor"], "GET", f"/v1/runs/{run['id']}") == run
    await call(client, admin, "POST", "/v1/runs", 422, json={"period": "2024-13"})
    await call(client, admin, "POST", "/v1/runs", 404, json={"period": "2024-03", "provider": "ghost"})
    await call(client, admin, "POST", "/v1/runs", 404, json={"period": "2024-03", "tariff": "ghost"})
    await call(client, admin, "GET", f"/v1/periods/2024-02/providers/{EXEMPEL}/lines", 404)
    await call(client, admin, "GET", "/v1/discrepancies", 422)


async def test_a_corrected_record_reopens_its_decided_discrepancy(client, month):
    await reconcile(client, month)
    v21 = next(v for v in SCENARIO["visits"] if v["id"] == "V21")
    correction = {"visit": {**v21, "end": "2024-03-02T09:35:00+01:00"}, "reason": "fel sluttid"}
    await call(client, month[EXEMPEL], "POST", "/v1/visits/V21/corrections", 200, json=correction)
    run = await call(client, month["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    found = await find(client, month["invoice_admin"], run["id"], "MANUAL_REGISTRATION:exempel-omsorg:V21")
    assert (found["status"], found["run_status"], found["decision"]["in_force"]) == ("open", "open", False)
    after = await call(client, month["invoice_admin"], "GET", f"/v1/runs/{run['id']}/result")
    assert not any("V21" in x["sources"] for p in after["providers"] for x in p["lines"])


async def test_detail_is_a_sentence_in_the_language_asked_for(client, month):
    """`detail` is the catalogue's sentence in Swedish unless Accept-Language prefers English, with
    whole minutes and per cent from the exact figures in `parameters`."""
    *_, result = await reconcile(client, month)
    url, params = "/v1/discrepancies", {"period": "2024-03", "code": "LOW_PERFORMED_SHARE"}
    key = month["invoice_admin"]

    async def details(language=None):
        headers = auth(key) | ({"Accept-Language": language} if language else {})
        items = (await client.get(url, params=params, headers=headers)).json()["items"]
        return {d["key"]: (d["detail"], d["parameters"]) for d in items}

    swedish = await details()
    assert swedish
    for detail, (part,) in swedish.values():
        performed, granted, percent = (
            Decimal(part[k]).quantize(Decimal(1), ROUND_HALF_UP)
            for k in ("performed_minutes", "granted_minutes", "percent")
        )
        assert percent == (
            100 * Decimal(part["performed_minutes"]) / Decimal(part["granted_minutes"])
        ).quantize(Decimal(1), ROUND_HALF_UP)
        sv = lambda n: f"{n:,}".replace(",", "\xa0")  # noqa: E731  (Swedish groups with a no-break space)
        assert detail == f"{sv(performed)} av {sv(granted)} beviljade minuter utfördes ({percent} %)."
    assert await details("sv-SE, en;q=0.5") == swedish
    assert await details("de, fr;q=0.8") == swedish  # neither: Swedish
    english = await details("de, en-GB;q=0.7, sv;q=0.3")
    assert english.keys() == swedish.keys()
    for k, (detail, parameters) in english.items():
        assert parameters == swedish[k][1]
        (part,) = parameters
        performed, granted = (
            f"{Decimal(part[x]).quantize(Decimal(1), ROUND_HALF_UP):,}"
            for x in ("performed_minutes", "granted_minutes")
        )
        assert detail.startswith(f"{performed} of {granted} granted minutes were performed (")
    # The run's result document speaks the language asked for too.
    document = (
        await client.get(f"/v1/runs/{result['run']}/result", headers=auth(key) | {"Accept-Language": "en"})
    ).json()
    shown = {d["key"]: d["detail"] for d in document["discrepancies"] if d["code"] == "LOW_PERFORMED_SHARE"}
    assert shown == {k: v[0] for k, v in english.items()}
    assert "150 of 947 granted minutes were performed (16 %)." in shown.values()


async def test_a_providers_explanations_never_name_another_provider(client, month):
    """In either language and in every document, a provider's discrepancies are explained from its
    own view; the invoice administrator's name the provider."""
    *_, result = await reconcile(client, month)
    providers = {p["id"]: p["name"] for p in SCENARIO["providers"]}
    for provider in providers:
        others = [x for p, name in providers.items() if p != provider for x in (p, name)]
        for language in ("sv", "en"):
            headers = auth(month[provider]) | {"Accept-Language": language}
            listed = await client.get("/v1/discrepancies", params={"period": "2024-03"}, headers=headers)
            document = await client.get(f"/v1/runs/{result['run']}/result", headers=headers)
            explained = [
                (d["detail"], d["parameters"])
                for d in [*listed.json()["items"], *document.json()["discrepancies"]]
            ]
            assert explained and all(d["parameters"] for d in listed.json()["items"])
            text = json.dumps(explained, ensure_ascii=False)
            assert not [x for x in others if x in text], (provider, language)
    admin = await call(
        client, month["invoice_admin"], "GET", "/v1/discrepancies", params={"period": "2024-03"}
    )
    (not_chosen,) = [
        d for d in admin["items"] if d["code"] == "NOT_CHOSEN_PROVIDER" and d["provider"] == SKARGARD
    ]
    assert not_chosen["parameters"] == [{"provider": SKARGARD, "day": "2024-03-20"}]
    assert not_chosen["detail"] == f"{SKARGARD} är inte kundens valda utförare den 20 mars 2024."
