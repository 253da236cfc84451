"""Visits over a real HTTP connection (uvicorn on a loopback port): NDJSON streamed as it is sent,
and a batch whose connection dies half way, on either side, leaves nothing behind."""

import asyncio
import socket

import httpx
import msgspec
import pytest
import uvicorn

from service.app import create_app
from tests.api.ingestion import visit
from tests.conftest import auth

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
async def base_url(settings):
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def _wait_for(conn, query, *args, present=True):
    for _ in range(500):
        # Inside a transaction pg_stat_activity is a snapshot taken at its first read.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        if bool(await conn.fetchval(query, *args)) == present:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {query}")


OPEN_TRANSACTION = """SELECT count(*) FROM pg_stat_activity
                      WHERE datname = current_database() AND state = 'idle in transaction'"""


async def test_ndjson_is_decoded_while_it_streams(base_url, keys, conn):
    sent = asyncio.Event()

    async def lines():
        for i in range(3):
            yield msgspec.json.encode(visit(i)) + b"\n"
        # The handler already holds its transaction while the body is still arriving.
        await _wait_for(conn, OPEN_TRANSACTION)
        sent.set()
        for i in range(3, 6):
            yield msgspec.json.encode(visit(i)) + b"\n"

    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/v1/visits", content=lines(), headers={**auth(keys["provider"]), **NDJSON}
        )
    assert sent.is_set()
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 6, "unchanged": 0}


async def test_a_client_that_disconnects_mid_batch_stores_nothing(base_url, keys, conn):
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            "POST /v1/visits HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-ndjson\r\n"
            f"Authorization: {keys['provider']}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )
    for i in range(50):
        line = msgspec.json.encode(visit(i)) + b"\n"
        writer.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
    await writer.drain()
    await _wait_for(conn, OPEN_TRANSACTION)  # the request is being read inside its transaction
    writer.close()  # the connection dies before the last chunk
    await _wait_for(conn, OPEN_TRANSACTION, present=False)
    assert await conn.fetchval("SELECT count(*) FROM visits") == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'visits.post'") == 0
    del reader


async def test_a_database_connection_killed_during_the_merge_stores_nothing(base_url, keys, conn):
    batch = [visit(i) for i in range(200)]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        async with conn.transaction():
            # Hold the merge at its INSERT, then kill that backend.
            await conn.execute("LOCK TABLE visits IN EXCLUSIVE MODE")
            posting = asyncio.create_task(http.post("/v1/visits", json=batch, headers=auth(keys["provider"])))
            blocked = """SELECT pid FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'
                           AND query LIKE 'INSERT INTO visits%'"""
            await _wait_for(conn, blocked)
            assert await conn.fetchval("SELECT pg_terminate_backend(pid) FROM (" + blocked + ") b")
        response = await posting
        assert response.status_code == 500
        assert await conn.fetchval("SELECT count(*) FROM visits") == 0
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'visits.post'") == 0
        # The service carries on with a fresh connection; the same batch then goes in whole.
        response = await http.post("/v1/visits", json=batch, headers=auth(keys["provider"]))
        assert response.json() == {"inserted": 200, "unchanged": 0}
