"""Rate-limit counters: one row per bucket and fixed window, shared by every service process."""

from __future__ import annotations

import asyncpg
import msgspec


class Count(msgspec.Struct, frozen=True):
    bucket: str
    hits: int
    retry_after: int  # whole seconds until the window ends


async def hit(conn: asyncpg.Connection, buckets: list[str], window: int) -> list[Count]:
    """Count one hit on each bucket in the current window of `window` seconds (the database's clock,
    the same for every process); the counts after it. A new window clears the ended ones."""
    rows = await conn.fetch(
        """WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2) * $2) AS start)
           INSERT INTO rate_limits AS r (bucket, window_start, hits)
           SELECT b, w.start, 1 FROM unnest($1::text[]) AS b, w ORDER BY b
           ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
           RETURNING bucket, hits,
                     greatest(1, ceil(extract(epoch FROM window_start) + $2 - extract(epoch FROM now())))::int""",
        buckets,
        window,
    )
    counts = [Count(*r) for r in rows]
    if any(c.hits == 1 for c in counts):
        await conn.execute(
            "DELETE FROM rate_limits WHERE window_start < to_timestamp(floor(extract(epoch FROM now()) / $1) * $1)",
            window,
        )
    return counts
