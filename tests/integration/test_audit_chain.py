import asyncio
import itertools

import asyncpg
import msgspec
import pytest

from service.domain.principal import Principal
from service.store import audit
from tests.conftest import connected

ADMIN = Principal(tenant_id="kson", role="invoice_admin", name="anna")


async def _write(conn, n):
    for i in range(n):
        async with conn.transaction():
            await audit.record(
                conn,
                ADMIN,
                action="test.write",
                entity_kind="thing",
                entity_ids=[f"T{i}"],
                payload=f"payload {i}".encode(),
                reason="because" if i % 2 else None,
                after={"amount": "12.50", "n": i, "nested": {"b": [1, 2], "a": None}},
            )


async def test_intact_chain_verifies(conn):
    await _write(conn, 5)
    result = await audit.verify(conn, "kson")
    assert result.ok and result.checked == 5
    rows = await audit.entries(conn, "kson")
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[1].prev_hash == rows[0].hash


async def test_update_delete_truncate_are_refused(conn):
    await _write(conn, 2)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE audit_log SET reason = 'x' WHERE seq = 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM audit_log WHERE seq = 2")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("TRUNCATE audit_log")
    assert (await audit.verify(conn, "kson")).ok


async def _tamper(conn, sql):
    # Only an owner bypassing the trigger can change entries; verify must still catch it.
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute(sql)
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_tampered_entry_is_named(conn):
    await _write(conn, 6)
    await _tamper(conn, "UPDATE audit_log SET reason = 'forged' WHERE seq = 3")
    result = await audit.verify(conn, "kson")
    assert not result.ok
    assert result.first_broken == 3
    assert result.checked == 2


async def test_removed_middle_entry_is_named(conn):
    await _write(conn, 6)
    await _tamper(conn, "DELETE FROM audit_log WHERE seq = 4")
    result = await audit.verify(conn, "kson")
    assert (result.ok, result.first_broken) == (False, 4)


async def test_truncated_tail_is_detected(conn):
    await _write(conn, 6)
    await _tamper(conn, "DELETE FROM audit_log WHERE seq >= 5")
    result = await audit.verify(conn, "kson")
    assert (result.ok, result.first_broken) == (False, 5)


async def test_concurrent_writers_chain_in_turn(owner_url):
    """Entries appended at once from several connections: positions gapless, each chained onto the
    one before, and every hash as `entry_hash` computes it (the head is locked and the entry hashed
    in one statement)."""

    async def writer(n: int) -> None:
        async with connected(owner_url) as c:
            for i in range(10):
                async with c.transaction():
                    await audit.record(
                        c,
                        Principal(
                            tenant_id="kson", role="provider", name=f'Åsa "{n}"\t\\', provider_id=f"p{n}"
                        ),
                        action="test.write",
                        entity_kind="thing",
                        entity_ids=[f"T{n}-{i}", "ö\u2028"],
                        payload=b"x",
                        before={"z": 1, "a": ["é", None, 1.5]},
                    )

    await asyncio.gather(*(writer(n) for n in range(5)))
    async with connected(owner_url) as c:
        result = await audit.verify(c, "kson")
        rows = await audit.entries(c, "kson", limit=100)
    assert result.ok and result.checked == 50
    assert [r.seq for r in rows] == list(range(1, 51))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(r.hash == audit.entry_hash(msgspec.structs.asdict(r)) for r in rows)


async def test_an_uncommitted_entry_does_not_hold_up_other_writers(owner_url):
    """The head is locked as a transaction commits, not when its entry is written: a writer that
    has recorded an entry and not committed yet keeps no other writer of the tenant waiting."""
    async with connected(owner_url) as slow, connected(owner_url) as quick:

        async def write_quickly() -> None:
            async with quick.transaction():
                await audit.record(quick, ADMIN, action="test.quick", entity_kind="thing")

        async with slow.transaction():
            await audit.record(slow, ADMIN, action="test.slow", entity_kind="thing")
            await asyncio.wait_for(write_quickly(), 5)  # locked at the entry, it would wait for `slow`
        rows = await audit.entries(quick, "kson")
        assert [(r.seq, r.action) for r in rows] == [(1, "test.quick"), (2, "test.slow")]
        assert (await audit.verify(quick, "kson")).ok


async def test_the_head_read_in_a_transaction_includes_its_own_entries(conn):
    async with conn.transaction():
        await audit.record(conn, ADMIN, action="test.first", entity_kind="thing")
        await audit.record(conn, ADMIN, action="test.second", entity_kind="thing")
        seq, head_hash = await audit.head(conn, "kson")
    rows = await audit.entries(conn, "kson")
    assert seq == 2 and head_hash == rows[-1].hash and rows[-1].action == "test.second"
