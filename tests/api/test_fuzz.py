"""Property-based fuzz of the JSON API from its own OpenAPI document (schemathesis, in-process over
ASGI): every operation, called as an invoice_admin, a provider and the registry, never answers a
5xx and always answers as documented (status code, content type, body schema).

Bounded by FUZZ_EXAMPLES (examples per operation, default 12) to keep the suite quick; the longer
run is `tests/bench/fuzz.py`. With FUZZ_REPORT set to a path, the figures are written there.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.ingestion import DECISION, customer, register
from tests.conftest import auth

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# Rows per generated batch: the document allows 10 000, which the coverage phase would send at
# each try; the suite keeps batches small (the bench sends them whole with FUZZ_MAX_ROWS=0).
MAX_ROWS = int(os.environ.get("FUZZ_MAX_ROWS", "20"))
CALLERS = ("invoice_admin", "provider", "registry")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEEN: Counter[str] = Counter()  # requests per operation
SERVER_ERRORS: list[str] = []


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    # A batch route's NDJSON body: the document's schema is one row, sent as one line.
    return json.dumps(value).encode() + b"\n"


@schemathesis.hook
def before_load_schema(context, raw_schema):
    if not MAX_ROWS:
        return
    for operations in raw_schema["paths"].values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if media.get("schema", {}).get("maxItems", 0) > MAX_ROWS:
                    media["schema"]["maxItems"] = MAX_ROWS


@pytest.fixture
async def seeded(client, keys):
    """A customer of prov-a with a decision (the document's examples name them) and a run of the
    month, so that reads of existing records are fuzzed too."""
    await register(client, keys, customer())
    response = await client.post("/v1/decisions", json=DECISION, headers=auth(keys["registry"]))
    assert response.status_code == 201, response.text
    response = await client.post("/v1/runs", json={"period": "2024-03"}, headers=auth(keys["invoice_admin"]))
    assert response.status_code == 201, response.text
    return keys


@pytest.fixture
def api(app, seeded):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    # Negative cases too: requests that break the document must get a documented 4xx, never a 5xx.
    schema.config.generation.update(max_examples=EXAMPLES, modes=["positive", "negative"])
    # The coverage phase (every boundary and each bad value of every field, deterministic) sends
    # some 50 requests per operation and caller: the bench runs it, the suite samples instead.
    schema.config.phases.coverage.enabled = os.environ.get("FUZZ_COVERAGE") == "1"
    if only := os.environ.get("FUZZ_PATH"):  # a regular expression: fuzz only those paths
        schema = schema.include(path_regex=only)
    return schema


schema = schemathesis.pytest.from_fixture("api")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if path := os.environ.get("FUZZ_REPORT"):
        figures = {
            "requests": sum(SEEN.values()),
            "operations": len(SEEN),
            "server_errors": len(SERVER_ERRORS),
            "server_error_samples": SERVER_ERRORS[:20],
        }
        with open(path, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=1)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("FUZZ_RANDOM") is None,
)
def test_every_operation_answers_as_documented(case, seeded):
    for caller in CALLERS:
        response = case.call(headers=auth(seeded[caller]))
        SEEN[case.operation.label] += 1
        if response.status_code >= 500:
            SERVER_ERRORS.append(f"{case.method} {case.formatted_path} as {caller}: {response.status_code}")
        case.validate_response(response, checks=CHECKS)
