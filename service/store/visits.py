"""Visits (time registrations): bulk ingestion, corrections, reads.

A batch is all or nothing. Every row is decoded and checked (collecting every problem, with its row
index and field), then the rows are copied into a per-connection staging table and merged into
`visits` with one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. A row whose external id is already
stored counts as unchanged when its content hash is the same and makes the batch a 409 when it is
not: a changed visit goes through the correction route, which keeps the old version.

Bad input (domain.md section 6): end not after start, start in the future, a datetime without an
offset, an unknown enum value, a malformed or Luhn-invalid personnummer, an unknown insats code or
one of another report type. A well-formed personnummer the registry does not know is *not* bad
input: the visit is stored and the engine raises UNKNOWN_CUSTOMER until the registry knows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec

from schemas import records as r
from service.domain.errors import Conflict, Invalid, NotFound, Problem, field_error
from service.domain.identity import InvalidIdentity, parse_personnummer
from service.domain.principal import Principal
from service.domain.visibility import shown_pnr
from service.store import audit
from service.store.registry import page

MAX_ROWS = 10_000
MAX_CONFLICTS_NAMED = 100

_ROW = msgspec.json.Decoder(r.VisitIn)
_ROWS = msgspec.json.Decoder(list[r.VisitIn])
_RAW_ROWS = msgspec.json.Decoder(list[msgspec.Raw])
_CANONICAL = msgspec.json.Encoder()


class BatchTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class Malformed(Problem):
    status, slug, title = 400, "bad-request", "The request could not be read"


# Staged per connection and emptied at every commit; the merge copies from it in row order, so
# received_seq (arrival order, used by the DUPLICATE check) follows the rows of the batch.
STAGE = """CREATE TEMP TABLE IF NOT EXISTS visit_stage (
    ord            integer,
    external_id    text,
    pnr            text,
    staff_id       text,
    staff_category text,
    report_type    text,
    started_at     timestamptz,
    ended_at       timestamptz,
    codes          text[],
    method         text,
    status         text,
    content_hash   bytea
) ON COMMIT DELETE ROWS"""

CONTENT = (
    "pnr, staff_id, staff_category, report_type, started_at, ended_at, codes, method, status, content_hash"
)

MERGE = f"""INSERT INTO visits (tenant_id, provider_id, external_id, {CONTENT})
            SELECT $1, $2, external_id, {CONTENT} FROM visit_stage ORDER BY ord
            ON CONFLICT (tenant_id, provider_id, external_id) DO NOTHING"""

CONFLICTS = f"""SELECT s.ord, s.external_id FROM visit_stage s
                JOIN visits v ON v.tenant_id = $1 AND v.provider_id = $2 AND v.external_id = s.external_id
                WHERE v.content_hash <> s.content_hash ORDER BY s.ord LIMIT {MAX_CONFLICTS_NAMED + 1}"""


def content_hash(
    pnr: str,
    staff: str,
    staff_category: str,
    report_type: str,
    start: datetime,
    end: datetime,
    codes: list[str],
    method: str,
    status: str,
) -> bytes:
    """SHA-256 over a canonical encoding: instants in UTC, so the same visit written with another
    offset is the same content."""
    return hashlib.sha256(
        _CANONICAL.encode(
            (
                pnr,
                staff,
                staff_category,
                report_type,
                start.astimezone(UTC),
                end.astimezone(UTC),
                codes,
                method,
                status,
            )
        )
    ).digest()


class Batch:
    """Rows of one request, checked as they arrive; `rows` are the distinct ones, ready for COPY.

    Identity numbers repeat heavily within a batch (a customer has many visits), so each distinct
    text is checked once.
    """

    def __init__(self, provider_id: str, insatser: dict[str, str], now: datetime) -> None:
        self.provider_id = provider_id
        self.insatser = insatser  # code -> report type
        self.now = now
        self.rows: list[tuple[Any, ...]] = []
        self.errors: list[dict[str, Any]] = []
        self.received = 0
        self.digest = hashlib.sha256()
        self._seen: dict[str, tuple[int, bytes]] = {}
        self._pnrs: dict[str, str | InvalidIdentity] = {}

    def _error(self, row: int, field: str | None, message: str) -> None:
        self.errors.append({"row": row, "field": field, "message": message})

    def _next_index(self) -> int:
        index = self.received
        if index >= MAX_ROWS:
            raise BatchTooLarge(f"at most {MAX_ROWS} visits per request; send the rest in another request")
        self.received += 1
        return index

    def add(self, v: r.VisitIn) -> None:
        self.check(self._next_index(), v)

    def add_json(self, raw: bytes | msgspec.Raw) -> None:
        """One row still to decode (an NDJSON line or an element of an array with a bad row)."""
        index = self._next_index()
        try:
            visit = _ROW.decode(raw)
        except msgspec.ValidationError as err:
            self.errors.append(field_error(str(err), row=index))
            return
        except msgspec.DecodeError as err:
            self._error(index, None, f"malformed JSON: {err}")
            return
        self.check(index, visit)

    def _pnr(self, text: str) -> str | InvalidIdentity:
        known = self._pnrs.get(text)
        if known is None:
            try:
                known = parse_personnummer(text).number
            except InvalidIdentity as err:
                known = err
            self._pnrs[text] = known
        return known

    def check(self, index: int, v: r.VisitIn) -> None:
        ok = True
        start, end, report_type = v.start, v.end, v.report_type
        if end <= start:
            self._error(index, "end", "must be after start")
            ok = False
        if start > self.now:
            self._error(index, "start", "lies in the future")
            ok = False
        pnr = self._pnr(v.customer)
        if isinstance(pnr, InvalidIdentity):
            self._error(index, "customer", str(pnr))
            ok = False
        insatser = self.insatser
        for j, code in enumerate(v.codes):
            found = insatser.get(code)
            if found != report_type:
                message = (
                    "unknown insats code"
                    if found is None
                    else f"insats {code} belongs to report type {found}, not {report_type}"
                )
                self._error(index, f"codes[{j}]", message)
                ok = False
        if v.provider is not None and v.provider != self.provider_id:
            self._error(index, "provider", "must be absent or the API key's own provider id")
            ok = False
        if not ok:
            return
        digest = content_hash(
            pnr, v.staff, v.staff_category, report_type, start, end, v.codes, v.method, v.status
        )  # type: ignore[arg-type]
        seen = self._seen.get(v.id)
        if seen is not None:
            # The same visit twice in one batch counts once; the same id with other content is bad input.
            if seen[1] != digest:
                self._error(index, "id", f"repeats the id of row {seen[0]} with other content")
            return
        self._seen[v.id] = (index, digest)
        self.rows.append(
            (
                len(self.rows),
                v.id,
                pnr,
                v.staff,
                v.staff_category,
                report_type,
                start,
                end,
                v.codes,
                v.method,
                v.status,
                digest,
            )
        )

    def add_array(self, body: bytes) -> None:
        """A JSON array: decoded whole when every row is well-formed, row by row otherwise (so
        that every bad row is named)."""
        self.digest.update(body)
        try:
            visits = _ROWS.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            visits = None
        if visits is not None:
            if len(visits) > MAX_ROWS:
                raise BatchTooLarge(f"at most {MAX_ROWS} visits per request; this one has {len(visits)}")
            for visit in visits:
                self.add(visit)
            return
        try:
            raws = _RAW_ROWS.decode(body)
        except msgspec.ValidationError:
            raise Invalid(
                "the body must be a JSON array of visits (or NDJSON, one visit a line)",
                errors=[{"field": None, "message": "expected a JSON array"}],
            ) from None
        except msgspec.DecodeError as err:
            raise Malformed(f"the body is not valid JSON: {err}") from None
        if len(raws) > MAX_ROWS:
            raise BatchTooLarge(f"at most {MAX_ROWS} visits per request; this one has {len(raws)}")
        for raw in raws:
            self.add_json(raw)

    async def add_ndjson(self, chunks: AsyncIterator[bytes]) -> None:
        """NDJSON, read as it arrives: complete lines are decoded while the rest is still coming;
        blank lines are skipped. Rows are numbered from 0 like the elements of an array."""
        rest = b""
        async for chunk in chunks:
            self.digest.update(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    self.add_json(line)
        if rest.strip():
            self.add_json(rest)

    def done(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda e: e["row"])
            shown = self.errors[:5]
            more = f" (and {len(self.errors) - len(shown)} more)" if len(self.errors) > len(shown) else ""
            raise Invalid(
                "nothing of this batch was stored: "
                + "; ".join(f"row {e['row']} {e['field'] or 'body'}: {e['message']}" for e in shown)
                + more,
                errors=self.errors,
            )


async def insats_report_types(conn: asyncpg.Connection, tenant: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT code, report_type FROM insatser WHERE tenant_id = $1", tenant)
    return {row["code"]: row["report_type"] for row in rows}


async def merge(conn: asyncpg.Connection, who: Principal, batch: Batch) -> r.VisitBatchResult:
    """Store the batch's new visits; refuse the whole batch (409) if a stored id has other content."""
    rows = batch.rows
    inserted = 0
    if rows:
        await conn.execute(STAGE)
        await conn.copy_records_to_table("visit_stage", records=rows)
        try:
            status = await conn.execute(MERGE, who.tenant_id, who.provider_id)
        except asyncpg.DeadlockDetectedError:
            raise Conflict(
                "another request was storing some of these visits at the same time; send the batch again"
            ) from None
        inserted = int(status.rsplit(" ", 1)[1])
        if inserted < len(rows):
            conflicts = await conn.fetch(CONFLICTS, who.tenant_id, who.provider_id)
            if conflicts:
                named = conflicts[:MAX_CONFLICTS_NAMED]
                raise Conflict(
                    "nothing of this batch was stored: these ids are stored with other content; "
                    "correct a visit with POST /v1/visits/{id}/corrections: "
                    + ", ".join(c["external_id"] for c in named)
                    + (" (and more)" if len(conflicts) > len(named) else ""),
                    conflicts=[{"id": c["external_id"]} for c in named],
                )
    result = r.VisitBatchResult(inserted=inserted, unchanged=len(rows) - inserted)
    await audit.record(
        conn,
        who,
        action="visits.post",
        entity_kind="visit_batch",
        entity_ids=[rows[0][1], rows[-1][1]] if rows else [],
        payload_sha256=batch.digest.hexdigest(),
        after={
            "received": batch.received,
            "distinct": len(rows),
            "inserted": result.inserted,
            "unchanged": result.unchanged,
            "first_id": rows[0][1] if rows else None,
            "last_id": rows[-1][1] if rows else None,
        },
    )
    return result


