"""The tariff fields of followup.md 3: simulation versions, a minimum performed share on granted
time, and performed time by category capped at granted time."""

from decimal import Decimal
from importlib.resources import files

import pytest

from service.domain.tariff import TariffError, load_tariff

KSON_2024 = (files("service") / "data" / "tariffs" / "kson-2024.toml").read_text(encoding="utf-8")
GRANTED_OMSORG = 'basis = "granted_time"\ncategory = "omsorg"'
GRANTED_SERVICE = 'basis = "granted_time"\ncategory = "service"'
PERFORMED_BISTAND = 'basis = "performed_time"\nreport_type = "bistand"'


def variant(*changes: tuple[str, str]) -> str:
    text = KSON_2024
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_a_simulation_with_both_rules_decodes():
    text = variant(
        ('id = "kson-2024"', 'id = "kson-2024-sim"\nsimulation = true'),
        (GRANTED_OMSORG, GRANTED_OMSORG + '\nminimum_share = "0.80"'),
        (GRANTED_SERVICE, PERFORMED_BISTAND + '\ncategory = "service"\ncap_to_granted = true'),
    )
    tariff = load_tariff(text.encode(), "sim.toml")
    assert tariff.header.simulation
    minimum, capped = (c for c in tariff.components if c.minimum_share or c.cap_to_granted)
    assert minimum.minimum_share == Decimal("0.80") and minimum.basis == "granted_time"
    assert capped.cap_to_granted and capped.category == "service" and capped.basis == "performed_time"


def test_in_force_versions_are_not_simulations():
    assert not load_tariff(KSON_2024.encode(), "kson-2024.toml").header.simulation


@pytest.mark.parametrize(
    ("what", "changes", "path", "fragment"),
    [
        (
            "share above one",
            [(GRANTED_OMSORG, GRANTED_OMSORG + '\nminimum_share = "1.2"')],
            "component[0].minimum_share",
            "at most 1",
        ),
        (
            "share of zero",
            [(GRANTED_OMSORG, GRANTED_OMSORG + '\nminimum_share = "0"')],
            "component[0].minimum_share",
            "more than 0",
        ),
        (
            "cap without category",
            [(GRANTED_OMSORG, PERFORMED_BISTAND + "\ncap_to_granted = true")],
            "component[0].cap_to_granted",
            "needs the category",
        ),
        (
            "category on other report types",
            [(GRANTED_OMSORG, 'basis = "performed_time"\nreport_type = "larm"\ncategory = "omsorg"')],
            "component[0].category",
            "bistand visits only",
        ),
        (
            "minimum share on performed time",
            [(GRANTED_OMSORG, PERFORMED_BISTAND + '\nminimum_share = "0.8"')],
            "component[0].minimum_share",
            "does not apply to basis performed_time",
        ),
        (
            "cap to granted on granted time",
            [(GRANTED_OMSORG, GRANTED_OMSORG + "\ncap_to_granted = true")],
            "component[0].cap_to_granted",
            "does not apply to basis granted_time",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_misused_rules_are_refused_naming_the_field(what, changes, path, fragment):
    with pytest.raises(TariffError) as info:
        load_tariff(variant(*changes).encode(), "sim.toml")
    assert info.value.path == path, what
    assert fragment in info.value.message, what
