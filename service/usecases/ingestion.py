"""What the ingestion use cases (registry, provider records, visits, claims) share: collecting every
bad field of a request before answering (domain.md 6: "every bad field of a row, not only the
first"), batches of rows read from a JSON array or a streamed NDJSON body (`Rows`), keyset pages,
and the audit entry of a write."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import msgspec

from service.domain import validation
from service.domain.errors import Invalid, NotFound, Problem, TooLarge
from service.domain.identity import InvalidIdentity, parse_personnummer
from service.domain.principal import Principal
from service.store import audit
from service.store.records import Key

T = TypeVar("T")


def invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": field, "message": message}])


class Checks:
    """Collects the field problems of one request; `done()` raises them together as a 422."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def pnr(self, text: str | None, field: str = "customer") -> str:
        """The canonical 12-digit number; a malformed one is recorded (and "" returned)."""
        if text is None:
            self.add(field, "a personnummer or samordningsnummer is required")
            return ""
        try:
            return parse_personnummer(text).number
        except InvalidIdentity as err:
            self.add(field, str(err))
            return ""

    def span(self, start: date, end: date | None, field: str = "to") -> None:
        if end is not None and end < start:
            self.add(field, "must not be before `from` (both are inclusive)")

    def within(self, value: Decimal, field: str, low: Decimal, high: Decimal, *, low_included: bool) -> None:
        above = value >= low if low_included else value > low
        if not value.is_finite() or not above or value > high:
            self.add(field, f"must be {'at least' if low_included else 'more than'} {low} and at most {high}")

    def own_provider(self, given: str | None, who: Principal) -> None:
        # The provider is the API key's; a body naming another one is refused, never trusted.
        if given is not None and given != who.provider_id:
            self.add("provider", "must be absent or the API key's own provider id")

    def done(self) -> None:
        if self.errors:
            raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in self.errors), errors=self.errors)


