"""The workplace's static files: served under /static, cached for a year, addressed by content.

Every URL a page writes carries a hash of the file's content (`?v=`), so a file may be cached as
immutable and a changed file is fetched anew under its new URL.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/static"
YEAR = 365 * 24 * 3600

# What a page may load: the service's own files and nothing else, so that a bundled script with an
# address elsewhere in it (Redoc has one) cannot make the browser call another host.
POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def content_security_policy(**loosened: str) -> str:
    """The Content-Security-Policy header of a page; `style_src=...` and the like replace a directive."""
    directives = POLICY | {name.replace("_", "-"): value for name, value in loosened.items()}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def router() -> Router:
    return create_static_files_router(
        path=PATH,
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(public=True, max_age=YEAR, immutable=True),
        include_in_schema=False,
    )


@cache
def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content (read once per process)."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{PATH}/{name}?v={digest}"
