"""Browser tests: the real service on a loopback port, driven by Playwright in Debian's Chromium.

`server` runs the app (`create_app`, a fresh database per test, as tests/conftest.py gives) under
uvicorn in a thread. `page` is a Chromium tab (Playwright's async API, on the tests' event loop)
whose every request is watched: one to any other host is blocked and recorded, and so are script
errors and failed loads of the page's own files; a test that caused any of them fails at teardown,
whatever it asserted itself.

Chromium comes from the machine (`tests/chromium` or `apt-get install chromium`); Playwright's own
browser download cannot work offline. Without it these tests fail, saying how to install it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.async_api import Browser, Page, Request, Response, Route, async_playwright

from service.app import create_app
from service.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = "127.0.0.1"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """The service on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive(), "the service did not start (see the log above)"
        assert time.monotonic() < deadline, "the service did not start within 30 s"
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `tests/chromium` installs it (as root or with sudo; or run"
            " `apt-get install chromium`). `pytest --ignore=tests/web` runs the tests without a browser.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Watch:
    """What a page did that no page of the service may do."""

    offsite: list[str] = field(default_factory=list)  # requests to another host (blocked)
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    broken: list[str] = field(default_factory=list)  # the page's own files that failed to load


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
async def page(browser: Browser, server: str, watch: Watch) -> AsyncIterator[Page]:
    origin = urlsplit(server).netloc
    context = await browser.new_context(base_url=server, locale="sv-SE", timezone_id="Europe/Stockholm")

    async def guard(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == origin:
            await route.continue_()
        else:
            watch.offsite.append(request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", guard)

    def loaded(response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            watch.broken.append(f"{response.status} {response.url}")

    tab = await context.new_page()
    tab.on("pageerror", lambda error: watch.errors.append(str(error)))
    tab.on("response", loaded)
    try:
        yield tab
    finally:
        await context.close()
    assert watch == Watch(), "the page went to another host, raised a script error or missed a file"
