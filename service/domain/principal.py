"""Who is calling: the identity an API key stands for (domain.md section 2)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

Role = Literal["provider", "registry", "invoice_admin", "reader", "auditor"]
ROLES: tuple[Role, ...] = ("provider", "registry", "invoice_admin", "reader", "auditor")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    role: Role | Literal["operator"]  # operator: a person at the `kundval` command line
    name: str
    key_id: UUID | None = None  # None for command-line actions
    provider_id: str | None = None  # set exactly when role == "provider"

    @classmethod
    def cli(cls, tenant_id: str, user: str) -> Principal:
        """An operator acting through the `kundval` command (audited as such)."""
        return cls(tenant_id=tenant_id, role="operator", name=f"cli:{user}")
