"""The settlement cycle through the HTTP API (issue 5): decide, prepare, attest, late changes to a
settled period, exact adjustments in the next open period, the feed, and the audit chain.

The worked month (tests/data/2024-03-input.json) under kson-2024, exempel-omsorg. March as settled
here differs from the expected file only by the decisions taken below:
  OVERLAP V10 and V11 approved: V10 (bistand, 20 min) joins the 13 % basis (240 -> 260 min); V11
  (hsl_delegated insulin, 15 min) joins delegerad_ovrig of 194502179387: 15 -> 30 min = 235.00.
  delegerad_ovrig: 156.67 (193805149493, 20 min) + 235.00 = 391.67 for 50 min; the cap is
  0.13 x 260 = 33.8 min, so the total becomes round(391.67 x 33.8 / 50) = 264.77: reduction -126.90.
  NO_REMISS E3 rejected: its held listing is simply not paid.
  Total 37052.07 + (264.77 - 244.40) = 37072.44.
"""

import json
from decimal import Decimal
from uuid import UUID

import pytest

from service.scenario_load import load_scenario
from service.store import apikeys
from tests.api.test_load_worked_month import SCENARIO, scenario_keys
from tests.api.test_reconcile_tariffs import version
from tests.conftest import auth

EXEMPEL = "exempel-omsorg"
PNR_1 = "193805149493"  # D1 (omsorg 30 min a day), delegation G1 (lakemedel): markup
PNR_2 = "194211029188"  # V14: hsl, 2024-03-20, skargard
PNR_4 = "194502179387"  # E3: hemsjukvard enrolment without remiss

# The blocking discrepancies of exempel-omsorg in March, decided by code in bulk.
MARCH_DECISIONS = [
    ("MANUAL_REGISTRATION", "approve", "Taggen var trasig; enhetschef har bekräftat besöket.", None),
    ("EXTRAORDINARY", "approve", "Godkänt enligt handläggarens bedömning, 2 000 kr.", "2000.00"),
    ("OVERLAP", "approve", "Grannar i samma trapphus: besöken gick omlott.", None),
    ("DURING_PAUSE", "reject", "Kunden låg på sjukhus.", None),
    ("LONG_VISIT", "reject", "Nio timmar träningsprogram är inte rimligt.", None),
    ("NOT_CHOSEN_PROVIDER", "reject", "Kunden hade inte valt utföraren den dagen.", None),
    ("NO_ENROLMENT", "reject", "Ingen inskrivning den dagen.", None),
    ("NO_REMISS", "reject", "Remiss saknas.", None),
]
LATE_VISIT = {
    "id": "V25",
    "customer": PNR_1,
    "staff": "S1",
    "staff_category": "underskoterska",
    "report_type": "bistand",
    "start": "2024-03-06T07:30:00+01:00",
    "end": "2024-03-06T08:00:00+01:00",
    "codes": ["morgonhjalp"],
    "method": "tag",
    "status": "performed",
}


@pytest.fixture
async def keys(client, conn):
    """The worked month loaded through the API; two invoice_admins, a reader and an auditor."""
    out = await scenario_keys(client, conn)
    await load_scenario(client, SCENARIO, out)
    for name, role in [
        ("anna", "invoice_admin"),
        ("bo", "invoice_admin"),
        ("finance", "reader"),
        ("ic", "auditor"),
    ]:
        _, key = await apikeys.create(conn, tenant_id="kson", role=role, name=name)
        out[name] = f"Bearer {key}"
    return out


