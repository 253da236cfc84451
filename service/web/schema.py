"""The API description page (/schema): Redoc from /static, in the system's fonts.

Litestar's own Redoc page loads its script from cdn.redoc.ly and its fonts from Google; this one
loads nothing from another host. Redoc's bundle always adds its maker's logo from cdn.redoc.ly to
the sidebar, so the page's Content-Security-Policy is what keeps the browser from fetching it.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.serialization import encode_json

from service.web.assets import content_security_policy, static_url

PATH = "/schema"
FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', sans-serif"
REDOC_OPTIONS = {"theme": {"typography": {"fontFamily": FONTS, "headings": {"fontFamily": FONTS}}}}
# Redoc styles itself with <style> elements and runs its search in a worker made from a blob.
POLICY = content_security_policy(style_src="'self' 'unsafe-inline'", worker_src="'self' blob:")


class SchemaPage(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path=["/", "/redoc"])

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        spec_url = html.escape(self.get_openapi_json_route(request))
        options = html.escape(encode_json(REDOC_OPTIONS).decode())
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(openapi_schema["info"]["title"])}: API description</title>
  <link rel="icon" type="image/svg+xml" href="{static_url("favicon.svg")}">
  <style>body {{ margin: 0; padding: 0 }}</style>
</head>
<body>
  <main id="redoc-container" data-spec-url="{spec_url}" data-options="{options}"></main>
  <script src="{static_url("redoc.standalone.js")}"></script>
  <script src="{static_url("schema.js")}"></script>
</body>
</html>
""".encode()


def openapi_router() -> Router:
    """The router under /schema (one per app: Litestar registers the pages on it)."""
    return Router(
        PATH,
        route_handlers=[],
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=POLICY)],
        include_in_schema=False,  # as on the router Litestar would make
    )


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """/schema and /schema/redoc show Redoc; /schema/openapi.json and .yaml the description itself."""
    return [SchemaPage(), JsonRenderPlugin(), YamlRenderPlugin()]
