"""Provider scoping: the one check of "may this caller act on this provider's records"."""

from __future__ import annotations

from service.domain.errors import Forbidden, Invalid, NotFound
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


def require_visible(who: Principal, provider: str | None, missing: str) -> None:
    """A record of `provider` (None: of every provider, as a run of all) exists for a provider key only
    if it is its own: of another's it learns nothing, not even that it exists (NotFound(missing))."""
    if who.role == "provider" and provider not in (None, who.provider_id):
        raise NotFound(missing)


def record_owner(who: Principal, provider: str | None) -> str:
    """The provider whose single record (by its external id) is read: a provider key's own (asking
    for another is refused); invoice_admin and auditor, who read every provider's records
    (domain.md 2), name the provider."""
    owner = own_provider(who, provider)
    if owner is None:
        message = "required: external ids are unique per provider, so name the provider"
        raise Invalid(f"provider: {message}", errors=[{"field": "provider", "message": message}])
    return owner
