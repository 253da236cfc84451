"""`kundval scenario run INPUT.json [--tariff ID]`: a scenario month, end to end, over HTTP.

A fresh database (an embedded PostgreSQL in a temporary directory, or a throwaway database that
KUNDVAL_MIGRATION_URL's role makes on its server) and the service itself, connecting as its own role
and started in-process under uvicorn on a free loopback port. Everything then goes through the public
HTTP API with an ordinary HTTP client (httpx), as the registry, the providers and the invoice administrator would: the records (service/scenario_load.py),
a run, the scenario's review decisions through the decision endpoint (each discrepancy looked up by
its key in the run's list, filtered by provider and code), a second run, and its result document.

With a forced tariff both runs are what-ifs: every day of the period is priced under that version.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec

from service import db, serving
from service.domain.principal import Principal, Role
from service.embedded import EmbeddedPostgres
from service.scenario_load import ScenarioLoadError, load_scenario
from service.settings import Settings
from service.usecases import keys, system


class ScenarioError(RuntimeError):
    """The scenario cannot be run; the message says which part and why."""


def read_scenario(data: bytes, source: str) -> dict[str, Any]:
    try:
        scenario = msgspec.json.decode(data)
    except msgspec.DecodeError as err:
        raise ScenarioError(f"{source} is not valid JSON: {err}") from None
    if not isinstance(scenario, dict):
        raise ScenarioError(f"{source}: a scenario is a JSON object")
    for field in ("tenant", "period"):
        if not isinstance(scenario.get(field), str):
            raise ScenarioError(f"{source}: `{field}` is required (a string)")
    return scenario


@contextlib.asynccontextmanager
async def _fresh_database(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """A database of our own for one scenario, removed afterwards: its owner's DSN and the service's."""
    if settings.database_url:
        if not settings.migration_url:
            raise ScenarioError(
                "with DATABASE_URL a scenario needs KUNDVAL_MIGRATION_URL too: that role makes, migrates "
                "and drops a throwaway database on the server, and the service connects as DATABASE_URL's"
            )
        name = f"kundval_scenario_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(settings.migration_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                yield (
                    _with_database(settings.migration_url, name),
                    _with_database(settings.database_url, name),
                )
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        return
    folder = tempfile.mkdtemp(prefix="kundval-scenario-")
    server = EmbeddedPostgres(folder)
    try:
        owner = await asyncio.to_thread(server.start)
        try:
            yield owner, server.dsn(server.database, db.SERVICE_ROLE)
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def _keys(owner: str, tenant: str, roles: dict[str, tuple[Role, str | None]]) -> dict[str, str]:
    """`Authorization` values of new keys by name, made as on the command line (never over the API), in
    the database migrated (as its owner) with the tenant in place."""
    conn = await db.connect(owner)
    try:
        await db.migrate(conn)
        async with conn.transaction():
            await system.add_tenant(conn, tenant)
            operator = Principal.cli(tenant, "scenario")
            made = {}
            for name, (role, provider) in roles.items():
                _, key = await keys.create(
                    conn, operator, role=role, name=f"scenario:{name}", provider=provider
                )
                made[name] = f"Bearer {key}"
            return made
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _serving(dsn: str, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service under uvicorn on a free loopback port, and a client talking HTTP to it."""
    from service.app import create_app

    settings = Settings(
        database_url=dsn, default_tenant=tenant, log_level="warning", log_format="json", port=0
    )
    try:
        async with (
            serving.in_process(create_app(settings), settings) as url,
            httpx.AsyncClient(base_url=url, timeout=600) as client,
        ):
            yield client
    except serving.NotStarted as err:
        raise ScenarioError(str(err)) from None


async def _analyze(owner: str) -> None:
    """Statistics for the tables just loaded. A database filled in seconds has none until
    autovacuum's next round (up to a minute later), and without them the run's planner takes the
    tables for nearly empty: a Norrtälje month's run took ~19 s instead of ~1.5 s. Only the tables'
    owner may analyze them (the service's role owns nothing)."""
    conn = await db.connect(owner)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _call(client: httpx.AsyncClient, key: str, method: str, url: str, **kwargs: Any) -> Any:
    response = await client.request(method, url, headers={"Authorization": key}, **kwargs)
    if response.status_code >= 400:
        raise ScenarioError(f"{method} {url} answered {response.status_code}: {response.text}")
    return response.json()


async def _find(client: httpx.AsyncClient, key: str, run_id: str, wanted: str) -> dict[str, Any] | None:
    """The discrepancy with this key in the run, through the list filtered by its provider and code."""
    code, provider = wanted.split(":", 2)[:2]
    params: dict[str, str] = {"run": run_id, "provider": provider, "code": code, "limit": "1000"}
    while True:
        page = await _call(client, key, "GET", "/v1/discrepancies", params=params)
        for item in page["items"]:
            if item["key"] == wanted:
                return item
        if page["next_after"] is None:
            return None
        params["after"] = page["next_after"]


async def _review(
    client: httpx.AsyncClient, key: str, run_id: str, decisions: list[dict[str, Any]]
) -> list[str]:
    """Apply the scenario's review decisions; a key the run did not find is a warning."""
    warnings = []
    for index, item in enumerate(decisions):
        wanted = item.get("key")
        if not isinstance(wanted, str) or wanted.count(":") < 2:
            raise ScenarioError(f"review_decisions[{index}]: `key` must be a discrepancy key")
        found = await _find(client, key, run_id, wanted)
        if found is None:
            warnings.append(f"review decision on {wanted}: no such discrepancy in the run; not applied")
            continue
        body = {k: item[k] for k in ("decision", "reason", "amount") if item.get(k) is not None}
        await _call(client, key, "POST", f"/v1/discrepancies/{found['id']}/decisions", json=body)
    return warnings


async def run(scenario: dict[str, Any], settings: Settings, tariff: str | None = None) -> dict[str, Any]:
    """The scenario's result document (examples/README.md format)."""
    tenant = scenario["tenant"]
    async with _fresh_database(settings) as (owner, service):
        made = await _keys(
            owner, tenant, {"registry": ("registry", None), "invoice_admin": ("invoice_admin", None)}
        )
        async with _serving(service, tenant) as client:
            for provider in scenario.get("providers", []):
                await _call(client, made["registry"], "POST", "/v1/providers", json=provider)
            made |= await _keys(
                owner, tenant, {p["id"]: ("provider", p["id"]) for p in scenario.get("providers", [])}
            )
            try:
                await load_scenario(client, scenario, made)
            except ScenarioLoadError as err:
                raise ScenarioError(str(err)) from None
            await _analyze(owner)
            admin = made["invoice_admin"]
            request = {"period": scenario["period"], **({"tariff": tariff} if tariff else {})}
            first = await _call(client, admin, "POST", "/v1/runs", json=request)
            warnings = await _review(client, admin, first["id"], scenario.get("review_decisions", []))
            second = await _call(client, admin, "POST", "/v1/runs", json=request)
            result = await _call(client, admin, "GET", f"/v1/runs/{second['id']}/result")
    expected = scenario.get("tariffs")
    if tariff is None and expected is not None and expected != result["tariffs"]:
        warnings.append(
            f"the scenario names tariffs {expected}; the period was priced under {result['tariffs']}"
        )
    result["warnings"] = [*result["warnings"], *warnings]
    return result
