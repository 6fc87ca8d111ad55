"""The one way the rest of the portal reads (and admins change) the program's terms."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email
from flask import current_app, g
from sqlalchemy import select

from cloudcodes.audit.services import record
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.program.models import ProgramSettings, VolumeDiscountTier
from cloudcodes.program.terms import DEFAULT_TERMS, ProgramTerms, VolumeTier, format_percent
from cloudcodes.services import ServiceError, transactional

SETTINGS_ID = 1


class SettingsError(ServiceError):
    """A setting that cannot be saved; ``field`` names it."""


_VERSIONS = select(ProgramSettings.terms_version, ProgramSettings.faq_version).where(ProgramSettings.id == SETTINGS_ID)
_CACHE_KEY = "cloudcodes.program_terms"  # in app.extensions: (terms_version, ProgramTerms), per process


class ContentVersions(NamedTuple):
    """Where the rarely-changing content stands: each process keeps what it read until one moves."""

    terms: str
    faq: str


def content_versions() -> ContentVersions | None:
    """The versions of the terms and of the FAQ, read once a request in one small statement; None
    while the program has no settings row (a database migrated but never seeded)."""
    if "content_versions" not in g:
        row = db.session.execute(_VERSIONS).first()
        g.content_versions = ContentVersions(*row) if row is not None else None
    return g.content_versions


def program_terms() -> ProgramTerms:
    """The terms in force now, fixed for the request or command that first asks.

    Each process keeps the terms it read with their ``terms_version``; a request costs one small
    statement that reads the version, and the terms are read again only when another process (or
    this one) changed them.
    """
    if "program_terms" in g:
        return g.program_terms
    versions = content_versions()
    if versions is None:
        # A database migrated but never seeded still has the published program.
        terms = DEFAULT_TERMS
    else:
        kept = current_app.extensions.get(_CACHE_KEY)
        if kept is not None and kept[0] == versions.terms:
            terms = kept[1]
        else:
            terms = _load_terms()
            current_app.extensions[_CACHE_KEY] = (versions.terms, terms)
    g.program_terms = terms
    return terms


def _load_terms() -> ProgramTerms:
    row = db.session.get(ProgramSettings, SETTINGS_ID)
    if row is None:
        return DEFAULT_TERMS
    tiers = db.session.scalars(select(VolumeDiscountTier).order_by(VolumeDiscountTier.min_seats)).all()
    return ProgramTerms(
        reseller_margin_pct=row.reseller_margin_pct,
        premier_margin_pct=row.premier_margin_pct,
        premier_revenue_commitment=row.premier_revenue_commitment,
        premier_trained_sales_staff=row.premier_trained_sales_staff,
        registration_lifetime_days=row.registration_lifetime_days,
        commission_hold_days=row.commission_hold_days,
        reseller_registration_cap=row.reseller_registration_cap,
        premier_registration_cap=row.premier_registration_cap,
        claim_decision_working_days=row.claim_decision_working_days,
        currency=row.currency,
        contact_email=row.contact_email,
        volume_tiers=tuple(VolumeTier(t.min_seats, t.extra_points) for t in tiers),
    )


def _validate(terms: ProgramTerms) -> None:
    for name in ("reseller_margin_pct", "premier_margin_pct"):
        value = getattr(terms, name)
        if not value.is_finite() or not Decimal(0) <= value <= Decimal(100) or value != value.quantize(Decimal("0.01")):
            raise SettingsError("A margin is a percentage between 0 and 100, with at most two decimals.", name)
    if terms.premier_margin_pct < terms.reseller_margin_pct:
        raise SettingsError("The Premier margin cannot be lower than the Reseller margin.", "premier_margin_pct")
    if terms.premier_revenue_commitment.minor < 0:
        raise SettingsError("The revenue commitment cannot be negative.", "premier_revenue_commitment")
    if terms.premier_revenue_commitment.currency != terms.currency:
        raise SettingsError("The commitment must be in the program's currency.", "premier_revenue_commitment")
    if terms.premier_trained_sales_staff < 0:
        raise SettingsError("The number of trained sales staff cannot be negative.", "premier_trained_sales_staff")
    if terms.registration_lifetime_days < 1:
        raise SettingsError("A registration lasts at least one day.", "registration_lifetime_days")
    if terms.commission_hold_days < 0:
        raise SettingsError("The hold cannot be negative.", "commission_hold_days")
    for name in ("reseller_registration_cap", "premier_registration_cap"):
        if getattr(terms, name) < 1:
            raise SettingsError("A partner may hold at least one active registration.", name)
    if terms.premier_registration_cap < terms.reseller_registration_cap:
        raise SettingsError(
            "Premier partners may not hold fewer registrations than Resellers.", "premier_registration_cap"
        )
    if terms.claim_decision_working_days < 1:
        raise SettingsError(
            "A manager needs at least one working day to decide a claim.", "claim_decision_working_days"
        )
    seats = [tier.min_seats for tier in terms.volume_tiers]
    if len(seats) != len(set(seats)) or any(s < 1 for s in seats):
        raise SettingsError("Each volume tier needs its own seat count of at least 1.", "volume_tiers")
    points = [tier.extra_points for tier in terms.volume_tiers]
    if any(not p.is_finite() or p < 0 for p in points):
        raise SettingsError("Extra margin points are zero or more.", "volume_tiers")
    if terms.premier_margin_pct + max(points, default=Decimal(0)) > 100:
        # A commission can never be more than the purchase itself.
        raise SettingsError("The Premier margin plus the largest volume points cannot pass 100 %.", "volume_tiers")
    try:
        validate_email(terms.contact_email, check_deliverability=False)
    except EmailNotValidError:
        raise SettingsError("Enter a valid contact e-mail address.", "contact_email") from None


def describe(name: str, value: Any) -> Any:
    """A setting's value as the audit log keeps it (JSON, no Decimal)."""
    if isinstance(value, Decimal):
        return format_percent(value)
    if isinstance(value, Money):
        return f"{value.to_decimal()} {value.currency}"
    if name == "volume_tiers":
        return [{"min_seats": tier.min_seats, "extra_points": format_percent(tier.extra_points)} for tier in value]
    return value


