"""The tariff model: one TOML file per version, decoded into frozen Structs and checked.

The engine implements each basis once; a tariff combines components of those bases with their
rates and limits (domain spec section 5). Money is written as strings in the files and decoded
to Decimal; a float anywhere in a file is refused, so no amount ever passes through one.
"""

import hashlib
import tomllib
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from service.domain.money import InvalidMoney, parse_money

Zone = Literal["tatort", "landsbygd", "skargard"]
Area = Literal["hemtjanst", "hemsjukvard", "hemrehab", "ovrigt"]
Basis = Literal[
    "granted_time", "granted_time_markup", "performed_time", "visit_count", "enrolled_month", "claim"
]
Category = Literal["service", "omsorg"]
ReportType = Literal["bistand", "hsl_delegated", "larm", "hsl", "rehab"]
StaffCategory = Literal[
    "vardbitrade", "underskoterska", "sjukskoterska", "distriktsskoterska", "fysioterapeut", "arbetsterapeut"
]
EnrolmentArea = Literal["hemsjukvard", "hemrehab"]
Unit = Literal["hour", "month", "visit", "occasion"]
ClaimType = Literal["sip", "lakemedelsgenomgang", "teamkonferens", "extraordinar_insats"]

APPROVED = "approved"  # price of a claim whose amount an invoice_admin sets on approval

TariffId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)]
ComponentId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Codes = Annotated[frozenset[Text], msgspec.Meta(min_length=1)]
StaffCategories = Annotated[frozenset[StaffCategory], msgspec.Meta(min_length=1)]

# Which optional component fields each basis requires and which it allows besides them.
BASIS_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "granted_time": (frozenset({"category", "rate"}), frozenset({"minimum_share"})),
    "granted_time_markup": (frozenset({"category", "delegation_codes", "rate"}), frozenset()),
    "performed_time": (
        frozenset({"report_type", "rate"}),
        frozenset({"exclude_codes", "requires_enrolment", "cap", "category", "cap_to_granted"}),
    ),
    "visit_count": (frozenset({"report_type", "rate"}), frozenset({"exclude_codes", "requires_enrolment"})),
    "enrolled_month": (frozenset({"enrolment", "rate", "proration"}), frozenset({"requires_remiss"})),
    "claim": (frozenset({"claim_type", "price"}), frozenset({"requires_enrolment", "limit", "amount_cap"})),
}
# The quantity each basis measures fixes its unit; a rate in another unit would be misapplied.
BASIS_UNIT: dict[str, str] = {
    "granted_time": "hour",
    "granted_time_markup": "hour",
    "performed_time": "hour",
    "visit_count": "visit",
    "enrolled_month": "month",
    "claim": "occasion",
}

T = TypeVar("T")


class TariffError(ValueError):
    """A tariff (or other shipped data) file that cannot be used; `path` names the bad field."""

    def __init__(self, path: str, message: str, source: str = "<tariff>") -> None:
        self.path = path
        self.message = message
        self.source = source
        super().__init__(f"{source}: {path}: {message}" if path else f"{source}: {message}")


# omit_defaults: an absent optional field and one written with its default encode (and hash) alike.
# kw_only is not inherited, so each model repeats it.
class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Header(_Model, kw_only=True):
    """The file's [tariff] table."""

    id: TariffId
    title: Text
    valid_from: date
    valid_to: date | None = None  # inclusive; None is open-ended
    currency: Literal["SEK"]
    timezone: Literal["Europe/Stockholm"]
    rounding: Literal["half_up_per_line"]
    illustrative_rates: bool = False
    # A simulation is never in force: it prices only what-if runs and comparisons, may overlap any
    # version and needs no activation (followup.md 3).
    simulation: bool = False


class Staff(_Model, kw_only=True):
    """Staff categories allowed to register each report type (check STAFF_CATEGORY)."""

    bistand: StaffCategories
    hsl_delegated: StaffCategories
    larm: StaffCategories
    hsl: StaffCategories
    rehab: StaffCategories


class Rate(_Model, kw_only=True):
    """Price per unit in each zone, in SEK."""

    tatort: Decimal
    landsbygd: Decimal
    skargard: Decimal

    def for_zone(self, zone: Zone) -> Decimal:
        return getattr(self, zone)


class Cap(_Model, kw_only=True):
    """Paid quantity at most `share` of the provider's performed minutes of `report_type`."""

    of: Literal["performed_minutes"]
    report_type: ReportType
    share: Decimal
    per: Literal["provider_period"]