async def call(client, key, method, url, expect=200, **kwargs):
    response = await client.request(method, url, headers=auth(key), **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


async def run(client, keys, period):
    return await call(client, keys["anna"], "POST", "/v1/runs", 201, json={"period": period})


async def bulk(client, keys, period, code, decision, reason, amount=None, **wanted):
    body = {
        "filter": {"period": period, "provider": EXEMPEL, "code": code, **wanted},
        "decision": decision,
        "reason": reason,
        **({"amount": amount} if amount else {}),
    }
    return await call(client, keys["anna"], "POST", "/v1/discrepancies/decisions", json=body)


async def settle(client, keys, period):
    """Prepared by anna, attested by bo (anna herself is refused: four eyes)."""
    prepared = await call(
        client, keys["anna"], "POST", "/v1/settlements", 201, json={"provider": EXEMPEL, "period": period}
    )
    refused = await call(client, keys["anna"], "POST", f"/v1/settlements/{prepared['id']}/attestation", 409)
    assert "four eyes" in refused["detail"]
    return await call(client, keys["bo"], "POST", f"/v1/settlements/{prepared['id']}/attestation")


async def settle_march(client, keys):
    first = await run(client, keys, "2024-03")
    assert next(p for p in first["providers"] if p["provider"] == EXEMPEL)["open_blocking"] == 10
    for code, decision, reason, amount in MARCH_DECISIONS:
        await bulk(client, keys, "2024-03", code, decision, reason, amount)
    second = await run(client, keys, "2024-03")
    assert next(p for p in second["providers"] if p["provider"] == EXEMPEL)["open_blocking"] == 0
    return await settle(client, keys, "2024-03")


async def settle_april(client, keys):
    """April has no visits yet: each customer's granted time is held by GRANTED_WITHOUT_VISITS."""
    await run(client, keys, "2024-04")
    decided = await bulk(
        client, keys, "2024-04", "GRANTED_WITHOUT_VISITS", "approve", "Besöken rapporteras i nästa fil."
    )
    assert decided["decided"] == 4
    april = await run(client, keys, "2024-04")
    return april, await settle(client, keys, "2024-04")


async def late_changes(client, keys):
    """After March is settled: a late visit, a decision line corrected from its start, a corrected visit."""
    stored = await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[LATE_VISIT])
    assert stored == {"inserted": 1, "unchanged": 0}
    line = {
        "id": "D1-1",
        "code": "morgonhjalp",
        "category": "omsorg",
        "minutes": 40,
        "occasions": "1",
        "per": "day",
        "from": "2024-01-01",
    }
    await call(client, keys["registry"], "PUT", "/v1/decisions/D1/lines/D1-1", json=line)
    v14 = next(v for v in SCENARIO["visits"] if v["id"] == "V14")
    corrected = {k: v for k, v in v14.items() if k != "provider"} | {"end": "2024-03-20T13:20:00+01:00"}
    await call(
        client,
        keys[EXEMPEL],
        "POST",
        "/v1/visits/V14/corrections",
        json={"visit": corrected, "reason": "Fel sluttid"},
    )


def adjustments(result, provider=EXEMPEL):
    block = next(p for p in result["providers"] if p["provider"] == provider)
    return {
        (x["original_period"], x["component"], x["adjusts"], x["customer"], x["zone"]): (
            x["quantity"],
            x["unit_price"],
            x["amount"],
        )
        for x in block["adjustments"]
    }


# What the late changes make of March, by hand:
#   D1-1 30 -> 40 min a day from 2024-01-01: 193805149493 has 26 billable days in March
#     (03-01..03-09 and 03-15..03-31; paused 03-10..03-14), so +260 min = +4.3333 h.
#     omsorg tatort 470/h: 1040 min = 8146.67 (was 780 min = 6110.00): +2036.67.
#     delegering_paslag 30/h on the same days (G1 lakemedel): 520.00 (was 390.00): +130.00.
#   V25, a late 30-minute bistand visit: the 13 % basis 260 -> 290 min, the cap 37.7 min, so
#     delegerad_ovrig becomes round(391.67 x 37.7 / 50) = 295.32: the reduction -126.90 -> -96.35, +30.55.
#   V14 corrected 30 -> 20 min (hsl, skargard 700/h): 233.33 (was 350.00): -0.1667 h, -116.67.
#   Together +2080.55; recomputed, March totals 37072.44 + 2080.55 = 39152.99.
MARCH_ADJUSTMENTS = {
    ("2024-03", "omsorg", "line", PNR_1, "tatort"): ("4.3333", "470.00", "2036.67"),
    ("2024-03", "delegering_paslag", "line", PNR_1, "tatort"): ("4.3333", "30.00", "130.00"),
    ("2024-03", "delegerad_ovrig", "reduction", None, None): (None, None, "30.55"),
    ("2024-03", "hemsjukvard_tid", "line", PNR_2, "skargard"): ("-0.1667", "700.00", "-116.67"),
}