def snapshot(terms: ProgramTerms) -> dict[str, Any]:
    return {name: describe(name, getattr(terms, name)) for name in ProgramTerms.__dataclass_fields__}


@transactional
def update_program_terms(*, by: Any = None, **changes: Any) -> ProgramTerms:
    """Save new terms; they apply from now on and never touch commissions already fixed.

    The change is audited (each setting before and after) in the same transaction.
    """
    current = program_terms()
    if "premier_revenue_commitment" in changes and not isinstance(changes["premier_revenue_commitment"], Money):
        currency = changes.get("currency", current.currency)
        changes["premier_revenue_commitment"] = Money.parse(changes["premier_revenue_commitment"], currency)
    for name in ("reseller_margin_pct", "premier_margin_pct"):
        if name in changes:
            changes[name] = Decimal(str(changes[name]))
    new_terms = dataclasses.replace(current, **changes)
    _validate(new_terms)

    row = db.session.get(ProgramSettings, SETTINGS_ID)
    created = row is None
    if row is None:
        row = ProgramSettings(id=SETTINGS_ID)
        db.session.add(row)
    for column in (f.name for f in dataclasses.fields(ProgramTerms) if f.name != "volume_tiers"):
        setattr(row, column, getattr(new_terms, column))
    row.terms_version = uuid.uuid4().hex
    if created or "volume_tiers" in changes:
        db.session.execute(VolumeDiscountTier.__table__.delete())
        db.session.add_all(
            VolumeDiscountTier(min_seats=t.min_seats, extra_points=t.extra_points) for t in new_terms.volume_tiers
        )
    before = snapshot(current)
    record(
        "program.settings_changed",
        actor=by,
        target=row,
        details={name: {"before": before[name], "after": describe(name, value)} for name, value in changes.items()},
    )
    g.pop("program_terms", None)
    g.pop("content_versions", None)
    return new_terms
