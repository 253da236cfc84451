"""The role-by-route matrix: every route, every role. Each issue adds its routes to MATRIX."""

import re

import pytest

from service.auth import PUBLIC_PATHS
from tests.conftest import auth

ALL = {"provider", "provider_b", "registry", "invoice_admin", "reader", "auditor"}

# (method, path template) -> the key names allowed. Path parameters are filled from SAMPLES.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/v1/me"): ALL,
    ("GET", "/v1/audit"): {"auditor"},
    ("GET", "/v1/audit/verification"): {"auditor"},
}
SAMPLES: dict[str, str] = {}


def _routes(app):
    for route in app.routes:
        if any(route.path.startswith(p) for p in PUBLIC_PATHS):
            continue
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            yield method, route.path


def test_every_route_is_in_the_matrix_and_guarded(app):
    routes = set(_routes(app))
    assert routes == set(MATRIX), "add new routes to MATRIX (and remove gone ones)"
    for route in app.routes:
        if any(route.path.startswith(p) for p in PUBLIC_PATHS):
            continue
        for handler in route.route_handlers:
            if set(handler.http_methods) - {"HEAD", "OPTIONS"}:  # not Litestar's own OPTIONS handler
                assert handler.guards, f"{route.path} has no guard"


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLES[m.group(1)], template)


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX))
async def test_role_matrix(client, keys, method, template):
    url = _url(template)
    response = await client.request(method, url)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    for name in sorted(ALL):
        response = await client.request(method, url, headers=auth(keys[name]))
        if name in MATRIX[(method, template)]:
            assert response.status_code not in (401, 403), (name, response.text)
        else:
            assert response.status_code == 403, (name, response.status_code)
            assert response.json()["type"] == "urn:kundval:problem:forbidden"


async def test_invalid_and_revoked_keys_are_refused(client, keys, conn):
    response = await client.get("/v1/me", headers={"Authorization": "Bearer kv_not-a-real-key"})
    assert response.status_code == 401
    response = await client.get(
        "/v1/me", headers={"Authorization": keys["reader"].replace("Bearer", "Basic")}
    )
    assert response.status_code == 401
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'reader'")
    response = await client.get("/v1/me", headers=auth(keys["reader"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_me_reports_the_keys_identity(client, keys):
    response = await client.get("/v1/me", headers=auth(keys["provider"]))
    assert response.json() == {
        "tenant": "kson",
        "role": "provider",
        "provider": "prov-a",
        "key_name": "provider",
    }
    response = await client.get("/v1/me", headers=auth(keys["auditor"]))
    assert response.json()["provider"] is None


async def test_only_a_hash_of_the_key_is_stored(conn, keys):
    key = keys["reader"].removeprefix("Bearer ")
    stored = await conn.fetch("SELECT key_hash::text AS h FROM api_keys")
    assert all(key not in r["h"] for r in stored)
    assert (
        await conn.fetchval("SELECT count(*) FROM api_keys WHERE key_hash = sha256($1::bytea)", key.encode())
        == 1
    )
