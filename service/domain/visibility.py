"""Who sees a personnummer (domain.md 2 and 3): the one home of identity masking.

invoice_admin, auditor, registry, and a provider for its own records see numbers; everyone else gets
the customer's opaque reference. A protected identity (skyddad identitet) is shown in a single-record
view to invoice_admin and auditor only, and never in lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain.identity import mask

PERSONAL_DATA_ROLES = frozenset({"invoice_admin", "auditor", "registry", "provider"})
PROTECTED_IDENTITY_ROLES = frozenset({"invoice_admin", "auditor"})


def may_see_number(role: str, protected: bool, *, single: bool) -> bool:
    return role in PERSONAL_DATA_ROLES and (not protected or (single and role in PROTECTED_IDENTITY_ROLES))


def shown_pnr(pnr: str | None, protected: bool, role: str, *, single: bool) -> str | None:
    """The personnummer as this role may see it in a registry view: in full in a single view, masked
    in lists, and not at all where `may_see_number` says no."""
    if pnr is None or not may_see_number(role, protected, single=single):
        return None
    return pnr if single else mask(pnr)


def record_customer(
    pnr: str | None, ref: str | None, protected: bool, chosen: bool, role: str, *, single: bool
) -> tuple[str | None, str | None]:
    """A provider record's `(customer, customer_ref)` as `role` sees it. A provider learns the ref and
    the protection only of a customer it is or was chosen for; any other number comes back as it sent
    it (masked in lists) with no ref, the same whether the registry does not know it, another
    provider has it, or it is protected (domain.md 2)."""
    if pnr is None:
        return None, None
    if role == "provider" and not chosen:
        return (pnr if single else mask(pnr)), None
    return shown_pnr(pnr, protected, role, single=single), ref


@dataclass
class Viewer:
    """One caller's view of a set of customers, for documents built from runs and settlements; it
    remembers which numbers it showed, for the audit log."""

    role: str
    provider: str | None  # a provider key's own provider
    customers: dict[str, tuple[str, bool]]  # pnr -> (reference, protected identity)
    single: bool = False  # a single-record view
    shown: set[str] = field(default_factory=set)  # customers whose number was shown (for the audit log)

    @property
    def as_provider(self) -> bool:
        return self.role == "provider"

    def sees(self, provider: str) -> bool:
        return not self.as_provider or provider == self.provider

    def customer(self, pnr: str | None) -> str | None:
        if pnr is None:
            return None
        ref, protected = self.customers.get(pnr, (None, False))
        if may_see_number(self.role, protected, single=self.single):
            self.shown.add(ref or mask(pnr))
            return pnr
        return ref

    def ref(self, pnr: str | None) -> str | None:
        return self.customers.get(pnr, (None, False))[0] if pnr else None

    def text(self, text: str, pnr: str | None) -> str:
        """`text` (a key, record or source) with the customer's number replaced where it is not shown."""
        if pnr is None or pnr not in text:
            return text
        label = self.customer(pnr)
        return text.replace(pnr, label or "unknown-customer")
