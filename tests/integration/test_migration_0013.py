"""Migration 0013 over discrepancies stored before it: they keep the text the engine wrote then and
have no parameters, and are shown with that text, as it is, in every language and view."""

from service import db
from service.domain.principal import Principal
from service.usecases import reviews
from service.web.explain import explainer
from tests.integration.test_migrations import _migrations_through, empty_db

__all__ = ["empty_db"]

TEXT = "performed 1495.0000 of granted 1893.7299 minutes (78.9447 %)"
KEY = "LOW_PERFORMED_SHARE:prov-a:193805149493:2024-03"


async def test_0013_keeps_the_text_of_discrepancies_stored_before_it(empty_db, tmp_path):
    conn = await db.connect(empty_db)
    try:
        await db.migrate(conn, _migrations_through(tmp_path / "through", "0012"))
        await conn.execute(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ('kson', 'prov-a', '5566778899', 'A')"
        )
        run_id = await conn.fetchval(
            """INSERT INTO runs (tenant_id, id, period, kind, tariffs, started_by, started_at, finished_at,
                                 duration_ms, input_seq, input_marks, decision_seq, grand_total, summary)
               VALUES ('kson', gen_random_uuid(), '2024-03', 'real', ARRAY['kson-2024'], 'test', now(), now(),
                       0, 0, '{}', 0, 0, '{"providers": [], "discrepancy_counts": {}}')
               RETURNING id"""
        )
        await conn.execute(
            """INSERT INTO discrepancies (tenant_id, key, code, kind, provider_id)
               VALUES ('kson', $1, 'LOW_PERFORMED_SHARE', 'info', 'prov-a')""",
            KEY,
        )
        await conn.execute(
            """INSERT INTO run_discrepancies (tenant_id, run_id, key, provider_id, code, kind, record, pnr, day,
                                              status, version, detail, provider_detail)
               VALUES ('kson', $1, $2, 'prov-a', 'LOW_PERFORMED_SHARE', 'info', 'prov-a:193805149493:2024-03',
                       '193805149493', '2024-03', 'open', 'v1', $3, $3)""",
            run_id,
            KEY,
            TEXT,
        )
        assert (await db.migrate(conn))[0] == "0013_discrepancy_parameters.sql"  # and every later one

        for role, provider in (("invoice_admin", None), ("provider", "prov-a")):
            who = Principal(tenant_id="kson", role=role, name=role, provider_id=provider)
            for locale in ("sv", "en"):
                page = await reviews.list_discrepancies(
                    conn,
                    who,
                    period="2024-03",
                    run_id=None,
                    provider=None,
                    code=None,
                    severity=None,
                    status=None,
                    after=None,
                    limit=10,
                    explain=explainer(locale),
                )
                (shown,) = page.items
                assert (shown.key, shown.detail, shown.parameters) == (KEY, TEXT, None)
    finally:
        await conn.close()