async def test_the_settlement_cycle_through_the_api(client, conn, keys):
    admin, auditor, reader = keys["anna"], keys["ic"], keys["finance"]
    march = await settle_march(client, keys)
    assert (march["status"], march["total"], march["attested_by"]) == ("settled", "37072.44", "bo")
    assert march["totals"]["delegerad_ovrig"] == "264.77"

    await late_changes(client, keys)

    # Re-running March leaves its settlement untouched; the period's lines are the recomputed ones.
    rerun = await run(client, keys, "2024-03")
    assert "LATE_DATA" not in rerun["discrepancy_counts"]  # a settled period books nothing into itself
    again = await call(client, admin, "GET", f"/v1/settlements/{march['id']}")
    assert (again["sha256"], again["total"], again["run"]) == (march["sha256"], "37072.44", march["run"])
    current = await call(client, admin, "GET", f"/v1/periods/2024-03/providers/{EXEMPEL}/lines")
    assert current["run"] == rerun["id"] and current["total"] == "39152.99"

    # April: the differences become adjustment lines with a LATE_DATA discrepancy naming them.
    april = await run(client, keys, "2024-04")
    result = await call(client, admin, "GET", f"/v1/runs/{april['id']}/result")
    assert adjustments(result) == MARCH_ADJUSTMENTS
    assert "kson-2024" in april["tariffs"]
    booked = next(p for p in result["providers"] if p["provider"] == EXEMPEL)["adjustments"]
    omsorg = next(x for x in booked if x["component"] == "omsorg")
    assert (omsorg["paid_amount"], omsorg["recomputed_amount"]) == ("6110.00", "8146.67")
    assert omsorg["sources"] == ["D1", "D1-1"] and omsorg["discrepancy"] == "LATE_DATA:exempel-omsorg:2024-03"
    settled_lines = {
        (x["component"], x["customer"], x["zone"]): x
        for x in (await call(client, admin, "GET", f"/v1/settlements/{march['id']}"))["lines"]
    }
    assert (
        len(omsorg["original_lines"]) == 1
        and settled_lines[("omsorg", PNR_1, "tatort")]["amount"] == "6110.00"
    )
    recompute = await call(client, admin, "GET", f"/v1/runs/{omsorg['recompute_run']}")
    assert (recompute["kind"], recompute["period"], recompute["grand_total"]) == (
        "recompute",
        "2024-03",
        "39152.99",
    )
    # April's progress counted the recomputation of settled March as it was stored.
    progress = await conn.fetchrow(
        "SELECT phase, recomputes, recomputed, state FROM run_progress WHERE run_id = $1", UUID(april["id"])
    )
    assert dict(progress) == {"phase": "store", "recomputes": 1, "recomputed": 1, "state": "done"}
    late = next(x for x in result["discrepancies"] if x["code"] == "LATE_DATA")
    assert (late["key"], late["kind"], late["date"]) == (
        "LATE_DATA:exempel-omsorg:2024-03",
        "info",
        "2024-03",
    )
    (part,) = late["parameters"]
    assert part["period"] == "2024-03" and part["difference_amount"] == "+2080.55"
    changed = next(c for c in part["changes"] if c["paid_amount"] == "6110.00")
    assert (changed["recomputed_amount"], changed["difference_amount"]) == ("8146.67", "+2036.67")
    assert late["detail"].startswith("mars 2024 ändrades efter att perioden reglerats")
    assert (
        "+2\xa0080,55 kr" in late["detail"]
        and "6\xa0110,00 kr → 8\xa0146,67 kr (+2\xa0036,67 kr)" in late["detail"]
    )
    # customers are named by reference in the explanation
    assert PNR_1 not in late["detail"] and PNR_1 not in json.dumps(late["parameters"])
    line = await call(client, admin, "GET", f"/v1/lines/{omsorg['id']}")
    assert line["kind"] == "adjustment" and [d["id"] for d in line["trail"]["decision_lines"]] == ["D1-1"]
    assert line["trail"]["decision_lines"][0]["minutes"] == "40"
    provider_view = await call(client, keys[EXEMPEL], "GET", f"/v1/runs/{april['id']}/result")
    assert adjustments(provider_view) == MARCH_ADJUSTMENTS

    # Re-running April books the same differences again, never twice.
    april_again = await run(client, keys, "2024-04")
    result_again = await call(client, admin, "GET", f"/v1/runs/{april_again['id']}/result")
    assert adjustments(result_again) == MARCH_ADJUSTMENTS

    # Settle April: its lines, and the adjustments of March with their original period.
    april_run, april_settled = await settle_april(client, keys)
    assert april_settled["run"] == april_run["id"]
    april_result = await call(client, admin, "GET", f"/v1/runs/{april_run['id']}/result")
    assert adjustments(april_result) == MARCH_ADJUSTMENTS
    block = next(p for p in april_result["providers"] if p["provider"] == EXEMPEL)
    own = sum(Decimal(x["amount"]) for x in block["lines"] + block["reductions"])
    assert Decimal(april_settled["total"]) == own + Decimal("2080.55")
    frozen = await call(client, reader, "GET", f"/v1/settlements/{april_settled['id']}")
    moved = [x for x in frozen["lines"] if x["kind"] == "adjustment"]
    assert sorted((x["component"], x["amount"], x["original_period"]) for x in moved) == [
        ("delegerad_ovrig", "30.55", "2024-03"),
        ("delegering_paslag", "130.00", "2024-03"),
        ("hemsjukvard_tid", "-116.67", "2024-03"),
        ("omsorg", "2036.67", "2024-03"),
    ]
    assert all(x["customer"] is None or not x["customer"].isdigit() for x in moved)  # masked for readers
    csv = (
        await client.get(f"/v1/settlements/{april_settled['id']}/export.csv", headers=auth(reader))
    ).content.decode("utf-8-sig")
    assert any(
        row.startswith("2024-04;exempel-omsorg;adjustment;omsorg;") and row.endswith(";2036,67;2024-03")
        for row in csv.split("\r\n")
    )

    feed = await call(client, reader, "GET", "/v1/feed")
    assert [
        (x["position"], x["kind"], x["period"], x["original_period"], x["amount"]) for x in feed["items"]
    ] == [
        (1, "settlement", "2024-03", None, "37072.44"),
        (2, "settlement", "2024-04", None, april_settled["total"]),
        (3, "adjustment", "2024-04", "2024-03", "2080.55"),
    ]

    # May: March is paid in full now (settled lines plus April's adjustments): nothing to book.
    may = await run(client, keys, "2024-05")
    assert "LATE_DATA" not in may["discrepancy_counts"]
    may_result = await call(client, admin, "GET", f"/v1/runs/{may['id']}/result")
    assert adjustments(may_result) == {}
    recomputes = await call(client, admin, "GET", "/v1/runs", params={"kind": "recompute"})
    assert {r["period"] for r in recomputes["items"]} == {"2024-03"}

    # The audit chain verifies; a tampered entry and a truncated tail are each detected.
    assert (await call(client, auditor, "GET", "/v1/audit/verification"))["ok"] is True
    original = await conn.fetchval("SELECT reason FROM audit_log WHERE seq = 5")
    await _tamper(conn, "UPDATE audit_log SET reason = 'forged' WHERE seq = 5")
    tampered = await call(client, auditor, "GET", "/v1/audit/verification")
    assert (tampered["ok"], tampered["first_broken"]) == (False, 5)
    await _tamper(conn, "UPDATE audit_log SET reason = $1 WHERE seq = 5", original)
    assert (await call(client, auditor, "GET", "/v1/audit/verification"))["ok"] is True
    # Remove the tail from April's attestation on, and roll the chain's head record back with it:
    # the chain alone still verifies, but April's settlement recorded a later head.
    anchor = april_settled["audit_head"]["seq"]
    await _tamper(conn, "DELETE FROM audit_log WHERE seq >= $1", anchor - 1)
    await conn.execute(
        "UPDATE audit_head SET seq = a.seq, hash = a.hash FROM audit_log a WHERE a.seq = $1", anchor - 2
    )
    truncated = await call(client, auditor, "GET", "/v1/audit/verification")
    assert (truncated["ok"], truncated["first_broken"]) == (False, anchor - 1)
    assert f"recorded its head at {anchor}" in truncated["problem"]


