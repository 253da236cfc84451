"""Migration 0011 over months settled before it: their settled runs' follow-up figures become the
settled figures reports show, and a month whose run kept none shows its settlement's payout."""

from service import db
from service.domain.principal import Principal
from service.usecases import reports
from tests.integration.test_migrations import _migrations_through, empty_db

__all__ = ["empty_db"]

READER = Principal(tenant_id="kson", role="reader", name="reader")
FIGURES = (
    "granted_minutes, performed_minutes, customers_below_target, licensed_visits, declined_visits, "
    "declined_customers, customers_by_area, payout_by_area"
)


async def _settled_month(conn, period, *, with_figures):
    run_id = await conn.fetchval(
        """INSERT INTO runs (tenant_id, id, period, kind, tariffs, started_by, started_at, finished_at,
                             duration_ms, input_seq, input_marks, decision_seq, grand_total, summary)
           VALUES ('kson', gen_random_uuid(), $1, 'real', ARRAY['kson-2024'], 'test', now(), now(), 0, 0, '{}',
                   0, 500, '{"providers": [], "discrepancy_counts": {}}')
           RETURNING id""",
        period,
    )
    if with_figures:
        await conn.execute(
            f"""INSERT INTO run_followup (tenant_id, run_id, provider_id, {FIGURES})
                VALUES ('kson', $1, 'prov-a', '1740', '1566', 0, '{{"sjukskoterska": 2}}', 1,
                        ARRAY['193805149493'], '{{"hemtjanst": ["193805149493"]}}',
                        '{{"hemtjanst": "500.00"}}')""",
            run_id,
        )
    settlement = await conn.fetchval(
        """INSERT INTO settlements (tenant_id, id, provider_id, period, run_id, status, prepared_by, total,
                                    totals, totals_by_area, accounts, tariffs)
           VALUES ('kson', gen_random_uuid(), 'prov-a', $1, $2, 'prepared', 'anna', 500, '{}',
                   '{"hemtjanst": "500.00", "hemsjukvard": "0.00", "hemrehab": "0.00", "ovrigt": "0.00"}',
                   '{}', ARRAY['kson-2024'])
           RETURNING id""",
        period,
        run_id,
    )
    await conn.execute(
        """UPDATE settlements SET status = 'settled', attested_by = 'bo', attested_at = now(),
                                  sha256 = repeat('0', 64), document = '{}'
           WHERE tenant_id = 'kson' AND id = $1""",
        settlement,
    )
    return settlement


async def test_0011_freezes_the_figures_of_months_settled_before_it(empty_db, tmp_path):
    conn = await db.connect(empty_db)
    try:
        await db.migrate(conn, _migrations_through(tmp_path / "through", "0010"))
        await conn.execute(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ('kson', 'prov-a', '5566778899', 'A')"
        )
        kept = await _settled_month(conn, "2024-02", with_figures=True)
        await _settled_month(conn, "2024-03", with_figures=False)  # its run kept no figures
        assert await db.migrate(conn, _migrations_through(tmp_path / "0011", "0011")) == [
            "0011_settled_followup.sql"
        ]

        frozen = await conn.fetch("SELECT settlement_id, period, granted_minutes FROM settlement_followup")
        assert [(r["settlement_id"], r["period"], r["granted_minutes"]) for r in frozen] == [
            (kept, "2024-02", "1740")
        ]
        report = await reports.followup_report(conn, READER, first="2024-02", last="2024-03")
        february, march = report.providers[0].months
        assert (february.status, february.source, february.figures.performed_share) == (
            "settled",
            "settlement",
            "0.9000",
        )
        assert february.figures.licensed_visits["sjukskoterska"] == 2
        assert (march.status, march.source, march.figures.granted_minutes) == (
            "settled",
            "settlement",
            "0.0000",
        )
        assert march.figures.payout_by_area["hemtjanst"] == 500
    finally:
        await conn.close()
