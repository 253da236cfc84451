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
    ("GET", "/metrics"): {"reader", "auditor"},
}
SAMPLES: dict[str, str] = {}

# Ingestion (issue 3): the registry writes registry data, providers write their own records.
PROVIDERS = {"provider", "provider_b"}
REGISTRY = {"registry"}
REGISTRY_READERS = {"registry", "invoice_admin", "reader", "auditor"}
CASE_READERS = {"registry", "invoice_admin", "auditor"}
RECORD_READERS = PROVIDERS | {"invoice_admin", "auditor"}
MATRIX.update(
    {
        ("POST", "/v1/providers"): REGISTRY,
        ("GET", "/v1/providers"): REGISTRY_READERS,
        ("GET", "/v1/providers/{provider_id:str}"): REGISTRY_READERS,
        ("PUT", "/v1/providers/{provider_id:str}"): REGISTRY,
        ("POST", "/v1/insatser"): REGISTRY,
        ("GET", "/v1/insatser"): ALL,
        ("PUT", "/v1/insatser/{code:str}"): REGISTRY,
        ("POST", "/v1/customers"): REGISTRY,
        ("GET", "/v1/customers"): ALL - {"reader"},
        ("POST", "/v1/customers/lookup"): CASE_READERS | PROVIDERS,
        ("GET", "/v1/customers/{ref:str}"): ALL - {"reader"},
        ("PUT", "/v1/customers/{ref:str}"): REGISTRY,
        ("POST", "/v1/customers/{ref:str}/zones"): REGISTRY,
        ("PUT", "/v1/customers/{ref:str}/zones"): REGISTRY,
        ("POST", "/v1/customers/{ref:str}/choices"): REGISTRY,
        ("PUT", "/v1/customers/{ref:str}/choices"): REGISTRY,
        ("PATCH", "/v1/customers/{ref:str}/choices/{start:date}"): REGISTRY,
        ("POST", "/v1/decisions"): REGISTRY,
        ("GET", "/v1/decisions"): CASE_READERS,
        ("GET", "/v1/decisions/{decision_id:str}"): CASE_READERS,
        ("PATCH", "/v1/decisions/{decision_id:str}"): REGISTRY,
        ("POST", "/v1/decisions/{decision_id:str}/lines"): REGISTRY,
        ("PUT", "/v1/decisions/{decision_id:str}/lines/{line_id:str}"): REGISTRY,
        ("PATCH", "/v1/decisions/{decision_id:str}/lines/{line_id:str}"): REGISTRY,
        ("POST", "/v1/visits"): PROVIDERS,
        ("GET", "/v1/visits"): RECORD_READERS,
        ("GET", "/v1/visits/{external_id:str}"): RECORD_READERS,
        ("POST", "/v1/visits/{external_id:str}/corrections"): PROVIDERS,
        ("POST", "/v1/registry/import"): REGISTRY,
        ("POST", "/v1/claims"): PROVIDERS,
        ("POST", "/v1/claims/batch"): PROVIDERS,
        ("GET", "/v1/claims"): RECORD_READERS,
        ("GET", "/v1/claims/{external_id:str}"): RECORD_READERS,
        ("POST", "/v1/claims/{external_id:str}/withdrawal"): PROVIDERS,
    }
)
for _kind in ("executions", "pauses", "enrolments", "delegations"):
    MATRIX.update(
        {
            ("POST", f"/v1/{_kind}"): PROVIDERS,
            ("POST", f"/v1/{_kind}/batch"): PROVIDERS,
            ("GET", f"/v1/{_kind}"): RECORD_READERS,
            ("GET", f"/v1/{_kind}/{{external_id:str}}"): RECORD_READERS,
            ("PUT", f"/v1/{_kind}/{{external_id:str}}"): PROVIDERS,
            ("PATCH", f"/v1/{_kind}/{{external_id:str}}"): PROVIDERS,
        }
    )
SAMPLES.update(
    {
        "provider_id": "prov-a",
        "code": "morgonhjalp",
        "ref": "CNOSUCHREF0",
        "start": "2024-01-01",
        "decision_id": "D1",
        "line_id": "D1-1",
        "external_id": "X1",
    }
)

