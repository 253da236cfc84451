"""The workplace's languages: Swedish first, English selectable, every text from one catalogue.

Message ids are English; `locale/sv` translates every one (tests/web/test_i18n.py checks it) and
`locale/en` may leave a message empty, which gettext shows as its id. The .po files are the only
source: they are compiled in memory on first use, so there is no .mo file to build or keep current.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("sv", "en")
DEFAULT_LOCALE = "sv"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a text for the catalogue; it is translated where it is shown."""
    return message


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translate(locale: str) -> Translations:
    """The gettext functions of a locale (`gettext`, `ngettext`, `pgettext`, ...)."""
    if locale not in LOCALES:
        raise ValueError(f"no catalogue for locale {locale!r} (have {', '.join(LOCALES)})")
    with catalogue_path(locale).open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=DOMAIN)
    mo = BytesIO()
    write_mo(mo, catalogue)  # fuzzy entries are left out, as msgfmt does
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def choose_locale(asked: str | None, remembered: str | None) -> str:
    """`?lang=` if it names a locale, else the remembered choice (a cookie), else Swedish."""
    for candidate in (asked, remembered):
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def accepted_locale(header: str | None) -> str:
    """The JSON API's language (docs/api.md): of the languages `Accept-Language` names, the one with
    the highest weight that is Swedish or English (any region: `en-GB` is English), else Swedish."""
    wanted = []
    for n, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = tag.strip().split("-")[0].lower()
        if language in LOCALES and weight > 0:
            wanted.append((-weight, n, language))
    return min(wanted)[2] if wanted else DEFAULT_LOCALE
