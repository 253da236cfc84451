"""GET /metrics: Prometheus text for a reader or an auditor (issue 10, Operations)."""

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import auth


def _samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_parse_and_count_requests(client, keys):
    assert (await client.get("/v1/me", headers=auth(keys["provider"]))).status_code == 200
    response = await client.get("/metrics", headers=auth(keys["reader"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    me = (("method", "GET"), ("route", "/v1/me"), ("status", "200"))
    assert samples[("kundval_http_request_duration_seconds_count", me)] == 1
    assert samples[("kundval_http_request_duration_seconds_sum", me)] > 0
    assert samples[("kundval_feed_position", ())] == 0


async def test_runs_and_discrepancies_are_counted(client, keys):
    run = await client.post("/v1/runs", json={"period": "2024-03"}, headers=auth(keys["invoice_admin"]))
    assert run.status_code == 201, run.text
    samples = _samples((await client.get("/metrics", headers=auth(keys["auditor"]))).text)
    assert samples[("kundval_runs_total", (("kind", "real"),))] == 1
    assert ("kundval_run_duration_seconds_total", (("kind", "real"),)) in samples


async def test_unmatched_paths_are_one_label(client, keys):
    for path in ("/nothing/1", "/nothing/2"):
        assert (await client.get(path)).status_code == 404
    samples = _samples((await client.get("/metrics", headers=auth(keys["reader"]))).text)
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("kundval_http_request_duration_seconds_count", unmatched)] == 2


async def test_only_reader_and_auditor_read_metrics(client, keys):
    for name in ("provider", "registry", "invoice_admin"):
        assert (await client.get("/metrics", headers=auth(keys[name]))).status_code == 403
