"""Bulk visits: all or nothing, idempotent per (provider, external id), every bad row named."""

import hashlib
import json

import msgspec

from tests.api.ingestion import LUHN_BAD, PNR_A, UNKNOWN, errors_of, post_visits, visit
from tests.conftest import auth

NDJSON = {"Content-Type": "application/x-ndjson"}


async def stored(conn, provider="prov-a"):
    rows = await conn.fetch(
        "SELECT external_id FROM visits WHERE provider_id = $1 ORDER BY received_seq", provider
    )
    return [r["external_id"] for r in rows]


async def test_a_batch_is_stored_and_a_replay_stores_nothing(client, keys, conn):
    batch = [visit(i) for i in range(5)]
    response = await post_visits(client, keys["provider"], batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 5, "unchanged": 0}
    assert await stored(conn) == [f"V{i}" for i in range(5)]

    response = await post_visits(client, keys["provider"], batch)
    assert response.json() == {"inserted": 0, "unchanged": 5}
    # A batch overlapping the stored ones: only the new rows are inserted.
    response = await post_visits(client, keys["provider"], [visit(3), visit(9), visit(4)])
    assert response.json() == {"inserted": 1, "unchanged": 2}
    assert await stored(conn) == ["V0", "V1", "V2", "V3", "V4", "V9"]


async def test_rows_keep_their_order_of_arrival(client, keys, conn):
    ids = [7, 3, 11, 1, 5]
    await post_visits(client, keys["provider"], [visit(i) for i in ids])
    assert await stored(conn) == [f"V{i}" for i in ids]
    seqs = await conn.fetch("SELECT received_seq FROM visits ORDER BY received_seq")
    assert len({r["received_seq"] for r in seqs}) == len(ids)


async def test_ndjson_is_accepted(client, keys, conn):
    # Streamed through a real connection: test_visits_stream.py.
    batch = [visit(i) for i in range(4)]
    text = b"".join(msgspec.json.encode(row) + b"\n" for row in batch) + b"\n"  # a blank line is skipped
    response = await client.post("/v1/visits", content=text, headers={**auth(keys["provider"]), **NDJSON})
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 4, "unchanged": 0}
    # The same visits as a JSON array are the same content: unchanged.
    response = await post_visits(client, keys["provider"], batch)
    assert response.json() == {"inserted": 0, "unchanged": 4}


async def test_the_same_instant_with_another_offset_is_the_same_visit(client, keys):
    await post_visits(client, keys["provider"], [visit(1)])
    utc = visit(1, start="2024-03-01T06:01:00Z", end="2024-03-01T07:01:00+00:00")
    response = await post_visits(client, keys["provider"], [utc])
    assert response.json() == {"inserted": 0, "unchanged": 1}


async def test_every_bad_row_is_named_and_nothing_is_stored(client, keys, conn):
    batch = [
        visit(0),
        visit(1, end="2024-03-01T07:01:00+01:00"),  # end not after start
        visit(2, start="2099-01-01T07:00:00+01:00", end="2099-01-01T08:00:00+01:00"),  # future
        visit(3, start="2024-03-01T07:03:00"),  # no offset
        visit(4, customer="1938051494"),  # no century
        visit(5, customer=LUHN_BAD),
        visit(6, customer="19380514X493"),
        visit(7, codes=["morgonhjalp", "flyga"]),  # unknown code
        visit(8, codes=["lakemedel"]),  # an hsl_delegated code on a bistand visit
        visit(9, staff_category="lakare"),
        visit(10, report_type="sol"),
        visit(11, status="done"),
        visit(12, method="app"),
        {**visit(13), "colour": "blue"},  # unknown field
        visit(14, provider="prov-b"),  # another provider's id
        visit(15, codes=[]),
        {k: v for k, v in visit(16).items() if k != "staff"},
        visit(17),
    ]
    response = await post_visits(client, keys["provider"], batch)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:kundval:problem:validation"
    assert errors_of(response) == {
        (1, "end"),
        (2, "start"),
        (3, "start"),
        (4, "customer"),
        (5, "customer"),
        (6, "customer"),
        (7, "codes[1]"),
        (8, "codes[0]"),
        (9, "staff_category"),
        (10, "report_type"),
        (11, "status"),
        (12, "method"),
        (13, "colour"),
        (14, "provider"),
        (15, "codes"),
        (16, "staff"),
    }
    assert "nothing of this batch was stored" in body["detail"]
    assert await stored(conn) == []
    # The messages never repeat an identity number.
    assert LUHN_BAD not in response.text and "19380514" not in response.text


