"""Registry requests and responses (role `registry` writes): providers, the insats catalogue,
customers with their zones and provider choices, decisions with their lines.

Field names follow the scenario format (`examples/2024-03-input.json`): `from`/`to` are inclusive
dates, `to` absent or null is open-ended. Identity numbers are checked by the service (Luhn), not
here; quantities are Decimal (written as JSON numbers or strings, returned as strings).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, UnsetType

Zone = Literal["tatort", "landsbygd", "skargard"]
Category = Literal["service", "omsorg"]
ReportType = Literal["bistand", "hsl_delegated", "larm", "hsl", "rehab"]
Per = Literal["day", "week", "month"]

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
ProviderId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["exempel-omsorg"])]
# Registry record ids (decisions, decision lines) and provider records' external ids.
RecordId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$", examples=["D1"])]
InsatsCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["morgonhjalp"])]
Pnr = Annotated[
    str,
    msgspec.Meta(
        max_length=13,
        description="personnummer or samordningsnummer, 12 digits (YYYYMMDDNNNC, a '-' before the "
        "last four allowed); Luhn-checked",
        examples=["193805149493"],
    ),
]
MaskedPnr = Annotated[
    str,
    msgspec.Meta(
        description="in lists: the masked form (19380514-****); in single views: all 12 digits",
        examples=["19380514-****"],
    ),
]
CustomerRef = Annotated[
    str, msgspec.Meta(description="the customer's opaque reference", examples=["CK3D9X2QM7A"])
]
Quantity = Annotated[Decimal, msgspec.Meta(description="a positive decimal", examples=["0.5"])]
Cursor = Annotated[
    str | None, msgspec.Meta(description="pass as `after` for the next page; null on the last page")
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    # Registry records may reach back to 1900 (domain.md 6); read by service/domain/validation.py,
    # which also refuses control characters in every string.
    days: ClassVar[tuple[date, date]] = (date(1900, 1, 1), date(2099, 12, 31))


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class ProblemDetails(_Out, kw_only=True):
    """RFC 9457 problem details; `errors` names every bad field (and row, in a batch)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


# Providers ---------------------------------------------------------------------------------------


class ProviderIn(_In, kw_only=True):
    id: ProviderId
    orgnr: Annotated[
        str, msgspec.Meta(description="organisationsnummer, Luhn-checked", examples=["5566778899"])
    ]
    name: Text


class ProviderCorrection(_In, kw_only=True):
    orgnr: str
    name: Text


class Provider(_Out, kw_only=True):
    id: str
    orgnr: str
    name: str


class ProviderPage(_Out, kw_only=True):
    items: list[Provider]
    next_after: Cursor


# The insats catalogue ----------------------------------------------------------------------------


class InsatsIn(_In, kw_only=True):
    code: InsatsCode
    title: Text
    category: Category | None = None  # exactly for report type bistand
    report_type: ReportType


class InsatsCorrection(_In, kw_only=True):
    title: Text
    category: Category | None = None
    report_type: ReportType


class Insats(_Out, kw_only=True):
    code: str
    title: str
    category: Category | None
    report_type: ReportType


class InsatsPage(_Out, kw_only=True):
    items: list[Insats]
    next_after: Cursor


# Customers, zones, choices -----------------------------------------------------------------------


class ZoneEntry(_In, kw_only=True):
    from_: date = msgspec.field(name="from")
    zone: Zone


class ChoiceIn(_In, kw_only=True):
    from_: date = msgspec.field(name="from")
    to: date | None = None
    provider: ProviderId


class ChoiceEnd(_In, kw_only=True):
    to: date | None


class Choice(_Out, kw_only=True):
    from_: date = msgspec.field(name="from")
    to: date | None
    provider: str


class CustomerIn(_In, kw_only=True):
    pnr: Pnr
    name: Text | None = None
    protected: bool = False  # skyddad identitet
    zones: Annotated[list[ZoneEntry], msgspec.Meta(min_length=1)]
    choices: list[ChoiceIn] = msgspec.field(default_factory=list)


class CustomerCorrection(_In, kw_only=True):
    """A correction of a customer's name and protected identity. A field that is left out keeps its
    stored value; the number is never corrected (it is the customer), and zones and choices have
    their own routes."""

    name: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description="replaces the stored name; null removes it; left out, the name is kept",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    protected: (
        Annotated[
            bool,
            msgspec.Meta(
                description="skyddad identitet: true protects the customer; only an explicit false lifts "
                "it (audited); left out, the stored flag is kept"
            ),
        ]
        | UnsetType
    ) = UNSET


class CustomerLookup(_In, kw_only=True):
    pnr: Pnr


class Customer(_Out, kw_only=True):
    """A single-customer view. `pnr` and `name` are null where the caller may not see them."""

    ref: CustomerRef
    pnr: str | None
    name: str | None
    protected: bool
    zones: list[ZoneEntry]
    choices: list[Choice]


class CustomerSummary(_Out, kw_only=True):
    """A customer in a list: the number masked, and no number or name for a protected identity."""

    ref: CustomerRef
    pnr: MaskedPnr | None
    name: str | None
    protected: bool


class CustomerPage(_Out, kw_only=True):
    items: list[CustomerSummary]
    next_after: Cursor


# Decisions ---------------------------------------------------------------------------------------


class DecisionLineIn(_In, kw_only=True):
    id: RecordId
    code: InsatsCode
    category: Category
    minutes: Quantity  # per occasion
    occasions: Quantity
    per: Per
    from_: date = msgspec.field(name="from")
    to: date | None = None


class DecisionLineEnd(_In, kw_only=True):
    to: date | None


class DecisionIn(_In, kw_only=True):
    id: RecordId
    customer: Pnr
    # The date the decision was made; defaults to the earliest line's `from`.
    decided: date | None = None
    lines: Annotated[list[DecisionLineIn], msgspec.Meta(min_length=1)]


class DecisionCorrection(_In, kw_only=True):
    decided: date


class DecisionLine(_Out, kw_only=True):
    id: str
    code: str
    category: Category
    minutes: Decimal
    occasions: Decimal
    per: Per
    from_: date = msgspec.field(name="from")
    to: date | None


class Decision(_Out, kw_only=True):
    id: str
    customer: MaskedPnr | None
    customer_ref: CustomerRef
    decided: date
    lines: list[DecisionLine]


class DecisionPage(_Out, kw_only=True):
    items: list[Decision]
    next_after: Cursor


# Registry import (the case system's export) ------------------------------------------------------


class CustomerRow(CustomerIn, tag_field="kind", tag="customer", kw_only=True):
    """A customer of an export: its zones and choices replace the stored ones whole. An absent
    `protected` keeps the stored flag (only an explicit false lifts it), and so does an absent
    `name` the stored name (null removes it)."""

    name: Text | UnsetType | None = UNSET  # type: ignore[assignment]
    protected: bool | None = None  # type: ignore[assignment]


class DecisionRow(DecisionIn, tag_field="kind", tag="decision", kw_only=True):
    """A decision of an export: its lines are created or corrected; stored lines it leaves out
    are left as they are (end one with an explicit `to`)."""


ImportRow = CustomerRow | DecisionRow


class ImportCounts(_Out, kw_only=True):
    created: int
    changed: int
    unchanged: int


class ImportResult(_Out, kw_only=True):
    received: int
    customers: ImportCounts
    decisions: ImportCounts
    changed_customers: list[CustomerRef]
    changed_decisions: list[str]
