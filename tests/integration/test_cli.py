"""The `kundval` command against a real database (DATABASE_URL)."""

import re

import pytest

from service.cli import main


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("KUNDVAL_HOST", "KUNDVAL_PORT"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv):
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def test_apikey_lifecycle_is_audited(cli, conn):
    await conn.execute(
        "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ('kson', 'p1', '5566778899', 'P1')"
    )
    code, out, _ = await _in_thread(
        cli, "apikey", "create", "--role", "provider", "--provider", "p1", "--name", "Ann"
    )
    assert code == 0
    key_id = re.search(r"created key ([0-9a-f-]{36})", out).group(1)
    key = out.strip().splitlines()[-1]
    assert key.startswith("kv_")
    code, out, _ = await _in_thread(cli, "apikey", "list")
    assert key_id in out and "provider" in out and key not in out
    code, out, _ = await _in_thread(cli, "apikey", "revoke", key_id)
    assert code == 0
    assert await conn.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1::uuid", key_id)
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["apikey.create", "apikey.revoke"]
    code, out, _ = await _in_thread(cli, "audit", "verify")
    assert code == 0 and "2 entries verified" in out


async def test_apikey_create_refuses_bad_combinations(cli):
    code, _, err = await _in_thread(cli, "apikey", "create", "--role", "provider")
    assert code == 1 and "--provider" in err
    code, _, err = await _in_thread(cli, "apikey", "create", "--role", "provider", "--provider", "ghost")
    assert code == 1 and "unknown provider ghost" in err
    code, _, err = await _in_thread(cli, "apikey", "create", "--role", "reader", "--provider", "p1")
    assert code == 1


async def test_audit_verify_reports_a_broken_chain(cli, conn):
    code, out, _ = await _in_thread(cli, "apikey", "create", "--role", "reader")
    code, out, _ = await _in_thread(cli, "apikey", "create", "--role", "auditor")
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    code, out, _ = await _in_thread(cli, "audit", "verify")
    assert code == 1 and "BROKEN at entry 2" in out


async def test_unknown_configuration_fails_naming_it(cli, monkeypatch):
    monkeypatch.setenv("KUNDVAL_LOG_LEVL", "debug")
    code, _, err = await _in_thread(cli, "migrate")
    assert code == 2 and "KUNDVAL_LOG_LEVL" in err


async def _in_thread(cli, *argv):
    # The command runs its own event loop (asyncio.run), so it cannot share the test's loop.
    import asyncio

    return await asyncio.to_thread(cli, *argv)


async def test_registry_import_of_an_export_file(cli, conn, tmp_path):
    import json

    from service.scenario_load import registry_rows
    from tests.api.test_load_worked_month import SCENARIO

    # No providers are registered here: the customers come without their choices.
    rows = [{**r, "choices": []} if r["kind"] == "customer" else r for r in registry_rows(SCENARIO)]
    export = tmp_path / "export.ndjson"
    export.write_text("\n".join(json.dumps(r) for r in rows))
    code, out, err = await _in_thread(cli, "registry", "import", str(export))
    assert code == 0, err
    assert json.loads(out)["decisions"]["created"] == sum(r["kind"] == "decision" for r in rows)
    code, out, _ = await _in_thread(cli, "registry", "import", str(export))
    assert code == 0 and json.loads(out)["customers"]["created"] == 0
    export.write_text(json.dumps([{**rows[0], "pnr": "193805149494"}]))
    code, _, err = await _in_thread(cli, "registry", "import", str(export))
    assert code == 1 and "row 0 pnr" in err
