import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.catalogue import Catalogue, CatalogueError, Insats, load_catalogue
from service.domain.tariff import Component, Tariff, TariffError, load_tariff

DATA = files("service") / "data"
TARIFF_FILES = ["kson-2021.toml", "kson-2024.toml"]


def shipped_text(name: str) -> str:
    return (DATA / "tariffs" / name).read_text(encoding="utf-8")


def load(name: str) -> Tariff:
    return load_tariff((DATA / "tariffs" / name).read_bytes(), name)


def catalogue_text() -> str:
    return (DATA / "kson-insatser.toml").read_text(encoding="utf-8")


def money_values(component: Component) -> Iterator[object]:
    if component.rate is not None:
        yield from (component.rate.tatort, component.rate.landsbygd, component.rate.skargard)
    if component.amount_cap is not None:
        yield component.amount_cap.amount
    if component.cap is not None:
        yield component.cap.share


# --- the shipped files ------------------------------------------------------------------------


def test_kson_2021_decodes() -> None:
    tariff = load("kson-2021.toml")
    assert tariff.id == "kson-2021"
    assert (tariff.valid_from, tariff.valid_to) == (date(2021, 6, 1), date(2024, 1, 31))
    assert [c.id for c in tariff.components] == [
        "omsorg",
        "service",
        "delegerad",
        "larm",
        "hemsjukvard_listning",
        "hemsjukvard_besok",
        "hemrehab_besok",
        "extraordinar_insats",
    ]
    listing = tariff.component("hemsjukvard_listning")
    assert (listing.basis, listing.enrolment, listing.requires_remiss, listing.proration) == (
        "enrolled_month",
        "hemsjukvard",
        False,
        "daily",
    )
    visit = tariff.component("hemrehab_besok")
    assert (visit.basis, visit.unit, visit.report_type, visit.requires_enrolment) == (
        "visit_count",
        "visit",
        "rehab",
        "hemrehab",
    )
    assert visit.rate is not None and visit.rate.for_zone("skargard") == Decimal("680.00")
    assert tariff.claim_component("sip") is None
    assert tariff.claim_component("extraordinar_insats") is tariff.component("extraordinar_insats")


def test_kson_2024_decodes() -> None:
    tariff = load("kson-2024.toml")
    assert tariff.id == "kson-2024"
    assert tariff.valid_from == date(2024, 2, 1)
    assert tariff.valid_to is None
    assert tariff.header.illustrative_rates is True
    assert len(tariff.components) == 12

    omsorg = tariff.component("omsorg")
    assert (omsorg.basis, omsorg.category, omsorg.unit, omsorg.account) == (
        "granted_time",
        "omsorg",
        "hour",
        "4631",
    )
    assert omsorg.rate is not None
    assert [omsorg.rate.for_zone(z) for z in ("tatort", "landsbygd", "skargard")] == [
        Decimal("470.00"),
        Decimal("540.00"),
        Decimal("610.00"),
    ]

    markup = tariff.component("delegering_paslag")
    assert markup.basis == "granted_time_markup"
    assert markup.delegation_codes == frozenset({"ogondroppar", "lakemedel", "kompressionsstrumpor"})

    capped = tariff.component("delegerad_ovrig")
    assert capped.exclude_codes == markup.delegation_codes
    assert capped.cap is not None
    assert (capped.cap.of, capped.cap.report_type, capped.cap.share, capped.cap.per) == (
        "performed_minutes",
        "bistand",
        Decimal("0.13"),
        "provider_period",
    )

    assert tariff.component("hemsjukvard_listning").requires_remiss is True

    sip = tariff.claim_component("sip")
    assert sip is not None and sip.id == "sip"
    assert sip.fixed_price == Decimal("1000.00")
    assert sip.limit is not None and (sip.limit.count, sip.limit.per) == (1, "customer_provider_date")

    lmg = tariff.claim_component("lakemedelsgenomgang")
    assert lmg is not None and lmg.requires_enrolment == "hemsjukvard"
    assert lmg.limit is not None and lmg.limit.per == "customer_calendar_year"

    team = tariff.claim_component("teamkonferens")
    assert team is not None and team.limit is not None and team.amount_cap is not None
    assert (team.limit.count, team.amount_cap.amount) == (4, Decimal("5000.00"))

    extraordinary = tariff.claim_component("extraordinar_insats")
    assert extraordinary is not None
    assert extraordinary.price == "approved"
    assert extraordinary.fixed_price is None


