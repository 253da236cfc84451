import json

from service import db


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_migrated(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migrations": len(db.migration_files())}


async def test_not_ready_when_a_migration_is_missing(client, conn):
    await conn.execute(
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
    )
    response = await client.get("/ready")
    assert response.status_code == 503
    assert "migrations not applied" in response.json()["detail"]


async def test_request_id_is_returned_and_logged(client, capsys):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = (await client.get("/health", headers={"X-Request-ID": "not valid!"})).headers["x-request-id"]
    assert generated != "not valid!" and len(generated) == 22
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    access = [x for x in lines if x.get("event") == "request" and x.get("request_id") == "abc-123"]
    assert len(access) == 1
    assert access[0]["route"] == "/health" and access[0]["status"] == 200 and access[0]["method"] == "GET"
    assert "duration_ms" in access[0]