class Limit(_Model, kw_only=True):
    """At most `count` payable claims per customer-provider-date, customer-year or provider-month."""

    count: Annotated[int, msgspec.Meta(ge=1)]
    per: Literal["customer_provider_date", "customer_calendar_year", "provider_period"]


class AmountCap(_Model, kw_only=True):
    """At most `amount` SEK per provider-month; over it a reduction line is made."""

    amount: Decimal
    per: Literal["provider_period"]


class Component(_Model, kw_only=True):
    """One paid component; which optional fields apply depends on `basis` (BASIS_FIELDS)."""

    id: ComponentId
    account: Text
    title: Text
    area: Area
    basis: Basis
    unit: Unit
    category: Category | None = None
    delegation_codes: Codes | None = None
    report_type: ReportType | None = None
    exclude_codes: Codes | None = None
    requires_enrolment: EnrolmentArea | None = None
    enrolment: EnrolmentArea | None = None
    requires_remiss: bool = False
    proration: Literal["daily"] | None = None
    rate: Rate | None = None
    # A money string or "approved" (msgspec cannot decode a union of Decimal and a string literal).
    price: str | None = None
    claim_type: ClaimType | None = None
    cap: Cap | None = None
    limit: Limit | None = None
    amount_cap: AmountCap | None = None
    # granted_time: a provider-customer-month performing less than this share of its granted minutes
    # is paid that share of the component (followup.md 3, BELOW_MINIMUM_SHARE).
    minimum_share: Decimal | None = None
    # performed_time over bistand visits of `category`: paid minutes at most the customer-month's
    # granted minutes of that category (followup.md 3).
    cap_to_granted: bool = False

    @property
    def fixed_price(self) -> Decimal | None:
        """The claim price in SEK; None when the approved amount is paid (or for non-claims)."""
        return None if self.price in (None, APPROVED) else parse_money(self.price)


class Tariff(_Model, kw_only=True):
    """A whole tariff file: header, staff rules and components, in file order."""

    header: Header = msgspec.field(name="tariff")
    staff: Staff
    components: tuple[Component, ...] = msgspec.field(name="component")

    @property
    def id(self) -> str:
        return self.header.id

    @property
    def valid_from(self) -> date:
        return self.header.valid_from

    @property
    def valid_to(self) -> date | None:
        return self.header.valid_to

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def component(self, component_id: str) -> Component:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(f"tariff {self.id} has no component {component_id!r}")

    def claim_component(self, claim_type: str) -> Component | None:
        """The component paying claims of this type; None means NOT_IN_TARIFF."""
        return next((c for c in self.components if c.claim_type == claim_type), None)

    def allowed_staff(self, report_type: ReportType) -> frozenset[str]:
        return getattr(self.staff, report_type)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the model: layout, comments, key and component order,
        defaults written out and trailing zeros ("427.0" vs "427.00") do not change it."""
        document = msgspec.to_builtins(self, builtin_types=(Decimal,), order="sorted")
        document["component"] = sorted(document["component"], key=lambda component: component["id"])
        canonical = msgspec.json.encode(_canonical_decimals(document), order="sorted")
        return hashlib.sha256(canonical).hexdigest()


def _canonical_decimals(node: Any) -> Any:
    if isinstance(node, Decimal):
        return format(node.normalize(), "f")
    if isinstance(node, dict):
        return {key: _canonical_decimals(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_canonical_decimals(value) for value in node]
    return node


def decode_toml(data: bytes, model: type[T], *, source: str, error: type[TariffError] = TariffError) -> T:
    """Decode a TOML data file into `model`, turning every failure into `error` with a field path."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise error("", "file is not UTF-8", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise error("", f"invalid TOML: {exc}", source) from None
    except RecursionError:
        raise error("", "invalid TOML: nested too deeply", source) from None
    _refuse_floats(raw, "", source, error)
    try:
        return msgspec.convert(raw, model, builtin_types=(date,), str_keys=True)
    except msgspec.ValidationError as exc:
        path, message = _split_validation_error(str(exc))
        raise error(path, message, source) from None


def _refuse_floats(node: Any, path: str, source: str, error: type[TariffError]) -> None:
    if isinstance(node, float):
        raise error(
            path, 'a float is not allowed; write amounts and shares as strings such as "427.00"', source
        )
    if isinstance(node, dict):
        for key, value in node.items():
            _refuse_floats(value, f"{path}.{key}" if path else key, source, error)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _refuse_floats(value, f"{path}[{index}]", source, error)


