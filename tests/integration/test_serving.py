"""The service under uvicorn as `kundval serve` starts it (service/serving.py): deadlines for slow
clients, and responses that do not wait for the client's delayed ACK."""

import asyncio
import contextlib
import socket
import time

import httpx
import msgspec
import pytest

from service import serving
from service.app import create_app


@contextlib.asynccontextmanager
async def _served(settings, **changes):
    """The app under uvicorn as the scenario serves it; yields its port."""
    settings = msgspec.structs.replace(settings, port=0, **changes)
    async with serving.in_process(create_app(settings), settings) as url:
        yield int(url.rsplit(":", 1)[1])


async def _closed_within(reader, seconds):
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), seconds)
    return data, time.monotonic() - started


async def test_a_request_head_that_does_not_arrive_in_time_is_closed(settings):
    async with _served(settings, header_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never ends its head
        data, waited = await _closed_within(reader, 5)
        assert data == b"" and waited < 2
        writer.close()
        # A connection that sends nothing at all is closed too.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data, waited = await _closed_within(reader, 5)
        assert data == b"" and waited < 2
        writer.close()


async def test_a_stalled_body_gets_408(settings, keys):
    async with _served(settings, body_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /v1/tariffs HTTP/1.1\r\nHost: x\r\nAuthorization: {keys['invoice_admin']}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"source"'
        )
        data, waited = await _closed_within(reader, 5)
        writer.close()
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert b"application/problem+json" in data and waited < 2


async def test_responses_do_not_wait_for_the_clients_delayed_ack(settings):
    # A response's head and body are written apart; without TCP_NODELAY on the server's side of the
    # connection the body waited ~40 ms for the client's delayed ACK (Nagle's algorithm).
    async with _served(settings) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/health")  # the connection is open
            took = []
            for _ in range(20):
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                took.append(time.perf_counter() - started)
    assert sorted(took)[len(took) // 2] < 0.030, took


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_an_unreachable_database_is_one_line(command, monkeypatch, capsys):
    from service.cli import main

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://kundval@127.0.0.1:{port}/kundval")
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"kundval: cannot reach the database at 127.0.0.1:{port}/kundval: ")
