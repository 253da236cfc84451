"""Provider records (role `provider`): executions, pauses, enrolments, delegations, visits, claims.

The provider is always the API key's; a `provider` field in a body (the scenario format has one)
is accepted only when it names that same provider. `id` is the provider's own external id, unique
per provider. Times are timezone-aware (an offset is required); dates are inclusive.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

import msgspec

from schemas.common import FreeText
from schemas.registry import Cursor, CustomerRef, InsatsCode, MaskedPnr, Pnr, ProviderId, RecordId, ReportType

PauseReason = Literal["sjukhus", "korttidsboende", "kundens_begaran", "annat"]
EnrolmentArea = Literal["hemsjukvard", "hemrehab"]
StaffCategory = Literal[
    "vardbitrade", "underskoterska", "sjukskoterska", "distriktsskoterska", "fysioterapeut", "arbetsterapeut"
]
Method = Literal["tag", "manual"]
VisitStatus = Literal["performed", "declined", "cancelled"]
SipRole = Literal["kallat", "lett", "deltagit"]
ClaimStatus = Literal["active", "withdrawn"]
AwareDatetime = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="RFC 3339 with an offset", examples=["2024-03-01T07:30:00+01:00"]),
]
OwnProvider = Annotated[
    ProviderId | None, msgspec.Meta(description="optional; if given, it must be the API key's provider")
]
Customer = Annotated[
    MaskedPnr | None,
    msgspec.Meta(description="null where the caller may not see the number (protected identity)"),
]
KnownRef = Annotated[
    CustomerRef | None, msgspec.Meta(description="null while the registry does not know the customer")
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    # Provider records lie in 2000..2099 (domain.md 6; a `to` of 9999-12-31 means open-ended).
    days: ClassVar[tuple[date, date]] = (date(2000, 1, 1), date(2099, 12, 31))


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class RecordEnd(_In, kw_only=True):
    """Ends (or, with null, reopens) a record: its inclusive last day."""

    to: date | None


# Executions, pauses, enrolments, delegations ----------------------------------------------------


class ExecutionIn(_In, kw_only=True):
    id: RecordId
    decision: RecordId
    from_: date = msgspec.field(name="from")
    to: date | None = None
    provider: OwnProvider = None


class Execution(_Out, kw_only=True):
    id: str
    provider: str
    decision: str
    from_: date = msgspec.field(name="from")
    to: date | None


class PauseIn(_In, kw_only=True):
    id: RecordId
    customer: Pnr
    reason: PauseReason
    from_: date = msgspec.field(name="from")
    to: date | None = None  # an ongoing hospital stay has none
    provider: OwnProvider = None


class Pause(_Out, kw_only=True):
    id: str
    provider: str
    customer: Customer
    customer_ref: KnownRef
    reason: PauseReason
    from_: date = msgspec.field(name="from")
    to: date | None


class EnrolmentIn(_In, kw_only=True):
    id: RecordId
    customer: Pnr
    area: EnrolmentArea
    from_: date = msgspec.field(name="from")
    to: date | None = None
    remiss: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    provider: OwnProvider = None


class Enrolment(_Out, kw_only=True):
    id: str
    provider: str
    customer: Customer
    customer_ref: KnownRef
    area: EnrolmentArea
    from_: date = msgspec.field(name="from")
    to: date | None
    remiss: str | None


class DelegationIn(_In, kw_only=True):
    id: RecordId
    customer: Pnr
    code: InsatsCode
    from_: date = msgspec.field(name="from")
    to: date | None = None
    provider: OwnProvider = None


class Delegation(_Out, kw_only=True):
    id: str
    provider: str
    customer: Customer
    customer_ref: KnownRef
    code: str
    from_: date = msgspec.field(name="from")
    to: date | None


class ExecutionPage(_Out, kw_only=True):
    items: list[Execution]
    next_after: Cursor


class PausePage(_Out, kw_only=True):
    items: list[Pause]
    next_after: Cursor


class EnrolmentPage(_Out, kw_only=True):
    items: list[Enrolment]
    next_after: Cursor


class DelegationPage(_Out, kw_only=True):
    items: list[Delegation]
    next_after: Cursor


# Visits -----------------------------------------------------------------------------------------


class VisitIn(_In, kw_only=True):
    """One time registration. A visit with both SoL and delegated HSL tasks is two registrations."""

    id: RecordId
    customer: Pnr
    staff: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="pseudonymous staff id")]
    staff_category: StaffCategory
    report_type: ReportType
    start: AwareDatetime
    end: AwareDatetime
    codes: Annotated[list[InsatsCode], msgspec.Meta(min_length=1, max_length=50)]
    method: Method
    status: VisitStatus
    provider: OwnProvider = None


class VisitCorrection(_In, kw_only=True):
    """The visit's new content, as in a batch (its `id` must be the one in the path), and why."""

    visit: VisitIn
    reason: FreeText | None = None


class RecordBatchResult(_Out, kw_only=True):
    """`inserted`: new records stored; `unchanged`: records already stored with the same content."""

    inserted: int
    unchanged: int


class VisitBatchResult(_Out, kw_only=True):
    """`inserted`: new visits stored; `unchanged`: visits already stored with the same content."""

    inserted: int
    unchanged: int


class Visit(_Out, kw_only=True):
    id: str
    provider: str
    customer: Customer
    customer_ref: KnownRef
    staff: str
    staff_category: StaffCategory
    report_type: ReportType
    start: datetime
    end: datetime
    codes: list[str]
    method: Method
    status: VisitStatus
    version: int
    received_at: datetime


class VisitVersion(_Out, kw_only=True):
    """A replaced version: its content as it was stored, and who replaced it when."""

    version: int
    content: dict[str, object]
    replaced_at: datetime
    replaced_by: str


class VisitDetail(_Out, kw_only=True):
    visit: Visit
    history: list[VisitVersion]


class VisitPage(_Out, kw_only=True):
    items: list[Visit]
    next_after: Cursor


# Claims: a tagged union on `type` ---------------------------------------------------------------


class _ClaimIn(_In, tag_field="type", kw_only=True):
    id: RecordId
    date: date
    provider: OwnProvider = None


class SipClaim(_ClaimIn, tag="sip", kw_only=True):
    """Samordnad individuell plan: the provider's part in it."""

    customer: Pnr
    role: SipRole


class LakemedelsgenomgangClaim(_ClaimIn, tag="lakemedelsgenomgang", kw_only=True):
    customer: Pnr


class TeamkonferensClaim(_ClaimIn, tag="teamkonferens", kw_only=True):
    """Not about one customer: `customer` is absent or null."""

    customer: None = None


class ExtraordinarInsatsClaim(_ClaimIn, tag="extraordinar_insats", kw_only=True):
    customer: Pnr
    requested_amount: Annotated[
        str, msgspec.Meta(description="SEK as a decimal string, at most two decimals", examples=["2500.00"])
    ]
    motivation: FreeText


ClaimIn = SipClaim | LakemedelsgenomgangClaim | TeamkonferensClaim | ExtraordinarInsatsClaim


class Claim(_Out, kw_only=True):
    id: str
    provider: str
    type: Literal["sip", "lakemedelsgenomgang", "teamkonferens", "extraordinar_insats"]
    date: date
    customer: Customer
    customer_ref: KnownRef
    role: SipRole | None
    requested_amount: Decimal | None
    motivation: str | None
    status: ClaimStatus
    received_at: datetime


class ClaimPage(_Out, kw_only=True):
    items: list[Claim]
    next_after: Cursor
