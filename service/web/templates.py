"""Server-rendered pages: one Jinja2 environment, and `page()`, which renders a template in the
visitor's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig

from service import __version__
from service.web.assets import YEAR, content_security_policy, static_url
from service.web.i18n import LOCALES, choose_locale, translate

LANG_COOKIE = "lang"
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}  # each in its own language, never translated
POLICY = content_security_policy()


# gettext for templates reads the translations of the page being rendered from its context, so one
# environment serves every language.
@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return context["i18n"].gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return context["i18n"].ngettext(singular, plural, n)


@jinja2.pass_context
def _language_url(context: jinja2.runtime.Context, locale: str) -> str:
    """The current page in another language (other query parameters kept)."""
    request: Request = context["request"]
    query = {k: v for k, v in request.query_params.items() if k != "lang"} | {"lang": locale}
    return f"{request.url.path}?{urlencode(query)}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("service.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals |= {
        "static": static_url,
        "language_url": _language_url,
        "LANGUAGE_NAMES": LANGUAGE_NAMES,
        "version": __version__,
    }
    return env


def template_config() -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def page(request: Request, name: str, **context: Any) -> Template:
    """Render `name` in the language asked for (`?lang=`, remembered in a cookie) or Swedish."""
    asked = request.query_params.get("lang")
    locale = choose_locale(asked, request.cookies.get(LANG_COOKIE))
    cookies = []
    if asked in LOCALES:
        cookies.append(Cookie(key=LANG_COOKIE, value=locale, max_age=YEAR, httponly=True, samesite="lax"))
    return Template(
        name,
        context={"lang": locale, "i18n": translate(locale), **context},
        cookies=cookies,
        headers={"Content-Security-Policy": POLICY},
    )
