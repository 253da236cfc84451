"""The message catalogues: every text of the workplace is in both, Swedish translates all of them,
and a page is Swedish unless English is asked for (and then remembered)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from service.web.i18n import LOCALES, catalogue_path, choose_locale, translate

WEB = Path(__file__).resolve().parents[2] / "service" / "web"


def _source_messages() -> set[str]:
    """What `pybabel extract -F service/web/babel.cfg` finds (singular ids)."""
    with (WEB / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(WEB, method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(locale: str):
    with catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_has_exactly_the_texts_of_the_workplace(locale):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalogue(locale) if m.id}
    source = _source_messages()
    assert source, "no texts found: is babel.cfg right?"
    hint = "run pybabel extract/update as docs/web.md says"
    assert source - ids == set(), f"missing from {locale}; {hint}"
    assert ids - source == set(), f"no longer used, remove from {locale}; {hint}"


def test_swedish_translates_every_text():
    def translated(message) -> bool:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        return not message.fuzzy and all(strings)

    assert [m.id for m in _catalogue("sv") if m.id and not translated(m)] == []


def test_translate_gives_gettext_per_locale():
    assert translate("sv").gettext("Log in") == "Logga in"
    assert translate("en").gettext("Log in") == "Log in"
    assert translate("sv").gettext("a text no catalogue has") == "a text no catalogue has"
    with pytest.raises(ValueError, match="no catalogue"):
        translate("de")


def test_choose_locale():
    assert choose_locale(None, None) == "sv"
    assert choose_locale("en", None) == "en"
    assert choose_locale(None, "en") == "en"
    assert choose_locale("sv", "en") == "sv"  # asking beats remembering
    assert choose_locale("de", "en") == "en"  # an unknown language is ignored
    assert choose_locale("de", "xx") == "sv"


async def test_login_page_is_swedish_unless_english_is_asked_for_and_then_remembers(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="sv">' in response.text
    assert "<title>Logga in – kundval</title>" in response.text
    assert "lang" not in response.cookies

    response = await client.get("/login?lang=en")
    assert '<html lang="en">' in response.text
    assert "<title>Log in – kundval</title>" in response.text
    assert 'href="/login?lang=sv"' in response.text
    assert response.cookies["lang"] == "en"

    response = await client.get("/login")  # the client keeps the cookie
    assert '<html lang="en">' in response.text
    client.cookies.clear()
    assert '<html lang="sv">' in (await client.get("/login")).text