# Reads and corrections ---------------------------------------------------------------------------

_SELECT = """SELECT v.*, c.ref, coalesce(c.protected, false) AS protected FROM visits v
             LEFT JOIN customers c ON c.tenant_id = v.tenant_id AND c.pnr = v.pnr"""


def _visit(row: asyncpg.Record, role: str, *, single: bool) -> r.Visit:
    return r.Visit(
        id=row["external_id"],
        provider=row["provider_id"],
        customer=shown_pnr(row["pnr"], row["protected"], role, single=single),
        customer_ref=row["ref"],
        staff=row["staff_id"],
        staff_category=row["staff_category"],
        report_type=row["report_type"],
        start=row["started_at"],
        end=row["ended_at"],
        codes=row["codes"],
        method=row["method"],
        status=row["status"],
        version=row["version"],
        received_at=row["received_at"],
    )


def _stored_content(row: asyncpg.Record) -> dict[str, Any]:
    """A version as kept in visit_versions: the posted fields, the number in full."""
    return {
        "id": row["external_id"],
        "customer": row["pnr"],
        "staff": row["staff_id"],
        "staff_category": row["staff_category"],
        "report_type": row["report_type"],
        "start": row["started_at"],
        "end": row["ended_at"],
        "codes": row["codes"],
        "method": row["method"],
        "status": row["status"],
    }


