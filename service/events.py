"""Structured log events for changes of the books: each run, ruling, settlement and tariff change
logs one line through `event` (logger `kundval.events`), for operations to follow without reading
the audit log. Fields are ids, periods, counts and amounts only: never a personnummer or a name (the
log's masking processor is the second line of defence, not the first)."""

from __future__ import annotations

from typing import Any

import structlog

_log = structlog.get_logger("kundval.events")


def event(name: str, **fields: Any) -> None:
    """Log `name` (e.g. "tariff.activated") with its fields at level info."""
    _log.info(name, **fields)
