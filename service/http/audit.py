"""The audit log, for internal control (role auditor)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Request
from litestar.params import FromQuery, QueryParameter

from schemas.common import AuditPage, AuditVerification
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import POSITION_MAX, get
from service.http.deps import Conn
from service.usecases import audit


@get(
    "/v1/audit",
    operation_id="listAuditEntries",
    tags=["audit"],
    guards=[allow("auditor")],
    summary="Audit entries in chain order, filtered; page on with `after`",
)
async def list_audit(
    request: Request[Principal, None, object],
    conn: Conn,
    actor: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    entity_kind: FromQuery[str | None] = None,
    entity_id: FromQuery[str | None] = None,
    since: Annotated[datetime | None, QueryParameter(description="entries at or after this instant")] = None,
    until: Annotated[datetime | None, QueryParameter(description="entries before this instant")] = None,
    after: Annotated[
        int, QueryParameter(ge=0, le=POSITION_MAX, description="position to continue after")
    ] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> AuditPage:
    where = audit.AuditFilter(
        actor=actor, action=action, entity_kind=entity_kind, entity_id=entity_id, since=since, until=until
    )
    return await audit.entries(conn, request.user, where, after=after, limit=limit)


@get(
    "/v1/audit/verification",
    operation_id="verifyAuditChain",
    tags=["audit"],
    guards=[allow("auditor")],
    summary="Walk the tenant's audit chain and name the first entry that does not hold",
    description="Also checks what each settlement froze: the chain's head it recorded when it was "
    "attested must still be in the chain (so a removed tail is detected even if the chain's own head "
    "record was rolled back with it), and its lines must still hash to its stored SHA-256 (a problem "
    "there has no `first_broken` position; `problem` names the settlement).",
)
async def verify_audit(request: Request[Principal, None, object], conn: Conn) -> AuditVerification:
    return await audit.verify(conn, request.user)