async def test_a_revised_decision_reaches_each_settled_period_once(client, keys):
    """A decision revised at any time: a prepared period receiving adjustments is prepared again,
    every settled period that changed is adjusted once, and a period may total below zero."""
    admin = keys["anna"]
    await settle_march(client, keys)
    await run(client, keys, "2024-04")
    await bulk(
        client, keys, "2024-04", "GRANTED_WITHOUT_VISITS", "approve", "Besöken rapporteras i nästa fil."
    )
    await run(client, keys, "2024-04")
    prepared = await call(
        client, admin, "POST", "/v1/settlements", 201, json={"provider": EXEMPEL, "period": "2024-04"}
    )

    # NO_REMISS:E3 (the enrolment of 194502179387 from 2024-02-15) is found in March and April alike;
    # revised to approved, the listing fee is paid: 1740.00 a month (tatort, every day enrolled).
    revised = await bulk(
        client,
        keys,
        "2024-04",
        "NO_REMISS",
        "approve",
        "Remissen har kommit in i efterhand.",
        status="rejected",
    )
    assert revised["decided"] == 1
    stale = await call(client, keys["bo"], "POST", f"/v1/settlements/{prepared['id']}/attestation", 409)
    assert "prepare exempel-omsorg 2024-04 again" in stale["detail"]
    april = await run(client, keys, "2024-04")
    result = await call(client, admin, "GET", f"/v1/runs/{april['id']}/result")
    assert adjustments(result) == {
        ("2024-03", "hemsjukvard_listning", "line", PNR_4, "tatort"): ("1.0000", "1740.00", "1740.00")
    }
    await settle(client, keys, "2024-04")

    # Revised back: both settled periods are credited once. May has no visits: its granted time is
    # held, only the listing of 194211029188 (skargard) is paid, so 2175.00 - 2 x 1740.00 = -1305.00.
    back = await bulk(
        client, keys, "2024-04", "NO_REMISS", "reject", "Remissen gällde en annan enhet.", status="approved"
    )
    assert back["decided"] == 1
    may = await run(client, keys, "2024-05")
    result = await call(client, admin, "GET", f"/v1/runs/{may['id']}/result")
    assert adjustments(result) == {
        ("2024-03", "hemsjukvard_listning", "line", PNR_4, "tatort"): ("-1.0000", "1740.00", "-1740.00"),
        ("2024-04", "hemsjukvard_listning", "line", PNR_4, "tatort"): ("-1.0000", "1740.00", "-1740.00"),
    }
    assert {x["key"] for x in result["discrepancies"] if x["code"] == "LATE_DATA"} == {
        "LATE_DATA:exempel-omsorg:2024-03",
        "LATE_DATA:exempel-omsorg:2024-04",
    }
    assert next(p for p in may["providers"] if p["provider"] == EXEMPEL)["total"] == "-1305.00"
    await bulk(client, keys, "2024-05", "GRANTED_WITHOUT_VISITS", "reject", "Inga besök i maj.")
    await run(client, keys, "2024-05")
    credit = await settle(client, keys, "2024-05")
    assert credit["total"] == "-1305.00"
    feed = await call(client, keys["finance"], "GET", "/v1/feed", params={"after": 3})
    assert [(x["kind"], x["original_period"], x["amount"]) for x in feed["items"]] == [
        ("settlement", None, "-1305.00"),
        ("adjustment", "2024-03", "-1740.00"),
        ("adjustment", "2024-04", "-1740.00"),
    ]