async def test_ndjson_rows_are_named_like_array_elements(client, keys, conn):
    text = b"\n".join(
        [
            msgspec.json.encode(visit(0)),
            b"{not json",
            msgspec.json.encode(visit(2, end="2024-03-01T06:00:00+01:00")),
            msgspec.json.encode(visit(3)),
        ]
    )
    response = await client.post("/v1/visits", content=text, headers={**auth(keys["provider"]), **NDJSON})
    assert response.status_code == 422
    assert errors_of(response) == {(1, None), (2, "end")}
    assert await stored(conn) == []


async def test_a_customer_the_registry_does_not_know_is_stored(client, keys, conn):
    response = await post_visits(client, keys["provider"], [visit(1, customer=UNKNOWN)])
    assert response.json() == {"inserted": 1, "unchanged": 0}
    assert await conn.fetchval("SELECT pnr FROM visits") == UNKNOWN


async def test_the_12_digit_form_with_a_hyphen_is_stored_canonically(client, keys, conn):
    await post_visits(client, keys["provider"], [visit(1, customer="19380514-9493")])
    assert await conn.fetchval("SELECT pnr FROM visits") == PNR_A
    response = await post_visits(client, keys["provider"], [visit(1)])
    assert response.json() == {"inserted": 0, "unchanged": 1}


