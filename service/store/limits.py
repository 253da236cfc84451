"""Rate-limit counters: one row per bucket and fixed window, shared by every service process."""

from __future__ import annotations

import asyncpg
import msgspec

from service.store import apikeys
from service.store.apikeys import ApiKey


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
        await _clear_ended(conn, window)
    return counts


async def _clear_ended(conn: asyncpg.Connection, window: int) -> None:
    """After the first hit of a window: the counts of the ended ones go."""
    await conn.execute(
        "DELETE FROM rate_limits WHERE window_start < to_timestamp(floor(extract(epoch FROM now()) / $1) * $1)",
        window,
    )


# A key's bucket names its id, known only once the key is found: `{key}` in a bucket stands for it.
KEY = "{key}"


async def authenticate(
    conn: asyncpg.Connection, key_hash: bytes, known: list[str], unknown: list[str], window: int
) -> tuple[ApiKey | None, list[Count]]:
    """The unrevoked key with this hash, and one hit counted, in the same statement, on the buckets
    `known` (when it is found) or `unknown` (when not): the counts after it, as `hit`."""
    row = await conn.fetchrow(
        f"""WITH k AS (SELECT {apikeys.COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
           b AS (SELECT replace(t, '{KEY}', k.id::text) AS bucket FROM k, unnest($2::text[]) AS t
                 UNION ALL
                 SELECT t FROM unnest($3::text[]) AS t WHERE NOT EXISTS (SELECT FROM k)),
           w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $4) * $4) AS start),
           hit AS (INSERT INTO rate_limits AS r (bucket, window_start, hits)
                   SELECT b.bucket, w.start, 1 FROM b, w ORDER BY b.bucket
                   ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
                   RETURNING bucket, hits,
                             greatest(1, ceil(extract(epoch FROM window_start) + $4
                                              - extract(epoch FROM now())))::int AS retry_after)
           SELECT k.*, (SELECT coalesce(array_agg(ARRAY[bucket, hits::text, retry_after::text]
                                                  ORDER BY bucket), '{{}}') FROM hit) AS hits
           FROM (SELECT) AS one LEFT JOIN k ON true""",
        key_hash,
        known,
        unknown,
        window,
    )
    found = dict(row)
    counts = [Count(bucket, int(hits), int(retry)) for bucket, hits, retry in found.pop("hits")]
    if any(c.hits == 1 for c in counts):
        await _clear_ended(conn, window)
    return (ApiKey(**found) if found["id"] is not None else None), counts
