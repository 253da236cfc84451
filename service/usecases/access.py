"""Provider scoping: the one check of "may this caller act on this provider's records"."""

from __future__ import annotations

from service.domain.errors import Forbidden
from service.domain.principal import Principal


def own_provider(who: Principal, provider: str | None) -> str | None:
    """The provider a request acts for: a provider key acts for its own provider only (asking for
    another is refused); every other role acts for the provider asked for, or all (None)."""
    if who.role != "provider":
        return provider
    if provider is not None and provider != who.provider_id:
        raise Forbidden("a provider key sees only its own provider")
    return who.provider_id


def listed_provider(who: Principal, provider: str | None) -> str | None:
    """The provider whose records a list shows: a provider key always its own (a filter naming
    another narrows nothing and reveals nothing), every other role the one asked for, or all (None)."""
    return who.provider_id if who.role == "provider" else provider
