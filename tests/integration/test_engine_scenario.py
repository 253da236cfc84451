"""`kundval scenario run` and `kundval tariff load`: the commands, end to end.

The scenario command gets the test server's role as the owner (KUNDVAL_MIGRATION_URL) and the
service's role as DATABASE_URL, so it makes (and drops) a throwaway database there and serves the app on a loopback port: the worked month goes through HTTP.
"""

import asyncio
import copy
import json
from importlib.resources import files

import pytest

from service import db
from service.cli import main
from tests.api.test_reconcile_worked_month import EXPECTED, SCENARIO, comparable
from tests.conftest import with_user


@pytest.fixture
def command(monkeypatch, capsys):
    def run(dsn, *argv, owner=None):
        monkeypatch.setenv("DATABASE_URL", dsn)
        if owner:
            monkeypatch.setenv("KUNDVAL_MIGRATION_URL", owner)
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def scenario(command, server_dsn, tmp_path, data, *extra):
    source = tmp_path / "scenario.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    target = tmp_path / "result.json"
    service = with_user(server_dsn, db.SERVICE_ROLE)
    code, _, err = await asyncio.to_thread(
        command, service, "scenario", "run", str(source), "--output", str(target), *extra, owner=server_dsn
    )
    return code, (json.loads(target.read_text(encoding="utf-8")) if code == 0 else None), err


async def test_the_worked_month_is_exact_under_both_tariffs(command, server_dsn, tmp_path):
    code, result, err = await scenario(command, server_dsn, tmp_path, SCENARIO)
    assert code == 0, err
    assert comparable(result) == comparable(EXPECTED)
    code, result, err = await scenario(command, server_dsn, tmp_path, SCENARIO, "--tariff", "kson-2021")
    assert code == 0, err
    assert (result["kind"], result["tariffs"], result["grand_total"]) == ("whatif", ["kson-2021"], "27349.21")


async def test_an_invalid_scenario_gets_the_apis_clear_errors(command, server_dsn, tmp_path):
    broken = copy.deepcopy(SCENARIO)
    broken["visits"][3]["end"] = broken["visits"][3]["start"]
    code, _, err = await scenario(command, server_dsn, tmp_path, broken)
    assert code == 1 and "POST /v1/visits answered 422" in err and "end" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = await asyncio.to_thread(command, server_dsn, "scenario", "run", str(bad))
    assert code == 1 and "not valid JSON" in err
    code, _, err = await scenario(command, server_dsn, tmp_path, {"tenant": "kson"})
    assert code == 1 and "`period` is required" in err


async def test_tariff_load_stores_a_pending_version(command, database_url, conn, tmp_path):
    text = (files("service") / "data" / "tariffs" / "kson-2024.toml").read_text(encoding="utf-8")
    good = tmp_path / "kson-2025.toml"
    good.write_text(
        text.replace('id = "kson-2024"', 'id = "kson-2025"').replace("2024-02-01", "2025-01-01"),
        encoding="utf-8",
    )
    code, out, err = await asyncio.to_thread(command, database_url, "tariff", "load", str(good))
    assert code == 0, err
    assert "pending" in out
    assert await conn.fetchval("SELECT status FROM tariffs WHERE id = 'kson-2025'") == "pending"
    code, out, _ = await asyncio.to_thread(command, database_url, "tariff", "load", str(good))
    assert code == 0 and "already loaded" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('unit = "hour"', 'unit = "visit"', 1), encoding="utf-8")
    code, _, err = await asyncio.to_thread(command, database_url, "tariff", "load", str(bad))
    assert code == 1 and "component[0].unit" in err