# Tariffs and reconciliation (issue 4): invoice_admin runs and decides; providers read their own.
ADMIN = {"invoice_admin"}
MATRIX.update(
    {
        ("POST", "/v1/tariffs"): ADMIN,
        ("GET", "/v1/tariffs"): {"invoice_admin", "auditor", "reader"} | PROVIDERS,
        ("GET", "/v1/tariffs/{tariff_id:str}"): {"invoice_admin", "auditor", "reader"} | PROVIDERS,
        ("POST", "/v1/tariffs/{tariff_id:str}/activation"): ADMIN,
        ("POST", "/v1/runs"): ADMIN,
        ("GET", "/v1/runs"): {"invoice_admin", "auditor"},
        ("GET", "/v1/runs/under-way"): {"invoice_admin", "auditor"},
        ("GET", "/v1/runs/{run_id:uuid}"): {"invoice_admin", "auditor"},
        ("GET", "/v1/runs/{run_id:uuid}/result"): {"invoice_admin", "auditor"} | PROVIDERS,
        # The sample provider is prov-a: the other provider's key is refused.
        ("GET", "/v1/periods/{period:str}/providers/{provider_id:str}/lines"): {
            "invoice_admin",
            "auditor",
            "reader",
            "provider",
        },
        ("GET", "/v1/periods/{period:str}/providers/{provider_id:str}/held"): {
            "invoice_admin",
            "auditor",
            "provider",
        },
        ("GET", "/v1/lines/{invoice_line_id:uuid}"): {"invoice_admin", "auditor", "reader"} | PROVIDERS,
        ("GET", "/v1/discrepancies"): {"invoice_admin", "auditor"} | PROVIDERS,
        ("GET", "/v1/discrepancies/{discrepancy_id:uuid}"): {"invoice_admin", "auditor"} | PROVIDERS,
        ("POST", "/v1/discrepancies/{discrepancy_id:uuid}/decisions"): ADMIN,
    }
)
SAMPLES.update(
    {
        "tariff_id": "kson-2024",
        "period": "2024-03",
        "run_id": "00000000-0000-4000-8000-000000000001",
        "invoice_line_id": "00000000-0000-4000-8000-000000000002",
        "discrepancy_id": "00000000-0000-4000-8000-000000000003",
    }
)

# Settlement (issue 5): invoice_admin prepares and attests; finance systems read and poll.
SETTLEMENT_READERS = {"invoice_admin", "auditor", "reader"} | PROVIDERS
MATRIX.update(
    {
        ("POST", "/v1/settlements"): ADMIN,
        ("POST", "/v1/settlements/{settlement_id:uuid}/attestation"): ADMIN,
        ("GET", "/v1/settlements"): SETTLEMENT_READERS,
        ("GET", "/v1/settlements/{settlement_id:uuid}"): SETTLEMENT_READERS,
        ("GET", "/v1/settlements/{settlement_id:uuid}/export.csv"): SETTLEMENT_READERS,
        ("GET", "/v1/feed"): {"reader", "invoice_admin", "auditor"},
    }
)
SAMPLES["settlement_id"] = "00000000-0000-4000-8000-000000000004"

# Reports (issue 12): figures without personal data for the readers, a provider its own; pricing a
# comparison runs what-ifs (invoice_admin).
REPORT_READERS = {"invoice_admin", "auditor", "reader"} | PROVIDERS
MATRIX.update(
    {
        ("GET", "/v1/reports/followup"): REPORT_READERS,
        ("GET", "/v1/reports/followup.csv"): REPORT_READERS,
        ("GET", "/v1/reports/followup/period-over-period"): REPORT_READERS,
        ("GET", "/v1/reports/followup/period-over-period.csv"): REPORT_READERS,
        ("POST", "/v1/reports/comparisons"): ADMIN,
        ("GET", "/v1/reports/comparison"): REPORT_READERS,
        ("GET", "/v1/reports/comparison.csv"): REPORT_READERS,
    }
)
MATRIX[("POST", "/v1/discrepancies/decisions")] = ADMIN


def _pages(route) -> bool:
    """The workplace's pages take a session, never a key (tests/api/test_sessions.py)."""
    return all(h.opt.get("exclude_from_auth") for h in route.route_handlers)


def _routes(app):
    for route in app.routes:
        if any(route.path.startswith(p) for p in PUBLIC_PATHS) or _pages(route):
            continue
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            yield method, route.path


def test_every_route_is_in_the_matrix_and_guarded(app):
    routes = set(_routes(app))
    assert routes == set(MATRIX), "add new routes to MATRIX (and remove gone ones)"
    for route in app.routes:
        if any(route.path.startswith(p) for p in PUBLIC_PATHS) or _pages(route):
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
