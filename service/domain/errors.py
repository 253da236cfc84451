"""Domain errors: plain exceptions raised by the use cases (and the pure rules they call).

Each carries a status and a stable kind; the interfaces map them once, the JSON API to RFC 9457
problem details (`service/http/problems.py`), the web workplace to messages on the page. Nothing here
knows of HTTP frameworks.
"""

from __future__ import annotations

import re
from typing import Any


class Problem(Exception):
    """An error with a status and a stable type; `extra` members are added to the problem body."""

    status = 400
    slug = "bad-request"
    title = "The request could not be read"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(Problem):
    status, slug, title = 404, "not-found", "No such resource"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "This caller may not do this"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class TooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class Invalid(Problem):
    """422 with `errors`: one item per problem, each naming its field (and row in a batch)."""

    status, slug, title = 422, "validation", "The request is not valid"

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)


class TooManyRequests(Problem):
    """429: a rate limit (domain.md 7b) is used up until the window ends, `retry_after` seconds on."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(Problem):
    status, slug, title = 503, "unavailable", "Service unavailable"


_PATH = re.compile(r"\s*-\s*at\s*`\$(?P<path>[^`]*)`\s*$")
_NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]+)`")


def field_error(message: str, *, row: int | None = None, prefix: str = "") -> dict[str, Any]:
    """One `errors` item from a msgspec message ("Expected `int`, got `str` - at `$.a[2].b`").

    A leading `[n]` of the path (a batch's row) becomes `row`; the rest is the dotted field path.
    """
    match = _PATH.search(message)
    path = match.group("path") if match else ""
    text = message[: match.start()] if match else message
    # "Object missing required field `x`" / "Object contains unknown field `x`": the field is x.
    if named := _NAMED_FIELD.search(text):
        path = f"{path}.{named.group(1)}"
    if row is None and (lead := re.match(r"^\[(\d+)\]", path)):
        row, path = int(lead.group(1)), path[lead.end() :]
    field = (prefix + path).lstrip(".") or None
    item: dict[str, Any] = {"field": field, "message": text}
    if row is not None:
        item["row"] = row
    return item
