"""The insats catalogue (insatskatalog): the codes decisions, delegations and visits may use."""

from typing import Annotated

import msgspec

from service.domain.tariff import Category, ReportType, TariffError, decode_toml

InsatsCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class CatalogueError(TariffError):
    """A bad catalogue file; a TariffError so that one handler serves every shipped data file."""


class Insats(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One insats; `category` (service | omsorg) exactly for the SoL insatser, report type bistand."""

    code: InsatsCode
    title: Annotated[str, msgspec.Meta(min_length=1)]
    category: Category | None = None
    report_type: ReportType


class Catalogue(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    insatser: Annotated[tuple[Insats, ...], msgspec.Meta(min_length=1)] = msgspec.field(name="insats")

    def by_code(self) -> dict[str, Insats]:
        return {insats.code: insats for insats in self.insatser}


def load_catalogue(data: bytes, source: str = "<catalogue>") -> Catalogue:
    """Decode and check a catalogue file; raises CatalogueError naming the bad field's path."""
    catalogue = decode_toml(data, Catalogue, source=source, error=CatalogueError)
    seen: dict[str, int] = {}
    for index, insats in enumerate(catalogue.insatser):
        path = f"insats[{index}]"
        if insats.code in seen:
            raise CatalogueError(
                f"{path}.code",
                f"duplicate insats code {insats.code!r} (also insats[{seen[insats.code]}])",
                source,
            )
        seen[insats.code] = index
        if (insats.category is not None) != (insats.report_type == "bistand"):
            raise CatalogueError(
                f"{path}.category",
                "category (service or omsorg) is required for bistand and only for it",
                source,
            )
    return catalogue
