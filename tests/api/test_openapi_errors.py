"""The OpenAPI document names every error an operation really answers, as RFC 9457 problems."""

import json

from service.auth import PUBLIC_PATHS
from service.cli import render_openapi

PROBLEM = "application/problem+json"
WRITES = {"post", "put", "patch", "delete"}


def _operations():
    document = json.loads(render_openapi())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_its_errors():
    missing = []
    for path, method, operation in _operations():
        documented = set(operation["responses"])
        expected = set()
        if path not in PUBLIC_PATHS:
            expected |= {"401", "403", "429"}
        if "{" in path:
            expected.add("404")
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        if operation.get("requestBody"):
            expected |= {"400", "413"}
        if method in WRITES:
            expected.add("409")
        if not expected <= documented:
            missing.append(f"{method.upper()} {path}: {sorted(expected - documented)}")
    assert not missing, "\n".join(missing)


def test_every_error_is_a_problem_document():
    wrong = []
    for path, method, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            schema = content.get(PROBLEM, {}).get("schema", {})
            if list(content) != [PROBLEM] or schema.get("$ref") != "#/components/schemas/ProblemDetails":
                wrong.append(f"{method.upper()} {path} {status}: {list(content)}")
    assert not wrong, "\n".join(wrong)


def test_readiness_documents_503():
    document = json.loads(render_openapi())
    assert "503" in document["paths"]["/ready"]["get"]["responses"]
