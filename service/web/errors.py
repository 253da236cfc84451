"""Errors on a page: the same domain errors and HTTP errors as the JSON API, shown as a page in the
visitor's language with the status they carry (the JSON API's problems are service/http/problems.py)."""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from service.domain.errors import Problem
from service.web.templates import page


def on_problem(request: Request, exc: Problem) -> Response:
    return page(request, "error.html", status_code=exc.status, status=exc.status, detail=exc.detail)  # type: ignore[return-value]


def on_http(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        detail = "; ".join(
            f"{e.get('key', '')}: {e.get('message', '')}" for e in exc.extra if isinstance(e, dict)
        )
    if isinstance(exc, NotFoundException):
        detail = ""
    return page(request, "error.html", status_code=exc.status_code, status=exc.status_code, detail=detail)  # type: ignore[return-value]


EXCEPTION_HANDLERS = {Problem: on_problem, HTTPException: on_http}
