"""Static files: vendored byte for byte as recorded, served with their types and long caching, and no
page of the service refers to another host."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from service.web.assets import STATIC_DIR, YEAR, static_url

ROOT = Path(__file__).resolve().parents[2]
OURS = {"app.css", "favicon.svg", "schema.js", "vendor.toml"}


def _vendored() -> list[dict]:
    manifest = tomllib.loads((STATIC_DIR / "vendor.toml").read_text(encoding="utf-8"))
    return [
        {"package": p["name"], "version": p["version"], **f} for p in manifest["package"] for f in p["files"]
    ]


def test_vendored_files_are_the_recorded_bytes():
    for entry in _vendored():
        digest = hashlib.sha256((STATIC_DIR / entry["path"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{entry['path']} is not {entry['package']} {entry['version']}"


def test_every_static_file_is_ours_or_recorded():
    present = {p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert present == OURS | {e["path"] for e in _vendored()}


def test_htmx_is_2_0():
    (htmx,) = (e for e in _vendored() if e["package"] == "htmx.org" and e["path"] == "htmx.min.js")
    assert htmx["version"].startswith("2.0.")


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("htmx.min.js", "javascript"),
        ("redoc.standalone.js", "javascript"),
        ("app.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_are_served_typed_and_cached(client, name, media_type):
    url = static_url(name)
    assert re.fullmatch(rf"/static/{re.escape(name)}\?v=[0-9a-f]{{12}}", url)
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == (STATIC_DIR / name).read_bytes()
    assert media_type in response.headers["content-type"]
    cache = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert {"public", f"max-age={YEAR}", "immutable"} <= cache


async def test_static_serves_nothing_outside_its_directory(client):
    for path in ["/static/../pyproject.toml", "/static/%2e%2e/app.py", "/static/missing.js"]:
        assert (await client.get(path)).status_code == 404, path


# An address that leaves the service: absolute (scheme://host) or protocol-relative (//host).
_FOREIGN = r"""(?:[a-z][a-z0-9+.-]*:)?//"""
_REFERENCES = [
    re.compile(rf"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*{_FOREIGN}""", re.I),
    re.compile(rf"""url\(\s*["']?\s*{_FOREIGN}""", re.I),
    re.compile(rf"""@import\s+["']\s*{_FOREIGN}""", re.I),
]


def foreign_references(text: str) -> list[str]:
    return [m.group(0) for pattern in _REFERENCES for m in pattern.finditer(text)]


async def test_pages_may_load_only_from_the_service(client):
    for path in ["/login", "/schema", "/schema/redoc"]:
        policy = dict(
            d.strip().split(" ", 1)
            for d in (await client.get(path)).headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'self'", path
        assert policy["img-src"] == "'self' data:", path
        assert "script-src" not in policy, path  # scripts only from the service: no inline code
    login = (await client.get("/login")).headers["content-security-policy"]
    assert "unsafe-inline" not in login


def test_the_check_finds_references_to_other_hosts():
    page = """<script src="https://cdn.example/x.js"></script><link href='//fonts.example/css'>
    <style>body { background: url( "http://img.example/a.png") }</style><form action=https://x.example>"""
    assert len(foreign_references(page)) == 4
    assert foreign_references('<a href="/schema">x</a><img src="data:image/png;base64,AA">') == []


def _samples(path: str) -> str:
    """A request path for a route: path parameters get a value that exists, or one that does not."""
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: "app.css" if m.group(2) == "path" else "no-such-page", path)


async def test_no_page_refers_to_another_host(app, client):
    """Every GET route outside the JSON API, with every HTML or CSS it answers (a page behind a
    login will need one here to be checked: the login page it would redirect to is checked anyway)."""
    checked = set()
    for route in app.routes:
        if route.path.startswith("/v1/") or "GET" not in route.methods:
            continue
        response = await client.get(_samples(route.path))
        kind = response.headers.get("content-type", "")
        if kind.startswith(("text/html", "text/css")):
            assert foreign_references(response.text) == [], route.path
            checked.add(route.path)
    assert {"/login", "/schema", "/schema/redoc", "/schema/{path:str}", "/static/{file_path:path}"} <= checked


async def test_the_schema_page_loads_redoc_from_the_service(client):
    for path in ["/schema", "/schema/redoc"]:
        response = await client.get(path)
        assert response.status_code == 200
        assert f'src="{static_url("redoc.standalone.js")}"' in response.text
        assert "googleapis" not in response.text
    # The other viewers Litestar offers would load from CDNs; only Redoc is served.
    for viewer in ["swagger", "elements", "rapidoc"]:
        assert (await client.get(f"/schema/{viewer}")).status_code == 404
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    assert (await client.get("/schema/openapi.json")).json() == committed
