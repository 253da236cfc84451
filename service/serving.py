"""The app under uvicorn, as `kundval serve` and `kundval scenario run` start it, with deadlines for
slow clients: a request's head must arrive within KUNDVAL_HEADER_TIMEOUT seconds of the connection
opening (or of the previous response), and a body may leave the app waiting at most
KUNDVAL_BODY_TIMEOUT seconds for its next part (then 408)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import Settings


class NotStarted(RuntimeError):
    pass


class _HeadDeadline(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol on httptools (a C parser: h11's pure-Python one cost several times
    its CPU per request), closing a connection whose request head is not complete in time (uvicorn
    itself waits for ever for a first request, and for any head once its first byte came)."""

    header_timeout = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request already read is not waited for.
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def server(app: ASGIApp, settings: Settings) -> uvicorn.Server:
    """A uvicorn server for the app on settings.host and settings.port (0: a free port)."""
    protocol = type("HeadDeadline", (_HeadDeadline,), {"header_timeout": settings.header_timeout})
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            http=protocol,
            # uvloop (libuv) where it is installed, every platform but Windows: cheaper per request
            # than asyncio's own loop.
            loop="auto",
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )


@contextlib.asynccontextmanager
async def in_process(app: ASGIApp, settings: Settings) -> AsyncIterator[str]:
    """The app served in this event loop until the block ends (a scenario, tests); yields its base URL.

    uvicorn binds the port itself (settings.port 0: a free one): asyncio then sets TCP_NODELAY on each
    connection, which it skips on a socket made by hand without IPPROTO_TCP; without it every response
    waited ~40 ms for the client's delayed ACK between its head and its body (Nagle's algorithm).
    """
    server_ = server(app, settings)
    task = asyncio.create_task(server_.serve())
    try:
        while not server_.started:
            if task.done():
                raise NotStarted("the service did not start (see the log above)")
            await asyncio.sleep(0.02)
        host, port = server_.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server_.should_exit = True
        await task


def body_deadline_middleware(app: ASGIApp, seconds: float) -> ASGIApp:
    """Answer 408 (and close) when the app has waited `seconds` for the next part of a body."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        complete = False

        async def receive_in_time() -> Message:
            # Once the body is in, a wait (a streamed response listening for a disconnect) is no
            # client's delay.
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(seconds):  # a timer, not wait_for's task per message
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    status_code=408,
                    detail=f"the request body stalled for {seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await app(scope, receive_in_time, send)

    return middleware
