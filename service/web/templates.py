"""Server-rendered pages: one Jinja2 environment, and `page()`, which renders a template in the
visitor's language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from babel.numbers import format_decimal
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig

from service import __version__
from service.web.assets import YEAR, content_security_policy, static_url
from service.web.i18n import LOCALES, N_, choose_locale, translate
from service.web.labels import CODES, WORDS

LANG_COOKIE = "lang"
TIMEZONE = ZoneInfo("Europe/Stockholm")  # the users' time: every time on a page is local


# The menu: (path, text, roles that see it).
STAFF = frozenset({"invoice_admin", "reader", "auditor"})
MENU = [
    ("/", N_("Overview"), None),
    ("/runs", N_("Reconciliation"), STAFF),
    ("/discrepancies", N_("Discrepancies"), STAFF),
    ("/settlements", N_("Attest"), STAFF),
    ("/followup", N_("Follow-up"), STAFF),
    ("/compare", N_("Compare tariffs"), STAFF),
    ("/tariffs", N_("Tariffs"), STAFF),
    ("/audit", N_("Audit log"), frozenset({"auditor"})),
]
ROLE_NAMES = {
    "invoice_admin": N_("invoice administrator"),
    "reader": N_("reader"),
    "auditor": N_("auditor"),
    "registry": N_("registry"),
    "provider": N_("provider"),
}
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


@jinja2.pass_context
def _menu(context: jinja2.runtime.Context) -> list[tuple[str, str]]:
    me, i18n = context["me"], context["i18n"]
    return [(href, i18n.gettext(text)) for href, text, roles in MENU if roles is None or me.role in roles]


@jinja2.pass_context
def _role_name(context: jinja2.runtime.Context, role: str) -> str:
    return context["i18n"].gettext(ROLE_NAMES[role]) if role in ROLE_NAMES else role


@jinja2.pass_context
def _money(context: jinja2.runtime.Context, amount: Decimal | str | None) -> str:
    """An amount in kronor as the language writes it (Swedish: 1 234,50)."""
    if amount is None:
        return ""
    return format_decimal(Decimal(amount), format="#,##0.00", locale=context["lang"])


@jinja2.pass_context
def _number(context: jinja2.runtime.Context, value: int | Decimal | None) -> str:
    return "" if value is None else format_decimal(value, locale=context["lang"])


@jinja2.pass_context
def _local_time(context: jinja2.runtime.Context, at: datetime | None, form: str = "short") -> str:
    """A moment in Swedish time, as the language writes it."""
    if at is None:
        return ""
    return format_datetime(at.astimezone(TIMEZONE), form, tzinfo=TIMEZONE, locale=context["lang"])


@jinja2.pass_context
def _code_name(context: jinja2.runtime.Context, code: str) -> str:
    return context["i18n"].gettext(CODES[code]) if code in CODES else code


@jinja2.pass_context
def _word(context: jinja2.runtime.Context, value: str) -> str:
    """A kind, status or decision in the page's language."""
    return context["i18n"].gettext(WORDS[value]) if value in WORDS else value


def url_of(path: str, params: dict[str, Any] | None = None, **more: Any) -> str:
    """`path` with the non-empty parameters as its query (filters live in the URL; a list repeats)."""
    query = {k: v for k, v in ((params or {}) | more).items() if v not in (None, "", [])}
    return f"{path}?{urlencode(query, doseq=True)}" if query else path


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
        "menu": _menu,
        "role_name": _role_name,
        "url": url_of,
    }
    env.filters |= {
        "code_name": _code_name,
        "word": _word,
        "money": _money,
        "number": _number,
        "local_time": _local_time,
    }
    return env


def template_config() -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def locale_of(request: Request) -> str:
    return choose_locale(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """Render `name` in the language asked for (`?lang=`, remembered in a cookie) or Swedish, with
    the signed-in user (`me`) and the session's CSRF token (`csrf`) when there is a session."""
    asked = request.query_params.get("lang")
    locale = locale_of(request)
    cookies = list(cookies or [])
    if asked in LOCALES:
        cookies.append(Cookie(key=LANG_COOKIE, value=locale, max_age=YEAR, httponly=True, samesite="lax"))
    session = request.scope.get("auth")
    return Template(
        name,
        context={
            "lang": locale,
            "i18n": translate(locale),
            "me": getattr(session, "user", None),
            "csrf": getattr(session, "csrf", None),
            **context,
        },
        status_code=status_code,
        cookies=cookies,
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-store"} | (headers or {}),
    )