class Rows(ABC):
    """The rows of one batch request, checked as they arrive (a subclass's `check(index, row)`
    records problems with `error` and keeps what it will store). Rows are numbered from 0, the
    same for an array's elements and NDJSON lines; `digest` is the SHA-256 of the body as sent."""

    def __init__(self, row_type: Any, limit: int, noun: str) -> None:
        self.row_type = row_type
        self._row = msgspec.json.Decoder(row_type)
        self._rows = msgspec.json.Decoder(list[row_type])  # type: ignore[valid-type]
        self.limit = limit
        self.noun = noun  # plural, for messages
        self.errors: list[dict[str, Any]] = []
        self.received = 0
        self.digest = hashlib.sha256()

    @abstractmethod
    def check(self, index: int, row: Any) -> None:
        """Check one decoded row: record its problems with `error`, keep what will be stored."""

    async def arrived(self) -> None:  # noqa: B027 (an optional hook, empty unless overridden)
        """After each chunk of a streamed body: a subclass may pass on what it keeps (to hold a
        chunk rather than the batch)."""

    def error(self, row: int, field: str | None, message: str) -> None:
        self.errors.append({"row": row, "field": field, "message": message})

    def _next_index(self) -> int:
        index = self.received
        if index >= self.limit:
            raise TooLarge(f"at most {self.limit} {self.noun} per request; send the rest in another request")
        self.received += 1
        return index

    def add(self, row: Any) -> None:
        self._checked(self._next_index(), row)

    def _checked(self, index: int, row: Any) -> None:
        if bad := validation.out_of_bounds(row, row=index):
            self.errors.extend(bad)
            return
        self.check(index, row)

    def add_json(self, raw: bytes | msgspec.Raw) -> None:
        """One row still to decode (an NDJSON line or an element of an array with a bad row)."""
        index = self._next_index()
        try:
            row = self._row.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            # Read again untyped to name every bad field of the row, not only the first.
            try:
                _, errors = validation.convert(self.row_type, validation.loads(raw), row=index)
            except validation.TooDeep as err:
                errors = [{"row": index, "field": err.field, "message": str(err)}]
            except msgspec.DecodeError as err:  # a bad type came before the broken syntax
                errors = [{"row": index, "field": None, "message": f"malformed JSON: {err}"}]
            self.errors.extend(errors)
            return
        except msgspec.DecodeError as err:
            self.error(index, None, f"malformed JSON: {err}")
            return
        self._checked(index, row)

    def add_array(self, body: bytes) -> None:
        """A JSON array: decoded whole when every row is well-formed, row by row otherwise (so
        that every bad row is named)."""
        self.digest.update(body)
        try:
            rows = self._rows.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            rows = None
        if rows is not None:
            if len(rows) > self.limit:
                raise TooLarge(f"at most {self.limit} {self.noun} per request; this one has {len(rows)}")
            for row in rows:
                self.add(row)
            return
        try:
            raws = _RAW_ROWS.decode(body)
        except RecursionError:
            too_deep = validation.TooDeep(None)
            raise Problem(str(too_deep), errors=[{"field": None, "message": str(too_deep)}]) from None
        except msgspec.ValidationError:
            raise Invalid(
                f"the body must be a JSON array of {self.noun} (or NDJSON, one a line)",
                errors=[{"field": None, "message": "expected a JSON array"}],
            ) from None
        except msgspec.DecodeError as err:
            raise Problem(f"the body is not valid JSON: {err}") from None  # 400: unreadable
        if len(raws) > self.limit:
            raise TooLarge(f"at most {self.limit} {self.noun} per request; this one has {len(raws)}")
        for raw in raws:
            self.add_json(raw)

    async def add_ndjson(self, chunks: AsyncIterable[bytes]) -> None:
        """NDJSON, read as it arrives: complete lines are decoded while the rest is still coming;
        blank lines are skipped."""
        rest = b""
        async for chunk in chunks:
            self.digest.update(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    self.add_json(line)
            await self.arrived()
        if rest.strip():
            self.add_json(rest)

    async def read(self, body: bytes | AsyncIterable[bytes]) -> None:
        """A JSON array (`bytes`) or NDJSON (chunks as they arrive); `done()` still to call."""
        if isinstance(body, bytes):
            self.add_array(body)
        else:
            await self.add_ndjson(body)

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


_RAW_ROWS = msgspec.json.Decoder(list[msgspec.Raw])


class Collected(Rows):
    """A batch's decoded rows with their index, kept to be checked against the database after
    the body is read."""

    def __init__(self, row_type: Any, limit: int, noun: str) -> None:
        super().__init__(row_type, limit, noun)
        self.items: list[tuple[int, Any]] = []

    def check(self, index: int, row: Any) -> None:
        self.items.append((index, row))


def found(row: T | None, message: str) -> T:
    """The row looked up, or a 404 saying `message`."""
    if row is None:
        raise NotFound(message)
    return row


def page(rows: Sequence[T], limit: int, cursor: Callable[[T], str]) -> tuple[list[T], str | None]:
    """Keyset paging over `limit + 1` fetched rows: the first `limit`, and the cursor of the last
    shown when there are more."""
    shown = list(rows[:limit])
    return shown, (cursor(shown[-1]) if len(rows) > limit else None)


# Provider records (executions ... visits, claims) are keyed by (tenant, provider, external id); a
# provider reaches only its own, and their lists page on by `provider:external_id`.


def own(who: Principal, external_id: str) -> Key:
    return who.tenant_id, who.provider_id, external_id


def after_record(after: str) -> tuple[str, str]:
    provider, _, external_id = after.partition(":")
    return provider, external_id


def record_page(rows: Sequence[T], limit: int) -> tuple[list[T], str | None]:
    return page(rows, limit, lambda x: f"{x.provider_id}:{x.external_id}")  # type: ignore[attr-defined]


async def audit_write(
    conn: asyncpg.Connection,
    who: Principal,
    action: str,
    ids: list[str],
    payload: bytes | None,
    *,
    before: Any = None,
    after: Any = None,
    kind: str | None = None,
    reason: str | None = None,
) -> None:
    """Audit one write of a record; its entity kind is the action's first word unless given."""
    await audit.record(
        conn,
        who,
        action=action,
        entity_kind=kind or action.split(".", 1)[0],
        entity_ids=ids,
        payload=payload,
        reason=reason,
        before=before,
        after=after,
    )
