"""Tariff versions: load (invoice_admin), activate (a second invoice_admin), read."""

from __future__ import annotations

from litestar import Request, Response
from litestar.datastructures import State
from litestar.params import FromPath

from schemas import tariffs as s
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import Payload, get, parse, post
from service.http.deps import Conn
from service.usecases import tariffs

READERS = allow("invoice_admin", "auditor", "reader", "provider")


@post(
    "/v1/tariffs",
    operation_id="loadTariff",
    tags=["tariffs"],
    guards=[allow("invoice_admin")],
    summary="Load a tariff version (TOML); it is pending until a second invoice_admin activates it",
    description="201 when stored, 200 when the same file is already loaded under its id. A malformed "
    "file is a 422 naming the bad field's path; other content under a known id, or a validity that "
    "overlaps an active version other than as a replacement or a later start, is a 409.",
)
async def load_tariff(
    request: Request[Principal, None, State], conn: Conn, data: Payload[s.TariffLoad]
) -> Response[s.Tariff]:
    tariff, created = await tariffs.load(conn, request.user, parse(s.TariffLoad, data).source)
    return Response(tariff, status_code=201 if created else 200)


@post(
    "/v1/tariffs/{tariff_id:str}/activation",
    operation_id="activateTariff",
    tags=["tariffs"],
    guards=[allow("invoice_admin")],
    status_code=200,
    summary="Activate a pending version (four eyes: not by the invoice_admin who loaded it)",
    description="A version with the same validity as an active one replaces it (that one becomes "
    "superseded); a version starting after the start of the open-ended one ends it the day before.",
)
async def activate_tariff(
    request: Request[Principal, None, State], conn: Conn, tariff_id: FromPath[str]
) -> s.Tariff:
    return await tariffs.activate(conn, request.user, tariff_id)


@get("/v1/tariffs", operation_id="listTariffs", tags=["tariffs"], guards=[READERS], summary="Tariff versions")
async def list_tariffs(request: Request[Principal, None, State], conn: Conn) -> list[s.Tariff]:
    return await tariffs.list_all(conn, request.user)


@get(
    "/v1/tariffs/{tariff_id:str}",
    operation_id="getTariff",
    tags=["tariffs"],
    guards=[READERS],
    summary="A tariff version with its components and the file as loaded",
)
async def get_tariff(
    request: Request[Principal, None, State], conn: Conn, tariff_id: FromPath[str]
) -> s.TariffDetail:
    return await tariffs.get(conn, request.user, tariff_id)


ROUTES = [load_tariff, activate_tariff, list_tariffs, get_tariff]
