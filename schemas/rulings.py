"""Rulings at scale: one ruling and reason applied to every discrepancy a filter matches (the API
calls them decisions: docs/glossary.md)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from schemas.common import FreeText, published_as
from schemas.reconcile import Period, ProviderId, Severity, Status

Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z_]{0,63}$", examples=["MANUAL_REGISTRATION"])]


@published_as("DecisionFilter")
class RulingFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Matches the discrepancies of the period's current runs, as `GET /v1/discrepancies` does."""

    period: Period
    provider: ProviderId
    code: Code
    kind: Annotated[
        Severity | None, msgspec.Meta(description="only `blocking` takes a decision; hard or info is a 409")
    ] = None
    status: Annotated[
        Status,
        msgspec.Meta(description="as decided now; `approved` or `rejected` revises earlier decisions"),
    ] = "open"


@published_as("BulkDecisionIn")
class BulkRulingIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    filter: RulingFilter
    decision: Literal["approve", "reject"]
    reason: FreeText
    amount: Annotated[
        str | None,
        msgspec.Meta(description='approving EXTRAORDINARY only: the amount paid for each, e.g. "2000.00"'),
    ] = None


class Skipped(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    key: str
    kind: Severity
    reason: str


@published_as("BulkDecisionResult")
class BulkRulingResult(msgspec.Struct, kw_only=True, frozen=True):
    matched: Annotated[int, msgspec.Meta(description="discrepancies the filter matched")]
    decided: int
    ids: Annotated[list[UUID], msgspec.Meta(description="the discrepancies decided, in key order")]
    skipped: Annotated[list[Skipped], msgspec.Meta(description="matched but taking no decision")]
