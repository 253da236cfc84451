"""Reading a request's JSON into the schemas' types so that every bad field is named (domain.md 6).

`msgspec.convert` stops at the first bad field; `convert` here goes on field by field to name all
of them, then checks what msgspec's `Meta` cannot express: days within the range the schema's
class declares (`days`, a ClassVar) and no control characters in text (tab and line breaks only
in fields annotated `Meta(extra={"free_text": True})`). `loads` refuses JSON nested deeper than
`MAX_DEPTH`, which msgspec would otherwise follow until a RecursionError.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from datetime import date, datetime
from typing import Any, TypeVar

import msgspec

from service.domain.errors import field_error

T = TypeVar("T")

MAX_DEPTH = 32
OPEN_END = date(9999, 12, 31)  # a `to` written as "until further notice"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_AT = re.compile(r"\s*-\s*at\s*`\$(?P<path>[^`]*)`\s*$")


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH; `field` is the top-level member it is under (if any)."""

    def __init__(self, field: str | None) -> None:
        self.field = field
        super().__init__(f"JSON is nested deeper than {MAX_DEPTH} levels")


def loads(raw: bytes | str) -> Any:
    """Untyped JSON, refused (TooDeep) when nested deeper than MAX_DEPTH."""
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        raise TooDeep(None) from None
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    stack: list[tuple[Any, int, str | None]] = [(value, 1, None)]
    while stack:
        node, depth, top = stack.pop()
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if depth > MAX_DEPTH:
            raise TooDeep(top)
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, top if depth > 1 else str(key)))


def convert(kind: Any, data: Any, *, row: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """`data` as `kind`, and every problem: `(value, [])`, or `(None, errors)` naming each field."""
    try:
        value = msgspec.convert(data, kind)
    except msgspec.ValidationError:
        return None, [_item(message, path, row) for message, path in _problems(kind, data, "")]
    return value, out_of_bounds(value, row=row)


def out_of_bounds(value: Any, *, row: int | None = None) -> list[dict[str, Any]]:
    """The problems of a converted value that its type's `Meta` cannot state (see the module)."""
    found: list[tuple[str, str]] = []
    for path, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
        if isinstance(item, msgspec.Struct):  # a body is a Struct or a list of them
            _bounds(item, "" if path is None else f"[{path}]", None, found)
    return [_item(message, path, row) for message, path in found]


def has_control_character(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _item(message: str, path: str, row: int | None) -> dict[str, Any]:
    return field_error(f"{message} - at `${path}`", row=row)


# Every field's problem ---------------------------------------------------------------------------


def _problems(kind: Any, data: Any, path: str) -> list[tuple[str, str]]:
    try:
        msgspec.convert(data, kind)
        return []
    except msgspec.ValidationError as err:
        first = str(err)
    found: list[tuple[str, str]] = []
    struct = _struct(kind, data)
    if struct is not None:
        found = _struct_problems(struct, data, path)
    elif isinstance(data, list) and (item := _item_type(kind)) is not None:
        found = [p for i, x in enumerate(data) for p in _problems(item, x, f"{path}[{i}]")]
    if found:
        return found
    match = _AT.search(first)
    if match is None:
        return [(first, path)]
    return [(first[: match.start()], path + match.group("path"))]


def _struct_problems(struct: type[msgspec.Struct], data: dict[str, Any], path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    config = struct.__struct_config__
    names = {config.tag_field} if config.tag_field else set()
    for f in msgspec.structs.fields(struct):
        names.add(f.encode_name)
        if f.encode_name in data:
            found += _problems(f.type, data[f.encode_name], f"{path}.{f.encode_name}")
        elif f.required:
            found.append((f"Object missing required field `{f.encode_name}`", path))
    if config.forbid_unknown_fields:
        found += [(f"Object contains unknown field `{k}`", path) for k in data if k not in names]
    return found


def _members(kind: Any) -> list[Any]:
    while typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return [m for member in typing.get_args(kind) for m in _members(member)]
    return [kind]


def _struct(kind: Any, data: Any) -> type[msgspec.Struct] | None:
    """The Struct type `data` (an object) is meant as: the only one, or the one its tag names."""
    if not isinstance(data, dict):
        return None
    structs = [m for m in _members(kind) if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    if len(structs) == 1:
        return structs[0]
    for struct in structs:
        config = struct.__struct_config__
        if config.tag_field and data.get(config.tag_field) == config.tag:
            return struct
    return None


def _item_type(kind: Any) -> Any:
    for member in _members(kind):
        if typing.get_origin(member) is list:
            return typing.get_args(member)[0]
    return None


# What Meta cannot say ----------------------------------------------------------------------------


def _bounds(struct: msgspec.Struct, path: str, days: Any, found: list[tuple[str, str]]) -> None:
    # On every row of a batch: plain loops, and a field's path is written only for a problem.
    days = getattr(type(struct), "days", days)
    for attribute, name, free in _fields(type(struct)):
        value = getattr(struct, attribute)
        kind = type(value)
        if kind is str:
            if (_CONTROL_IN_FREE_TEXT if free else _CONTROL).search(value):
                found.append((_control_message(free), f"{path}.{name}"))
        elif kind is datetime or kind is date:
            if days is not None and (problem := _day_problem(value, name, days)):
                found.append((problem, f"{path}.{name}"))
        elif kind is list:
            for i, item in enumerate(value):
                if type(item) is str:
                    if (_CONTROL_IN_FREE_TEXT if free else _CONTROL).search(item):
                        found.append((_control_message(free), f"{path}.{name}[{i}]"))
                elif isinstance(item, msgspec.Struct):
                    _bounds(item, f"{path}.{name}[{i}]", days, found)
        elif isinstance(value, msgspec.Struct):
            _bounds(value, f"{path}.{name}", days, found)


def _control_message(free: bool) -> str:
    allowed = " (tab and line breaks are allowed)" if free else ""
    return f"must not contain control characters{allowed}"


def _day_problem(value: date, name: str, days: tuple[date, date]) -> str | None:
    day = value.date() if isinstance(value, datetime) else value
    first, last = days
    if first <= day <= last or (name == "to" and day == OPEN_END):
        return None
    open_end = f" (or {OPEN_END}, open-ended)" if name == "to" else ""
    return f"must lie within {first}..{last}{open_end}"


@functools.cache
def _fields(struct: type[msgspec.Struct]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON name, free text?) per field; resolving the annotations is slow, so once."""
    return tuple((f.name, f.encode_name, _free_text(f.type)) for f in msgspec.structs.fields(struct))


def _free_text(kind: Any) -> bool:
    while typing.get_origin(kind) is typing.Annotated:
        kind, *metas = typing.get_args(kind)
        if any(isinstance(m, msgspec.Meta) and (m.extra or {}).get("free_text") for m in metas):
            return True
    return any(_free_text(m) for m in typing.get_args(kind)) if typing.get_origin(kind) else False
