"""A settled document is built from the settled run's lines, and can be built from them again at
any time with the same SHA-256 (service/domain/settlement.py): March, then April with adjustments
of March linked to the lines they correct."""

from uuid import UUID

from service.domain.settlement import digest, document
from service.store import runs, settlements, tariffs
from tests.api import test_settlement_cycle as cycle

keys = cycle.keys  # the worked month loaded through the API, with two invoice_admins


async def test_a_settled_document_is_built_again_from_its_lines(client, conn, keys):
    march = await cycle.settle_march(client, keys)
    await cycle.late_changes(client, keys)
    _, april = await cycle.settle_april(client, keys)
    for settled in (march, april):
        row = await settlements.get(conn, "kson", UUID(settled["id"]))
        lines = await runs.lines(conn, "kson", row.run_id, row.provider_id)
        components = await tariffs.components(conn, "kson", row.tariffs)
        rebuilt = document("kson", row, lines, components)
        assert rebuilt == row.document and digest(rebuilt) == row.sha256 == settled["sha256"]
    adjusting = [x for x in lines if x.kind == "adjustment"]
    assert len(adjusting) == 4
    march_lines = {x.id for x in await settlements.lines(conn, "kson", UUID(march["id"]))}
    for x in adjusting:
        assert x.adjustment.original_period == "2024-03" and x.adjustment.settled_run == UUID(march["run"])
        assert set(x.adjustment.original_lines) <= march_lines and x.adjustment.recomputed_lines