async def test_decisions_in_bulk_each_audited_and_seen_by_the_provider(client, conn, keys):
    await run(client, keys, "2024-03")
    for wanted, status in [
        ({"code": "LOW_PERFORMED_SHARE"}, 409),
        ({"code": "DURING_PAUSE", "kind": "info"}, 409),
        ({"code": "NO_SUCH_CODE"}, 422),
    ]:
        body = {
            "filter": {"period": "2024-03", "provider": EXEMPEL, **wanted},
            "decision": "approve",
            "reason": "alla",
        }
        await call(client, keys["anna"], "POST", "/v1/discrepancies/decisions", status, json=body)
    missing_amount = {
        "filter": {"period": "2024-03", "provider": EXEMPEL, "code": "EXTRAORDINARY"},
        "decision": "approve",
        "reason": "ok",
    }
    await call(client, keys["anna"], "POST", "/v1/discrepancies/decisions", 422, json=missing_amount)

    # DURING_PAUSE is blocking on V08 (hsl_delegated) and info on V07 (bistand): V07 is skipped.
    decided = await bulk(client, keys, "2024-03", "DURING_PAUSE", "reject", "Kunden låg på sjukhus.")
    assert decided["matched"] == 2 and decided["decided"] == 1
    assert [(x["key"], x["kind"]) for x in decided["skipped"]] == [
        ("DURING_PAUSE:exempel-omsorg:V07", "info")
    ]
    decided = await bulk(client, keys, "2024-03", "NO_ENROLMENT", "reject", "Ingen inskrivning.")
    assert decided["decided"] == 2
    # Nothing open is left to match; revising needs the status asked for.
    assert (await bulk(client, keys, "2024-03", "NO_ENROLMENT", "approve", "x"))["matched"] == 0
    revised = await bulk(
        client,
        keys,
        "2024-03",
        "NO_ENROLMENT",
        "approve",
        "Inskrivningen var registrerad på papper.",
        status="rejected",
    )
    assert revised["decided"] == 2

    entries = await conn.fetch(
        "SELECT entity_ids, reason, after FROM audit_log WHERE action = 'discrepancy.decide' ORDER BY seq"
    )
    assert len(entries) == 5  # one per decision, each its own entry
    assert entries[-1]["after"]["bulk"] == {
        "period": "2024-03",
        "provider": EXEMPEL,
        "code": "NO_ENROLMENT",
        "kind": None,
        "status": "rejected",
    }
    assert {str(i) for e in entries[-2:] for i in e["entity_ids"]} == set(revised["ids"])

    # The provider sees each decision on its own discrepancies, with the reasons, revisions included.
    own = await call(client, keys[EXEMPEL], "GET", f"/v1/discrepancies/{revised['ids'][0]}")
    assert [(h["decision"], h["reason"], h["in_force"]) for h in own["history"]] == [
        ("reject", "Ingen inskrivning.", False),
        ("approve", "Inskrivningen var registrerad på papper.", True),
    ]
    assert own["discrepancy"]["decision"]["reason"] == "Inskrivningen var registrerad på papper."
    listed = await call(
        client,
        keys[EXEMPEL],
        "GET",
        "/v1/discrepancies",
        params={"period": "2024-03", "code": "NO_ENROLMENT"},
    )
    assert {x["decision"]["decision"] for x in listed["items"]} == {"approve"}
    other = await client.get(f"/v1/discrepancies/{revised['ids'][0]}", headers=auth(keys["skargardens-vard"]))
    assert other.status_code == 404