@pytest.mark.parametrize("name", TARIFF_FILES)
def test_money_is_decimal_never_float(name: str) -> None:
    tariff = load(name)
    values = [value for component in tariff.components for value in money_values(component)]
    assert values
    assert all(type(value) is Decimal for value in values)


@pytest.mark.parametrize("name", TARIFF_FILES)
def test_staff_rules(name: str) -> None:
    tariff = load(name)
    assert tariff.allowed_staff("bistand") == frozenset({"vardbitrade", "underskoterska"})
    assert tariff.allowed_staff("hsl") == frozenset({"sjukskoterska", "distriktsskoterska"})
    assert tariff.allowed_staff("rehab") == frozenset({"fysioterapeut", "arbetsterapeut"})


def test_unknown_component_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nonexistent"):
        load("kson-2024.toml").component("nonexistent")


def test_validity_periods_meet_without_overlap() -> None:
    old, new = load("kson-2021.toml"), load("kson-2024.toml")
    assert old.covers(date(2021, 6, 1)) and not old.covers(date(2021, 5, 31))
    assert old.covers(date(2024, 1, 31)) and not old.covers(date(2024, 2, 1))
    assert new.covers(date(2024, 2, 1)) and not new.covers(date(2024, 1, 31))
    assert new.covers(date(2099, 12, 31))
    day = date(2021, 6, 1)
    while day < date(2024, 6, 1):
        assert old.covers(day) != new.covers(day)
        day += timedelta(days=1)


def test_tariff_is_frozen() -> None:
    tariff = load("kson-2024.toml")
    with pytest.raises(AttributeError):
        tariff.staff = tariff.staff  # type: ignore[misc]


# --- content hash -----------------------------------------------------------------------------


