"""`kundval report followup` and `kundval report compare` against a real database: the worked month
(examples/) loaded and reconciled through the API, then read and priced from the command line."""

import asyncio
import csv
import io

import pytest

from service.cli import main
from tests.api.test_reconcile_worked_month import EXEMPEL, month, reconcile

__all__ = ["month"]  # the worked month's fixture


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*argv):
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    async def in_thread(*argv):
        # The command runs its own event loop (asyncio.run), so it cannot share the test's loop.
        return await asyncio.to_thread(run, *argv)

    return in_thread


async def test_report_compare_prices_what_ifs_and_prints_them(client, month, cli, tmp_path, conn):
    await reconcile(client, month)
    out_csv = tmp_path / "compare.csv"
    code, out, err = await cli(
        "report",
        "compare",
        "--period",
        "2024-03",
        "--tariff",
        "kson-2024",
        "--tariff",
        "kson-2024-min80",
        "--csv",
        str(out_csv),
    )
    assert code == 0, err
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert total == ["total", "37052.07", "16491.66", "-20560.41", "-55.5"]  # the tenant's, last
    omsorg = next(line for line in out.splitlines() if line.startswith("omsorg ")).split()
    assert omsorg == ["omsorg", "hemtjanst", "20053.33", "1664.88", "-18388.45", "-91.7"]
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert any(r["provider"] == EXEMPEL and r["row"] == "total" for r in rows)
    # The what-ifs are runs like any other: kept apart, audited as the operator's.
    kinds = await conn.fetch("SELECT kind, forced_tariff FROM runs WHERE kind = 'whatif' ORDER BY seq")
    assert [r["forced_tariff"] for r in kinds] == ["kson-2024", "kson-2024-min80"]
    actors = await conn.fetch(
        "SELECT actor FROM audit_log WHERE action = 'run.create' ORDER BY seq DESC LIMIT 2"
    )
    assert all(r["actor"].startswith("cli:") for r in actors)

    code, _, err = await cli(
        "report", "compare", "--period", "2024-03", "--tariff", "kson-2024", "--tariff", "nope"
    )
    assert code == 1 and "--tariffs[1]: no tariff nope" in err


async def test_report_followup_prints_months_and_period_over_period(client, month, cli, tmp_path):
    await reconcile(client, month)
    code, out, err = await cli("report", "followup", "--from", "2024-02", "--to", "2024-03")
    assert code == 0, err
    lines = out.splitlines()
    march = next(line for line in lines if line.startswith(EXEMPEL) and "2024-03" in line).split()
    assert march[:3] == [EXEMPEL, "2024-03", "reconciled"]
    february = next(line for line in lines if line.startswith(EXEMPEL) and "2024-02" in line).split()
    assert february == [EXEMPEL, "2024-02", "open"]
    assert any(line.startswith("2024-03") for line in lines)  # the tenant's month

    out_csv = tmp_path / "pop.csv"
    code, out, err = await cli(
        "report",
        "followup",
        "--from",
        "2024-03",
        "--to",
        "2024-03",
        "--compare-from",
        "2024-02",
        "--compare-to",
        "2024-02",
        "--csv",
        str(out_csv),
    )
    assert code == 0, err
    payout = [line.split() for line in out.splitlines() if line.startswith("payout ")]
    assert payout[-1] == ["payout", "0.00", "37052.07", "37052.07", "–"]  # nothing in February
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert {r["figure"] for r in rows} >= {"payout", "performed_share", "licensed_visits.sjukskoterska"}

    code, _, err = await cli("report", "followup", "--from", "2024-13", "--to", "2024-03")
    assert code == 1 and "--from:" in err
    code, _, err = await cli(
        "report", "followup", "--from", "2024-02", "--to", "2024-03", "--compare-from", "2023-02"
    )
    assert code == 1 and "go together" in err