async def test_a_tariff_version_used_by_a_settlement_is_never_replaced(client, keys):
    admin, second = keys["anna"], keys["bo"]
    corrected = version("kson-2024b", "2024-02-01").replace('price = "1000.00"', 'price = "1100.00"')
    await call(client, admin, "POST", "/v1/tariffs", 201, json={"source": corrected})
    await settle_march(client, keys)

    refused = await call(client, second, "POST", "/v1/tariffs/kson-2024b/activation", 409)
    assert "never replaced" in refused["detail"] and refused["settled_through"] == "2024-03"
    early = version("kson-2024-mid", "2024-03-15")
    refused = await call(client, admin, "POST", "/v1/tariffs", 409, json={"source": early})
    assert "must start after 2024-03-31" in refused["detail"]
    later = version("kson-2024-apr", "2024-04-01")
    await call(client, admin, "POST", "/v1/tariffs", 201, json={"source": later})
    activated = await call(client, second, "POST", "/v1/tariffs/kson-2024-apr/activation")
    assert activated["status"] == "active"


async def _tamper(conn, sql, *args):
    # Only an owner bypassing the trigger can change entries; verification must still catch it.
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute(sql, *args)
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_only_changes_that_reach_a_settled_period_recompute_it(client, keys):
    admin = keys["anna"]
    await settle_march(client, keys)
    april_visit = LATE_VISIT | {
        "id": "V26",
        "start": "2024-04-02T07:30:00+02:00",
        "end": "2024-04-02T08:00:00+02:00",
    }
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[april_visit])
    delegation = {"id": "G3", "customer": PNR_2, "code": "ogondroppar", "from": "2024-04-05"}
    await call(client, keys[EXEMPEL], "POST", "/v1/delegations", 201, json=delegation)
    await run(client, keys, "2024-04")
    assert (await call(client, admin, "GET", "/v1/runs", params={"kind": "recompute"}))["items"] == []

    # A late SIP claim in March (the customer is exempel-omsorg's): paid 1000.00 as an adjustment.
    claim = {"id": "K12", "type": "sip", "date": "2024-03-28", "customer": PNR_4, "role": "kallat"}
    await call(client, keys[EXEMPEL], "POST", "/v1/claims", 201, json=claim)
    april = await run(client, keys, "2024-04")
    result = await call(client, admin, "GET", f"/v1/runs/{april['id']}/result")
    assert adjustments(result) == {("2024-03", "sip", "line", PNR_4, None): ("1", "1000.00", "1000.00")}

    # A late visit needing a decision: its MANUAL_REGISTRATION is carried into April, which cannot be
    # prepared before it is decided; approved, the visit is paid inside March, under March's cap:
    # 10 min hsl_delegated, landsbygd 540/h = 90.00; delegerad_ovrig 391.67 + 90.00 = 481.67 for 60 min,
    # capped at 33.8 min: round(481.67 x 33.8 / 60) = 271.34, the reduction -126.90 -> -210.33: -83.43.
    manual = LATE_VISIT | {
        "id": "V27",
        "customer": PNR_2,
        "staff": "S8",
        "staff_category": "vardbitrade",
        "report_type": "hsl_delegated",
        "start": "2024-03-07T10:00:00+01:00",
        "end": "2024-03-07T10:10:00+01:00",
        "codes": ["insulin"],
        "method": "manual",
    }
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[manual])
    april = await run(client, keys, "2024-04")
    result = await call(client, admin, "GET", f"/v1/runs/{april['id']}/result")
    carried = next(x for x in result["discrepancies"] if x["code"] == "MANUAL_REGISTRATION")
    assert (carried["key"], carried["date"], carried["status"]) == (
        "MANUAL_REGISTRATION:exempel-omsorg:V27",
        "2024-03-07",
        "open",
    )
    refused = await call(
        client, admin, "POST", "/v1/settlements", 409, json={"provider": EXEMPEL, "period": "2024-04"}
    )
    assert "MANUAL_REGISTRATION:exempel-omsorg:V27" in refused["undecided"]
    assert adjustments(result) == {("2024-03", "sip", "line", PNR_4, None): ("1", "1000.00", "1000.00")}
    await bulk(client, keys, "2024-04", "MANUAL_REGISTRATION", "approve", "Taggen saknades; bekräftat.")
    april = await run(client, keys, "2024-04")
    result = await call(client, admin, "GET", f"/v1/runs/{april['id']}/result")
    assert adjustments(result) == {
        ("2024-03", "sip", "line", PNR_4, None): ("1", "1000.00", "1000.00"),
        ("2024-03", "delegerad_ovrig", "line", PNR_2, "landsbygd"): ("0.1667", "540.00", "90.00"),
        ("2024-03", "delegerad_ovrig", "reduction", None, None): (None, None, "-83.43"),
    }