def _split_validation_error(text: str) -> tuple[str, str]:
    """Turn msgspec's "message - at `$.component[3].rate`" into ("component[3].rate", message),
    appending the field name for unknown and missing fields so the path names the bad field."""
    message, _, located = text.partition(" - at `$")
    path = located.rstrip("`").lstrip(".")
    for marker in ("unknown field `", "missing required field `"):
        if marker in message:
            field = message.split(marker, 1)[1].split("`", 1)[0]
            path = f"{path}.{field}" if path else field
    return path, message


def load_tariff(data: bytes, source: str = "<tariff>") -> Tariff:
    """Decode and check a tariff file; raises TariffError naming the bad field's path."""
    tariff = decode_toml(data, Tariff, source=source)
    header = tariff.header
    if header.valid_to is not None and header.valid_to < header.valid_from:
        raise TariffError("tariff.valid_to", "valid_to is before valid_from", source)
    seen_ids: dict[str, int] = {}
    seen_claims: dict[str, int] = {}
    for index, component in enumerate(tariff.components):
        path = f"component[{index}]"
        if component.id in seen_ids:
            raise TariffError(
                f"{path}.id",
                f"duplicate component id {component.id!r} (also component[{seen_ids[component.id]}])",
                source,
            )
        seen_ids[component.id] = index
        if component.claim_type is not None:
            if component.claim_type in seen_claims:
                other = seen_claims[component.claim_type]
                raise TariffError(
                    f"{path}.claim_type",
                    f"claim type {component.claim_type!r} is already paid by component[{other}]",
                    source,
                )
            seen_claims[component.claim_type] = index
        _check_component(component, path, source)
    return tariff


def _check_component(component: Component, path: str, source: str) -> None:
    required, allowed = BASIS_FIELDS[component.basis]
    for field in msgspec.structs.fields(Component):
        if field.default is msgspec.NODEFAULT:
            continue  # common to every basis, msgspec already required it
        present = getattr(component, field.name) != field.default
        if field.name in required and not present:
            raise TariffError(f"{path}.{field.name}", f"basis {component.basis} needs {field.name}", source)
        if present and field.name not in required | allowed:
            raise TariffError(
                f"{path}.{field.name}", f"{field.name} does not apply to basis {component.basis}", source
            )
    if component.unit != BASIS_UNIT[component.basis]:
        raise TariffError(
            f"{path}.unit",
            f"basis {component.basis} is paid per {BASIS_UNIT[component.basis]}, not per {component.unit}",
            source,
        )
    if component.rate is not None:
        for zone in ("tatort", "landsbygd", "skargard"):
            _check_amount(getattr(component.rate, zone), f"{path}.rate.{zone}", source)
    if component.price is not None:
        _check_price(component.claim_type, component.price, f"{path}.price", source)
    if component.amount_cap is not None:
        _check_amount(component.amount_cap.amount, f"{path}.amount_cap.amount", source)
    if component.cap is not None:
        _check_share(component.cap.share, f"{path}.cap.share", source)
    if component.minimum_share is not None:
        _check_share(component.minimum_share, f"{path}.minimum_share", source)
    if (
        component.basis == "performed_time"
        and component.category is not None
        and component.report_type != "bistand"
    ):
        raise TariffError(
            f"{path}.category", "a category applies to performed time of bistand visits only", source
        )
    if component.cap_to_granted and component.category is None:
        raise TariffError(
            f"{path}.cap_to_granted", "cap_to_granted needs the category whose granted time caps it", source
        )


def _check_share(share: Decimal, path: str, source: str) -> None:
    if not (share.is_finite() and 0 < share <= 1):
        raise TariffError(path, "share must be more than 0 and at most 1", source)


def _check_price(claim_type: str | None, price: str, path: str, source: str) -> None:
    # An extraordinary insats is paid what the invoice_admin approves; every other claim has a price.
    if claim_type == "extraordinar_insats" and price != APPROVED:
        raise TariffError(
            path, f'extraordinar_insats is paid the approved amount: price must be "{APPROVED}"', source
        )
    if claim_type != "extraordinar_insats" and price == APPROVED:
        raise TariffError(path, f'price "{APPROVED}" is only for extraordinar_insats', source)
    if price != APPROVED:
        try:
            parse_money(price)
        except InvalidMoney as exc:
            raise TariffError(path, str(exc), source) from None


def _check_amount(value: Decimal, path: str, source: str) -> None:
    if not value.is_finite():
        raise TariffError(path, "amount must be a finite number", source)
    if value.is_signed():
        raise TariffError(path, "amount must not be negative", source)
    if value.as_tuple().exponent < -2:
        raise TariffError(path, "amount has more than two decimals", source)
