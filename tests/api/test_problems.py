"""Every error is RFC 9457 problem details."""

from litestar import get

from tests.conftest import auth

PROBLEM = "application/problem+json"


def _is_problem(response, status, slug):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:kundval:problem:{slug}"
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_404(client, keys):
    _is_problem(await client.get("/v1/nothing-here", headers=auth(keys["reader"])), 404, "not-found")
    _is_problem(await client.get("/nothing"), 404, "not-found")


async def test_wrong_method_is_405(client, keys):
    _is_problem(await client.delete("/v1/me", headers=auth(keys["reader"])), 405, "method-not-allowed")


async def test_body_over_the_limit_is_413(client, keys, settings):
    body = b"x" * (settings.max_body_bytes + 1)
    response = await client.post("/v1/me", content=body, headers=auth(keys["reader"]))
    detail = _is_problem(response, 413, "payload-too-large")["detail"]
    assert str(settings.max_body_bytes) in detail


async def test_invalid_query_parameter_names_the_field(client, keys):
    response = await client.get("/v1/audit?limit=lots", headers=auth(keys["auditor"]))
    body = _is_problem(response, 422, "validation")
    assert body["errors"][0]["field"] == "limit"
    response = await client.get("/v1/audit?limit=5000", headers=auth(keys["auditor"]))
    assert _is_problem(response, 422, "validation")["errors"][0]["field"] == "limit"


async def test_unhandled_error_is_500_without_internals(app, client, keys, capsys):
    @get("/v1/boom", guards=[], sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    app.register(boom)
    response = await client.get("/v1/boom", headers={**auth(keys["reader"]), "X-Request-ID": "req-500-test"})
    body = _is_problem(response, 500, "internal")
    assert body["request_id"] == "req-500-test"
    assert "SELECT" not in response.text and "Traceback" not in response.text
    logged = capsys.readouterr().err
    assert "SELECT secret FROM internals" in logged  # the trace is in the log, tied to the request id
    assert "req-500-test" in logged