async def test_changed_content_under_a_stored_id_refuses_the_whole_batch(client, keys, conn):
    await post_visits(client, keys["provider"], [visit(1), visit(2)])
    response = await post_visits(
        client, keys["provider"], [visit(3), visit(2, status="declined"), visit(1, staff="S9")]
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert [c["id"] for c in body["conflicts"]] == ["V2", "V1"]
    assert "/corrections" in body["detail"]
    assert await stored(conn) == ["V1", "V2"]  # V3 was not stored either


async def test_duplicates_inside_a_batch(client, keys, conn):
    response = await post_visits(client, keys["provider"], [visit(1), visit(2), visit(1)])
    assert response.json() == {"inserted": 2, "unchanged": 0}
    response = await post_visits(client, keys["provider"], [visit(5), visit(5, staff="S2")])
    assert response.status_code == 422
    assert errors_of(response) == {(1, "id")}
    assert "row 0" in response.json()["errors"][0]["message"]
    assert await stored(conn) == ["V1", "V2"]


async def test_at_most_ten_thousand_rows(client, keys, conn):
    rows = [visit(i) for i in range(10_001)]
    response = await post_visits(client, keys["provider"], rows)
    assert response.status_code == 413
    assert "10000" in response.json()["detail"]
    text = b"\n".join(msgspec.json.encode(r) for r in rows)
    response = await client.post("/v1/visits", content=text, headers={**auth(keys["provider"]), **NDJSON})
    assert response.status_code == 413
    assert await stored(conn) == []
    response = await post_visits(client, keys["provider"], rows[:10_000])
    assert response.json() == {"inserted": 10_000, "unchanged": 0}


async def test_bodies_that_are_not_batches(client, keys):
    headers = auth(keys["provider"])
    response = await client.post("/v1/visits", content=b"[{", headers=headers)
    assert response.status_code == 400
    response = await client.post("/v1/visits", json={"id": "V1"}, headers=headers)
    assert response.status_code == 422
    response = await client.post(
        "/v1/visits", content=b"id;start", headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 415
    response = await post_visits(client, keys["provider"], [])
    assert response.json() == {"inserted": 0, "unchanged": 0}


async def test_one_audit_entry_per_batch_with_a_summary(client, keys, conn):
    batch = [visit(i) for i in range(3)]
    body = json.dumps(batch).encode()
    await client.post("/v1/visits", content=body, headers=auth(keys["provider"]))
    await client.post("/v1/visits", content=body, headers=auth(keys["provider"]))
    entries = await conn.fetch("SELECT * FROM audit_log WHERE action = 'visits.post' ORDER BY seq")
    assert len(entries) == 2
    first, second = entries
    assert first["provider_id"] == "prov-a" and first["entity_kind"] == "visit_batch"
    assert first["entity_ids"] == ["V0", "V2"]
    assert first["payload_sha256"] == hashlib.sha256(body).hexdigest()
    assert (first["after"]["inserted"], first["after"]["unchanged"]) == (3, 0)
    assert (second["after"]["inserted"], second["after"]["unchanged"]) == (0, 3)
    assert PNR_A not in json.dumps([dict(e) for e in entries], default=str)


async def test_providers_are_kept_apart(client, keys, conn):
    await post_visits(client, keys["provider"], [visit(1)])
    # The same external id is another provider's own record.
    response = await post_visits(client, keys["provider_b"], [visit(1, staff="B1")])
    assert response.json() == {"inserted": 1, "unchanged": 0}
    assert await stored(conn, "prov-b") == ["V1"]

    listing = (await client.get("/v1/visits", headers=auth(keys["provider_b"]))).json()
    assert [(v["provider"], v["staff"]) for v in listing["items"]] == [("prov-b", "B1")]
    response = await client.get("/v1/visits?provider=prov-a", headers=auth(keys["provider_b"]))
    assert [v["provider"] for v in response.json()["items"]] == ["prov-b"]  # the filter cannot widen
    await post_visits(client, keys["provider"], [visit(2)])
    response = await client.get("/v1/visits/V2", headers=auth(keys["provider_b"]))
    assert response.status_code == 404
    response = await client.post(
        "/v1/visits/V2/corrections", json={"visit": visit(2, staff="X")}, headers=auth(keys["provider_b"])
    )
    assert response.status_code == 404
    assert "S1" not in response.text


async def test_lists_mask_numbers_and_page_by_cursor(client, keys):
    await post_visits(client, keys["provider"], [visit(i) for i in range(5)])
    await post_visits(client, keys["provider_b"], [visit(i) for i in range(2)])
    seen, after = [], ""
    while after is not None:
        response = await client.get(f"/v1/visits?limit=3&after={after}", headers=auth(keys["invoice_admin"]))
        page = response.json()
        seen += [(v["provider"], v["id"]) for v in page["items"]]
        after = page["next_after"]
    assert seen == [("prov-a", f"V{i}") for i in range(5)] + [("prov-b", "V0"), ("prov-b", "V1")]
    item = (await client.get("/v1/visits?provider=prov-b", headers=auth(keys["auditor"]))).json()["items"][0]
    assert item["customer"] == "19380514-****"
    march = await client.get("/v1/visits?period=2024-03", headers=auth(keys["provider"]))
    april = await client.get("/v1/visits?period=2024-04", headers=auth(keys["provider"]))
    assert len(march.json()["items"]) == 5 and april.json()["items"] == []
    response = await client.get("/v1/visits?period=2024-13", headers=auth(keys["provider"]))
    assert response.status_code == 422


async def test_a_correction_keeps_the_old_version(client, keys, conn):
    await post_visits(client, keys["provider"], [visit(1)])
    before_seq = await conn.fetchval("SELECT changed_seq FROM visits")
    corrected = visit(1, end="2024-03-01T08:30:00+01:00", status="declined")
    response = await client.post(
        "/v1/visits/V1/corrections",
        json={"visit": corrected, "reason": "Fel sluttid"},
        headers=auth(keys["provider"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2 and response.json()["status"] == "declined"
    assert response.json()["customer"] == PNR_A  # a single view, for the provider's own record
    assert await conn.fetchval("SELECT changed_seq FROM visits") > before_seq

    detail = (await client.get("/v1/visits/V1", headers=auth(keys["provider"]))).json()
    assert detail["visit"]["end"] == "2024-03-01T07:30:00Z"
    [old] = detail["history"]
    assert old["version"] == 1 and old["replaced_by"] == "provider"
    assert old["content"]["status"] == "performed" and old["content"]["customer"] == PNR_A

    # The corrected content is now what a replay must match.
    response = await post_visits(client, keys["provider"], [corrected])
    assert response.json() == {"inserted": 0, "unchanged": 1}
    assert (await post_visits(client, keys["provider"], [visit(1)])).status_code == 409

    # The same correction again changes nothing.
    response = await client.post(
        "/v1/visits/V1/corrections", json={"visit": corrected}, headers=auth(keys["provider"])
    )
    assert response.json()["version"] == 2
    entries = await conn.fetch("SELECT * FROM audit_log WHERE action = 'visit.correct' ORDER BY seq")
    assert entries[0]["reason"] == "Fel sluttid"
    assert entries[0]["before"]["status"] == "performed" and entries[0]["after"]["status"] == "declined"
    assert entries[0]["entity_ids"] == ["prov-a:V1"]


async def test_a_correction_is_checked_like_a_batch_row(client, keys):
    await post_visits(client, keys["provider"], [visit(1)])
    response = await client.post(
        "/v1/visits/V1/corrections",
        json={"visit": visit(2, codes=["flyga"])},
        headers=auth(keys["provider"]),
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"visit.codes[0]", "visit.id"}
    response = await client.post(
        "/v1/visits/V404/corrections", json={"visit": visit(404)}, headers=auth(keys["provider"])
    )
    assert response.status_code == 404
