"""Load a scenario (the format of `examples/2024-03-input.json`) through the HTTP API.

    await load_scenario(client, scenario, keys)

`client` is an httpx-compatible async client pointed at the service; `keys` maps "registry" and
each of the scenario's provider ids to an `Authorization` header value. Providers must exist before
their keys can, so a caller may register them first: posting the same provider again is an
identical replay. Customers and decisions go in through the registry import, provider records,
visits and claims through their batch routes. Records go in the order the service needs (registry first:
executions and pauses require the provider to be chosen for the customer) and, within a kind, each
provider's in the scenario's order, which is arrival order (two providers' batches in flight). Executions are nested in the scenario's decisions without ids; each
gets `<decision id>-X<n>`, n counting that decision's executions from 1.

Review decisions (`review_decisions`) are not records; the engine's scenario command applies them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

import msgspec

from service.usecases.records import MAX_ROWS as RECORD_ROWS
from service.usecases.registry_import import MAX_ROWS as IMPORT_ROWS
from service.usecases.visits import MAX_ROWS


class ScenarioLoadError(RuntimeError):
    """A request of the load was refused; the message names it and quotes the problem."""


class AsyncClient(Protocol):
    async def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


async def _send(client: AsyncClient, key: str, method: str, url: str, body: Any, what: str) -> Any:
    content = msgspec.json.encode(body)
    response = await client.request(
        method, url, content=content, headers={"Authorization": key, "Content-Type": "application/json"}
    )
    if response.status_code >= 400:
        raise ScenarioLoadError(f"{what}: {method} {url} answered {response.status_code}: {response.text}")
    return response.json()


def _by_provider(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record["provider"], []).append(record)
    return grouped


def registry_rows(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's customers and decisions as the rows of a registry import (customers first)."""
    customers = [{"kind": "customer", **c} for c in scenario.get("customers", [])]
    decisions = [
        {"kind": "decision", **{k: v for k, v in d.items() if k != "executions"}}
        for d in scenario.get("decisions", [])
    ]
    return customers + decisions


async def load_scenario(client: AsyncClient, scenario: dict[str, Any], keys: dict[str, str]) -> None:
    registry = keys["registry"]
    for provider in scenario.get("providers", []):
        await _send(client, registry, "POST", "/v1/providers", provider, f"provider {provider['id']}")
    rows = registry_rows(scenario)
    for start in range(0, len(rows), IMPORT_ROWS):
        batch = rows[start : start + IMPORT_ROWS]
        await _send(client, registry, "POST", "/v1/registry/import", batch, "the registry import")
    executions = [
        {**execution, "id": f"{decision['id']}-X{n}", "decision": decision["id"]}
        for decision in scenario.get("decisions", [])
        for n, execution in enumerate(decision.get("executions", []), start=1)
    ]
    for kind, records in (
        ("executions", executions),
        *((kind, scenario.get(kind, [])) for kind in ("enrolments", "pauses", "delegations")),
    ):
        await _post_batches(client, keys, f"/v1/{kind}/batch", records, RECORD_ROWS, kind)
    await _post_batches(client, keys, "/v1/visits", scenario.get("visits", []), MAX_ROWS, "visits")
    await _post_batches(client, keys, "/v1/claims/batch", scenario.get("claims", []), RECORD_ROWS, "claims")


# Providers' batches go in this many at a time: while the service checks one, PostgreSQL merges
# another. Each provider's own batches keep their order (arrival order matters within a provider).
IN_FLIGHT = 2


async def _post_batches(
    client: AsyncClient, keys: dict[str, str], url: str, records: list[dict[str, Any]], limit: int, what: str
) -> None:
    """Each provider's records in batches of at most `limit`, in the scenario's order."""
    turns = asyncio.Semaphore(IN_FLIGHT)

    async def post(provider: str, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), limit):
            async with turns:
                batch = rows[start : start + limit]
                await _send(client, keys[provider], "POST", url, batch, f"{what} of {provider}")

    try:
        async with asyncio.TaskGroup() as group:
            for provider, rows in _by_provider(records).items():
                group.create_task(post(provider, rows))
    except* ScenarioLoadError as refused:  # the first refusal, as if the batches went one by one
        raise refused.exceptions[0] from None