def reformatted(text: str) -> str:
    """Same content, other layout: no comments, zones reordered, "470.00" as "470.0", components
    in reverse order, code lists reordered."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    text = "\n".join(lines) + "\n"
    text = re.sub(
        r'rate = \{ tatort = "([0-9.]+)0", landsbygd = "([0-9.]+)", skargard = "([0-9.]+)" \}',
        r'rate = { skargard = "\3", tatort = "\1", landsbygd = "\2" }',
        text,
    )
    text = text.replace(
        '["ogondroppar", "lakemedel", "kompressionsstrumpor"]',
        '["lakemedel", "ogondroppar", "kompressionsstrumpor"]',
    )
    text = text.replace('["vardbitrade", "underskoterska"]', '["underskoterska", "vardbitrade"]')
    head, *components = text.split("[[component]]\n")
    return head + "".join(f"[[component]]\n{c}" for c in reversed(components))


@pytest.mark.parametrize("name", TARIFF_FILES)
def test_hash_ignores_layout(name: str) -> None:
    text = shipped_text(name)
    other = reformatted(text)
    assert other != text
    original, again = load(name), load_tariff(other.encode())
    assert (again.header, again.staff) == (original.header, original.staff)
    assert {c.id: c for c in again.components} == {c.id: c for c in original.components}
    assert [c.id for c in again.components] == [c.id for c in reversed(original.components)]
    assert again.content_hash() == original.content_hash()


def test_hash_is_stable_and_distinguishes_versions() -> None:
    first = load("kson-2024.toml").content_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert load("kson-2024.toml").content_hash() == first
    assert load("kson-2021.toml").content_hash() != first


def test_hash_treats_written_out_default_as_absent() -> None:
    text = shipped_text("kson-2021.toml")
    assert "requires_remiss = false\n" in text
    without = load_tariff(text.replace("requires_remiss = false\n", "").encode())
    assert without.content_hash() == load("kson-2021.toml").content_hash()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('skargard = "610.00"', 'skargard = "610.01"'),
        ('share = "0.13"', 'share = "0.14"'),
        ('title = "Larminsatser: utförd tid"', 'title = "Larm: utförd tid"'),
        (
            'claim_type = "sip"\nunit = "occasion"\n',
            'claim_type = "sip"\nunit = "occasion"\nrequires_enrolment = "hemsjukvard"\n',
        ),
    ],
)
def test_hash_changes_with_content(old: str, new: str) -> None:
    text = shipped_text("kson-2024.toml")
    assert old in text
    changed = load_tariff(text.replace(old, new, 1).encode())
    assert changed.content_hash() != load("kson-2024.toml").content_hash()


@given(st.decimals(min_value=0, max_value=10**6, places=2))
def test_any_rate_decodes_exactly_and_only_its_value_moves_the_hash(value: Decimal) -> None:
    text = shipped_text("kson-2024.toml")
    tariff = load_tariff(text.replace('skargard = "610.00"', f'skargard = "{value}"', 1).encode())
    rate = tariff.component("omsorg").rate
    assert rate is not None and rate.skargard == value
    same_value = value == Decimal("610")
    assert (tariff.content_hash() == load("kson-2024.toml").content_hash()) == same_value


# --- refused files ----------------------------------------------------------------------------

MUTATIONS = [
    # (what, old, new, path of the bad field, fragment of the message)
    ("float rate", 'tatort = "470.00"', "tatort = 470.00", "component[0].rate.tatort", "float"),
    ("float share", 'share = "0.13"', "share = 0.13", "component[3].cap.share", "float"),
    ("float price", 'price = "1000.00"', "price = 1000.00", "component[8].price", "float"),
    (
        "unknown field",
        'id = "service"\n',
        'id = "service"\ncolour = "blue"\n',
        "component[1].colour",
        "unknown field",
    ),
    ("unknown table", "[staff]", "[extra]\nx = 1\n\n[staff]", "extra", "unknown field"),
    ("missing zone", ', skargard = "610.00" }', " }", "component[0].rate.skargard", "missing required field"),
    (
        "unknown zone",
        'skargard = "610.00"',
        'skargard = "610.00", fjall = "1.00"',
        "component[0].rate.fjall",
        "unknown",
    ),
    (
        "valid_to before valid_from",
        "valid_from = 2024-02-01\n",
        "valid_from = 2024-02-01\nvalid_to = 2024-01-31\n",
        "tariff.valid_to",
        "before valid_from",
    ),
    (
        "datetime valid_from",
        "valid_from = 2024-02-01",
        "valid_from = 2024-02-01T00:00:00",
        "tariff.valid_from",
        "date",
    ),
    (
        "string valid_from",
        "valid_from = 2024-02-01",
        'valid_from = "2024-02-01"',
        "tariff.valid_from",
        "date",
    ),
    ("missing header field", 'currency = "SEK"\n', "", "tariff.currency", "missing required field"),
    ("other currency", 'currency = "SEK"', 'currency = "EUR"', "tariff.currency", "Invalid enum value"),
    ("duplicate id", 'id = "service"', 'id = "omsorg"', "component[1].id", "duplicate component id"),
    ("bad id", 'id = "omsorg"', 'id = "Omsorg X"', "component[0].id", "regex"),
    ("negative rate", '"470.00"', '"-470.00"', "component[0].rate.tatort", "negative"),
    ("three decimals", '"470.00"', '"470.001"', "component[0].rate.tatort", "more than two decimals"),
    ("not a number", '"470.00"', '"NaN"', "component[0].rate.tatort", "finite"),
    ("share zero", 'share = "0.13"', 'share = "0"', "component[3].cap.share", "more than 0"),
    ("share above one", 'share = "0.13"', 'share = "1.5"', "component[3].cap.share", "at most 1"),
    (
        "unknown staff category",
        '"fysioterapeut", "arbetsterapeut"]',
        '"fysioterapeut", "lakare"]',
        "staff.rehab[1]",
        "Invalid enum value",
    ),
    (
        "missing report type",
        'larm = ["vardbitrade", "underskoterska"]\n',
        "",
        "staff.larm",
        "missing required field",
    ),
    (
        "unknown report type",
        "[staff]\n",
        '[staff]\nadmin = ["vardbitrade"]\n',
        "staff.admin",
        "unknown field",
    ),
    ("empty staff list", 'hsl = ["sjukskoterska", "distriktsskoterska"]', "hsl = []", "staff.hsl", "length"),
    ("unknown area", 'area = "hemtjanst"', 'area = "hemtjänst"', "component[0].area", "Invalid enum value"),
    (
        "unknown basis",
        'basis = "granted_time"',
        'basis = "granted"',
        "component[0].basis",
        "Invalid enum value",
    ),
    ("missing category", 'category = "omsorg"\n', "", "component[0].category", "needs category"),
    (
        "foreign field",
        'category = "omsorg"\n',
        'category = "omsorg"\nreport_type = "bistand"\n',
        "component[0].report_type",
        "does not apply to basis granted_time",
    ),
    (
        "remiss on a claim",
        'claim_type = "sip"\n',
        'claim_type = "sip"\nrequires_remiss = true\n',
        "component[8].requires_remiss",
        "does not apply to basis claim",
    ),
    (
        "limit on granted time",
        'category = "service"\n',
        'category = "service"\nlimit = { count = 1, per = "provider_period" }\n',
        "component[1].limit",
        "does not apply to basis granted_time",
    ),
    ("wrong unit", 'unit = "hour"', 'unit = "visit"', "component[0].unit", "paid per hour"),
    (
        "missing rate",
        'unit = "hour"\nrate = { tatort = "470.00", landsbygd = "540.00", skargard = "610.00" }\n',
        'unit = "hour"\n',
        "component[0].rate",
        "needs rate",
    ),
    (
        "missing delegation codes",
        'delegation_codes = ["ogondroppar", "lakemedel", "kompressionsstrumpor"]\n',
        "",
        "component[2].delegation_codes",
        "needs delegation_codes",
    ),
    (
        "empty delegation codes",
        '["ogondroppar", "lakemedel", "kompressionsstrumpor"]',
        "[]",
        "component[2].delegation_codes",
        "length",
    ),
    ("missing proration", 'proration = "daily"\n', "", "component[5].proration", "needs proration"),
    ("missing report_type", 'report_type = "larm"\n', "", "component[4].report_type", "needs report_type"),
    ("missing claim price", 'price = "1000.00"\n', "", "component[8].price", "needs price"),
    (
        "approved on a priced claim",
        'price = "1000.00"',
        'price = "approved"',
        "component[8].price",
        "only for extraordinar_insats",
    ),
    (
        "fixed price on extraordinary",
        'price = "approved"',
        'price = "900.00"',
        "component[11].price",
        'price must be "approved"',
    ),
    ("malformed price", 'price = "1000.00"', 'price = "1 000,00"', "component[8].price", "plain decimal"),
    (
        "duplicate claim type",
        'claim_type = "teamkonferens"',
        'claim_type = "sip"',
        "component[10].claim_type",
        "already paid by component[8]",
    ),
    ("zero limit", "count = 4", "count = 0", "component[10].limit.count", ">= 1"),
    (
        "negative amount cap",
        'amount = "5000.00"',
        'amount = "-5000.00"',
        "component[10].amount_cap.amount",
        "negative",
    ),
]


@pytest.mark.parametrize(("what", "old", "new", "path", "fragment"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_tariff_is_refused_naming_the_field(
    what: str, old: str, new: str, path: str, fragment: str
) -> None:
    text = shipped_text("kson-2024.toml")
    assert old in text, what
    with pytest.raises(TariffError) as info:
        load_tariff(text.replace(old, new, 1).encode(), "kson-2024.toml")
    error = info.value
    assert error.path == path
    assert fragment in error.message
    assert str(error).startswith(f"kson-2024.toml: {path}: ")
    assert isinstance(error, ValueError)


def test_invalid_toml_is_refused() -> None:
    with pytest.raises(TariffError, match="invalid TOML") as info:
        load_tariff(b'[tariff]\nid = "x', "broken.toml")
    assert info.value.path == ""
    assert str(info.value).startswith("broken.toml: invalid TOML")


def test_non_utf8_is_refused() -> None:
    with pytest.raises(TariffError, match="UTF-8"):
        load_tariff(b"\xff\xfe")


QUOTED_AMOUNT = re.compile(r'"(-?[0-9]+\.[0-9]+)"')


@pytest.mark.parametrize("name", TARIFF_FILES)
@given(data=st.data())
def test_no_amount_may_be_written_as_a_float(name: str, data: st.DataObject) -> None:
    text = shipped_text(name)
    occurrences = list(QUOTED_AMOUNT.finditer(text))
    match = data.draw(st.sampled_from(occurrences))
    unquoted = text[: match.start()] + match.group(1) + text[match.end() :]
    with pytest.raises(TariffError, match="float") as info:
        load_tariff(unquoted.encode())
    assert info.value.path.startswith("component[")


# --- insats catalogue -------------------------------------------------------------------------


def load_shipped_catalogue() -> Catalogue:
    return load_catalogue((DATA / "kson-insatser.toml").read_bytes(), "kson-insatser.toml")


def test_catalogue_decodes() -> None:
    catalogue = load_shipped_catalogue()
    by_code = catalogue.by_code()
    assert len(catalogue.insatser) == len(by_code) == 20
    assert by_code["dusch"] == Insats(code="dusch", title="Dusch", category="omsorg", report_type="bistand")
    assert by_code["stadning"].category == "service"
    assert by_code["larmutryckning"].category is None
    assert {i.report_type for i in catalogue.insatser} == {"bistand", "hsl_delegated", "larm", "hsl", "rehab"}
    assert all((i.category is not None) == (i.report_type == "bistand") for i in catalogue.insatser)


@pytest.mark.parametrize("name", TARIFF_FILES)
def test_tariff_codes_are_delegated_insatser_of_the_catalogue(name: str) -> None:
    by_code = load_shipped_catalogue().by_code()
    for component in load(name).components:
        for code in (component.delegation_codes or frozenset()) | (component.exclude_codes or frozenset()):
            assert by_code[code].report_type == "hsl_delegated"


CATALOGUE_MUTATIONS = [
    ("duplicate code", 'code = "tvatt"', 'code = "stadning"', "insats[1].code", "duplicate insats code"),
    (
        "category outside bistand",
        'title = "Larmutryckning"\n',
        'title = "Larmutryckning"\ncategory = "omsorg"\n',
        "insats[9].category",
        "only for it",
    ),
    ("bistand without category", 'category = "service"\n', "", "insats[0].category", "required for bistand"),
    (
        "unknown category",
        'category = "service"',
        'category = "annat"',
        "insats[0].category",
        "Invalid enum value",
    ),
    (
        "unknown report type",
        'report_type = "larm"',
        'report_type = "alarm"',
        "insats[9].report_type",
        "Invalid enum value",
    ),
    (
        "unknown field",
        'code = "tvatt"\n',
        'code = "tvatt"\nprice = "1"\n',
        "insats[1].price",
        "unknown field",
    ),
    ("missing title", 'title = "Tvätt"\n', "", "insats[1].title", "missing required field"),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "path", "fragment"), CATALOGUE_MUTATIONS, ids=[m[0] for m in CATALOGUE_MUTATIONS]
)
def test_mutated_catalogue_is_refused_naming_the_field(
    what: str, old: str, new: str, path: str, fragment: str
) -> None:
    text = catalogue_text()
    assert old in text, what
    with pytest.raises(CatalogueError) as info:
        load_catalogue(text.replace(old, new, 1).encode(), "kson-insatser.toml")
    assert info.value.path == path
    assert fragment in info.value.message
    assert isinstance(info.value, TariffError)


def test_empty_catalogue_is_refused() -> None:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(b"insats = []\n")
    assert info.value.path == "insats"


def test_catalogue_struct_round_trips() -> None:
    catalogue = load_shipped_catalogue()
    assert msgspec.convert(msgspec.to_builtins(catalogue), Catalogue) == catalogue