async def _fetch(
    conn: asyncpg.Connection, who: Principal, external_id: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""{_SELECT} WHERE v.tenant_id = $1 AND v.provider_id = $2 AND v.external_id = $3
            {"FOR UPDATE OF v" if lock else ""}""",
        who.tenant_id,
        who.provider_id,
        external_id,
    )
    if row is None:
        raise NotFound(f"no visit {external_id}")
    return row


async def get(conn: asyncpg.Connection, who: Principal, external_id: str) -> r.VisitDetail:
    row = await _fetch(conn, who, external_id)
    history = await conn.fetch(
        """SELECT version, content, replaced_at, replaced_by FROM visit_versions
           WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3 ORDER BY version""",
        who.tenant_id,
        who.provider_id,
        external_id,
    )
    return r.VisitDetail(
        visit=_visit(row, who.role, single=True),
        history=[r.VisitVersion(**dict(h)) for h in history],
    )


async def correct(
    conn: asyncpg.Connection, who: Principal, external_id: str, data: r.VisitCorrection, body: bytes
) -> r.Visit:
    """Replace a visit's content; the old version goes to visit_versions with who and when."""
    now = datetime.now(UTC)
    batch = Batch(who.provider_id or "", await insats_report_types(conn, who.tenant_id), now)
    batch.check(0, data.visit)
    if data.visit.id != external_id:
        batch.errors.append({"row": 0, "field": "id", "message": "must be the id in the path"})
    if batch.errors:
        errors = [{"field": f"visit.{e['field']}", "message": e["message"]} for e in batch.errors]
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    row = await _fetch(conn, who, external_id, lock=True)
    _, _, pnr, staff, category, report_type, start, end, codes, method, status, digest = batch.rows[0]
    if digest != row["content_hash"]:
        await conn.execute(
            """INSERT INTO visit_versions (tenant_id, provider_id, external_id, version, content, replaced_by)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            who.tenant_id,
            who.provider_id,
            external_id,
            row["version"],
            _stored_content(row),
            who.name,
        )
        await conn.execute(
            """UPDATE visits SET pnr = $4, staff_id = $5, staff_category = $6, report_type = $7,
                      started_at = $8, ended_at = $9, codes = $10, method = $11, status = $12,
                      content_hash = $13, version = version + 1, changed_seq = nextval('input_change_seq')
               WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
            who.tenant_id,
            who.provider_id,
            external_id,
            pnr,
            staff,
            category,
            report_type,
            start,
            end,
            codes,
            method,
            status,
            digest,
        )
    after = await _fetch(conn, who, external_id)
    await audit.record(
        conn,
        who,
        action="visit.correct",
        entity_kind="visit",
        entity_ids=[f"{who.provider_id}:{external_id}"],
        payload=body,
        reason=data.reason,
        before=_visit(row, "invoice_admin", single=False),
        after=_visit(after, "invoice_admin", single=False),
    )
    return _visit(after, who.role, single=True)


async def list_visits(
    conn: asyncpg.Connection,
    who: Principal,
    provider: str | None,
    period: date | None,
    after: str,
    limit: int,
) -> r.VisitPage:
    """A provider's own visits, or (invoice_admin, auditor) every provider's; optionally of one
    month (by local start). The cursor is `provider:external_id`."""
    after_provider, _, after_id = after.partition(":")
    rows = await conn.fetch(
        f"""{_SELECT} WHERE v.tenant_id = $1 AND ($2::text IS NULL OR v.provider_id = $2)
              AND ($3::date IS NULL OR v.service_date >= $3 AND v.service_date < ($3 + interval '1 month'))
              AND (v.provider_id, v.external_id) > ($4, $5)
            ORDER BY v.provider_id, v.external_id LIMIT $6""",
        who.tenant_id,
        who.provider_id or provider,
        period,
        after_provider,
        after_id,
        limit + 1,
    )
    items, cursor = page(rows, limit, lambda x: f"{x['provider_id']}:{x['external_id']}")
    return r.VisitPage(items=[_visit(x, who.role, single=False) for x in items], next_after=cursor)