async def test_every_run_stored_is_audited_once(client, conn, keys):
    """A run request writes one audit entry per run it stored: the recomputations of settled periods
    it booked adjustments from, then the run itself (service/usecases/runs.py, start_run)."""
    await settle_march(client, keys)
    await late_changes(client, keys)
    await run(client, keys, "2024-04")
    entries = await conn.fetch(
        "SELECT entity_ids, after FROM audit_log WHERE action = 'run.create' ORDER BY seq"
    )
    stored = await conn.fetch(
        """SELECT r.id, r.kind, r.period, (SELECT count(*) FROM run_lines l WHERE l.run_id = r.id) AS lines
           FROM runs r ORDER BY r.seq"""
    )
    assert [e["entity_ids"] for e in entries] == [[str(r["id"])] for r in stored]
    assert [(e["after"]["kind"], e["after"]["period"], e["after"]["lines"]) for e in entries] == [
        (r["kind"], r["period"], r["lines"]) for r in stored
    ]
    assert [r["kind"] for r in stored][-2:] == ["recompute", "real"]


async def test_runs_rulings_and_settlements_each_log_one_event_without_personal_data(client, keys, capsys):
    """Operations follow the books in the log (service/events.py): one line per run stored, ruling and
    settlement step, with ids, periods and amounts only."""
    capsys.readouterr()
    settled = await settle_march(client, keys)
    await late_changes(client, keys)
    await run(client, keys, "2024-04")
    out = capsys.readouterr().err
    events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    named = lambda name: [e for e in events if e["event"] == name]  # noqa: E731
    assert [(e["kind"], e["period"]) for e in named("run.stored")] == [
        ("real", "2024-03"),
        ("real", "2024-03"),
        ("recompute", "2024-03"),
        ("real", "2024-04"),
    ]
    ruled = named("discrepancy.ruled")
    assert len(ruled) == 10 and all(e["bulk"] and e["provider"] == EXEMPEL for e in ruled)
    assert [(e["event"], e["settlement"]) for e in events if e["event"].startswith("settlement.")] == [
        ("settlement.prepare", settled["id"]),
        ("settlement.attest", settled["id"]),
    ]
    assert named("settlement.attest")[0]["sha256"] == settled["sha256"]
    for pnr in (PNR_1, PNR_2, PNR_4):
        assert pnr not in out and pnr[2:8] not in out
