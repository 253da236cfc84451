"""Discrepancies (domain.md section 6): codes, kinds (severities), stable keys, status and what
explains them.

The checks themselves live where their data is: visit checks as SQL predicates
(sql/reconcile/visits.sql), the others in the pricing of their basis (service/reconcile/bases/).
Every finding is made here, so a code's kind and key have one place.

A finding is explained by its code and parameters, never by a text: one `Part` (the figures of one
sentence) per time the run found it, and the same from the provider's own view, which never names
another provider. The sentences are the message catalogue's, in the reader's language
(service/web/explain.py). Parameters are JSON values named by what they hold: `*minutes` exact
minutes and `*percent` exact per cent as decimal strings, `*amount` kronor as decimal strings,
`day` an ISO date, `days` inclusive ISO date ranges, `month`/`period` YYYY-MM, `start`/`end` ISO
instants, lists of record ids, and codes and ids as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from service.domain.lines import show

Severity = Literal["blocking", "hard", "info"]  # a discrepancy's `kind` (docs/glossary.md)
Status = Literal["open", "approved", "rejected"]
Part = dict[str, Any]  # the parameters of one sentence explaining a finding

SEVERITIES: dict[str, Severity] = {
    "UNKNOWN_CUSTOMER": "hard",
    "NOT_CHOSEN_PROVIDER": "blocking",  # hard on an enrolment (severity_of)
    "NO_ENROLMENT": "blocking",
    "NO_REMISS": "blocking",
    "DURING_PAUSE": "blocking",  # info on a bistand visit (severity_of)
    "STAFF_CATEGORY": "blocking",
    "OVERLAP": "blocking",
    "DUPLICATE": "hard",
    "MANUAL_REGISTRATION": "blocking",
    "LONG_VISIT": "blocking",
    "GRANTED_WITHOUT_VISITS": "blocking",
    "LMG_ALREADY_PAID": "hard",
    "TEAM_COUNT_CAP": "hard",
    "SIP_DUPLICATE": "hard",
    "TEAM_AMOUNT_CAP": "info",
    "DELEGATED_CAP": "info",
    "EXTRAORDINARY": "blocking",
    "LOW_PERFORMED_SHARE": "info",
    "BELOW_MINIMUM_SHARE": "info",
    "DECLINED_VISITS": "info",
    "NOT_IN_TARIFF": "hard",
    "LATE_DATA": "info",
}
CODES = tuple(SEVERITIES)

# A claim limit's code is named by what it counts within (the tariff's `limit.per`).
LIMIT_CODES = {
    "customer_provider_date": "SIP_DUPLICATE",
    "customer_calendar_year": "LMG_ALREADY_PAID",
    "provider_period": "TEAM_COUNT_CAP",
}
# Reductions: a share cap on performed time and an amount cap on claims.
SHARE_CAP_CODE = "DELEGATED_CAP"
AMOUNT_CAP_CODE = "TEAM_AMOUNT_CAP"

# LONG_VISIT: a visit longer than this; reaches the check in sql/reconcile/visits.sql as a parameter.
LONG_VISIT_SECONDS = 8 * 3600
# KSON's target for the share of granted time performed (LOW_PERFORMED_SHARE).
PERFORMED_SHARE_TARGET = Fraction(85, 100)


def performed_share(performed: Fraction, granted: Fraction) -> Part:
    """The parameters of a share of granted time performed (LOW_PERFORMED_SHARE, BELOW_MINIMUM_SHARE)."""
    return {
        "performed_minutes": show(performed),
        "granted_minutes": show(granted),
        "percent": show(100 * performed / granted),
    }


def severity_of(code: str, *, report_type: str | None = None, on_enrolment: bool = False) -> Severity:
    if code == "DURING_PAUSE" and report_type == "bistand":
        return "info"  # bistand during a pause is paid and shown (granted time stops anyway)
    if code == "NOT_CHOSEN_PROVIDER" and on_enrolment:
        return "hard"
    return SEVERITIES[code]


def record_key(code: str, provider: str, record_id: str) -> str:
    return f"{code}:{provider}:{record_id}"


def customer_month_key(code: str, provider: str, pnr: str, period: str) -> str:
    return f"{code}:{provider}:{pnr}:{period}"


def provider_month_key(code: str, provider: str, period: str) -> str:
    return f"{code}:{provider}:{period}"


@dataclass(frozen=True)
class Ruling:
    """The latest ruling on a key (approve or reject; the API's "decision"): in force only for the
    version of the record it was made on."""

    seq: int
    key: str
    decision: Literal["approve", "reject"]
    amount: Decimal | None  # the approved amount of an EXTRAORDINARY
    version: str


def status(kind: str, ruling: Ruling | None, version: str) -> Status:
    """A discrepancy's effective status, its one definition (the engine applies it to what a run
    finds, the store to what a run found): hard and info discrepancies are always open; a blocking
    one is decided by the latest ruling when that was made on this version of its record (a
    correction reopens it)."""
    if kind != "blocking" or ruling is None or ruling.version != version:
        return "open"
    return "approved" if ruling.decision == "approve" else "rejected"


@dataclass
class Finding:
    key: str
    code: str
    kind: Severity
    provider: str
    record: str  # "provider:record-id", "provider:pnr:YYYY-MM" or "provider:YYYY-MM"
    pnr: str | None
    day: str  # the record's date, or the month
    version: str
    parts: list[Part]  # one per time the run found it
    provider_parts: list[Part]  # the same from the provider's own view: never names another provider
    status: Status = "open"
    decision_seq: int | None = None

    def apply(self, ruling: Ruling | None) -> Finding:
        """The finding with the ruling in force on its key applied."""
        self.status = status(self.kind, ruling, self.version)
        self.decision_seq = ruling.seq if ruling is not None and self.status != "open" else None
        return self

    @property
    def lets_through(self) -> bool:
        """Whether the record may be paid as far as this finding goes."""
        return self.kind == "info" or self.status == "approved"


def on_record(
    code: str,
    provider: str,
    record_id: str,
    *,
    pnr: str | None,
    day: str,
    version: str,
    part: Part,
    provider_part: Part | None = None,
    kind: Severity | None = None,
) -> Finding:
    return Finding(
        key=record_key(code, provider, record_id),
        code=code,
        kind=kind or SEVERITIES[code],
        provider=provider,
        record=f"{provider}:{record_id}",
        pnr=pnr,
        day=day,
        version=version,
        parts=[part],
        provider_parts=[part if provider_part is None else provider_part],
    )


def on_customer_month(
    code: str, provider: str, pnr: str, period: str, *, version: str, part: Part
) -> Finding:
    return Finding(
        key=customer_month_key(code, provider, pnr, period),
        code=code,
        kind=SEVERITIES[code],
        provider=provider,
        record=f"{provider}:{pnr}:{period}",
        pnr=pnr,
        day=period,
        version=version,
        parts=[part],
        provider_parts=[part],
    )


def on_provider_month(code: str, provider: str, period: str, *, version: str, part: Part) -> Finding:
    return Finding(
        key=provider_month_key(code, provider, period),
        code=code,
        kind=SEVERITIES[code],
        provider=provider,
        record=f"{provider}:{period}",
        pnr=None,
        day=period,
        version=version,
        parts=[part],
        provider_parts=[part],
    )
