"""Registering customer domains and issuing referral codes; checking a code for a purchase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Date, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only

from cloudcodes import clock, formatting
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner, PartnerMembership
from cloudcodes.partners.services import level_on_column, level_record_on
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import Level
from cloudcodes.referrals.codes import CodeError, generate_code, parse_code
from cloudcodes.referrals.deal_rules import (
    RENEWAL_WINDOW_DAYS,
    is_self_referral,
    looks_like_email,
    may_renew,
    renewable_from,
)
from cloudcodes.referrals.dns import DnsEvidence
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.referrals.models import DomainRegistration, ReferralCode, RegistrationStatus
from cloudcodes.referrals.proof import read_evidence, store_evidence
from cloudcodes.services import ServiceError, transactional

CODE_ATTEMPTS = 5  # a collision in 32**11 codes is astronomically rare; retry a few times all the same
TAKEN = (
    "This domain is already registered by another partner. If the customer wants to work with you, "
    "file a claim with your evidence: the other partner's channel sales manager decides."
)


class ReferralError(ServiceError):
    pass


class DomainTaken(ReferralError):
    status = 409


def lifetime() -> timedelta:
    return timedelta(days=program_terms().registration_lifetime_days)


def is_live(registration: DomainRegistration, at: datetime | None = None) -> bool:
    return registration.is_live(at)


def _require_active_partner(partner: Partner) -> None:
    if not partner.is_active:
        raise ReferralError("Your partner account is suspended, so it cannot do this now. Ask your channel manager.")


def _normalised(raw_domain: str) -> str:
    if looks_like_email(raw_domain):
        host = raw_domain.strip().rpartition("@")[2] or "acme.com"
        raise ReferralError(
            f"That is an e-mail address. Type the customer's domain only: for {raw_domain.strip()[:80]}, "
            f"type {host[:80]}.",
            field="domain",
            code="email_address",
        )
    try:
        return normalise_domain(raw_domain)
    except DomainError as error:
        raise ReferralError(str(error), field="domain") from None


def own_domains(partner: Partner) -> set[str]:
    """The partner's own registrable domains: its web site's and its members' e-mail domains."""
    texts = [partner.website or ""]
    texts += db.session.scalars(
        select(User.email)
        .join(PartnerMembership, PartnerMembership.user_id == User.id)
        .where(PartnerMembership.partner_id == partner.id)
    ).all()
    domains = set()
    for text in texts:
        host = text.rpartition("@")[2] if "@" in text else text
        try:
            domains.add(normalise_domain(host))
        except DomainError:
            continue
    return domains


def _refuse_self_referral(partner: Partner, domain: str) -> None:
    if is_self_referral(domain, own_domains(partner)):
        raise ReferralError(
            f"{display_domain(domain)} is your own company's domain (your web site's, or the e-mail domain of "
            "someone in your team): a partner cannot refer itself. Register your customers' domains.",
            field="domain",
            code="self_referral",
        )


def active_count(partner_id: int) -> int:
    """Registrations the partner holds that count against its cap: active ones not yet converted."""
    return (
        db.session.scalar(
            select(func.count(DomainRegistration.id)).where(
                DomainRegistration.partner_id == partner_id,
                DomainRegistration.status == RegistrationStatus.ACTIVE,
                DomainRegistration.converted_at.is_(None),
                DomainRegistration.expires_at > clock.now(),
            )
        )
        or 0
    )


def registration_cap(partner: Partner) -> int:
    level = level_record_on(partner.id, clock.today())
    return program_terms().registration_cap(level.level if level else Level.RESELLER)


def _refuse_over_cap(partner: Partner) -> None:
    cap = registration_cap(partner)
    if active_count(partner.id) >= cap:
        terms = program_terms()
        raise ReferralError(
            f"You hold {formatting.plural(cap, 'active registration')}, the most your level allows "
            f"(Reseller {formatting.number(terms.reseller_registration_cap)}, Premier "
            f"{formatting.number(terms.premier_registration_cap)}). Release one you no longer pursue, "
            "or wait until one converts or ends.",
            field="domain",
            code="registration_cap",
        )


def _refuse_without_dns(domain: str) -> DnsEvidence | None:
    """The domain's DNS evidence; a domain with no DNS at all is refused. None when DNS did not answer."""
    found = read_evidence(domain)
    if found is not None and not found.resolves:
        raise ReferralError(
            f"{display_domain(domain)} has no DNS records at all: it does not exist, or is not set up yet. "
            "Check the spelling: a customer's domain that receives e-mail always has DNS records.",
            field="domain",
            code="no_dns",
        )
    return found


def active_registration(domain: str) -> DomainRegistration | None:
    return db.session.scalar(
        select(DomainRegistration).where(
            DomainRegistration.domain == domain, DomainRegistration.status == RegistrationStatus.ACTIVE
        )
    )


@transactional
def register_domain(partner: Partner, raw_domain: str, *, by: User | None, read_dns: bool = True) -> DomainRegistration:
    """Hold ``raw_domain`` for the partner, claimed on its word until proven.

    ``read_dns=False`` skips the DNS evidence (the demo data, which must load without a network);
    the job that looks for proofs reads it later.
    """
    domain = _normalised(raw_domain)
    _require_active_partner(partner)
    _refuse_self_referral(partner, domain)
    existing = active_registration(domain)
    if existing is not None and is_live(existing):
        if existing.partner_id == partner.id:
            until = (
                "it stays yours" if existing.converted_at else f"it runs until {formatting.date(existing.expires_at)}"
            )
            raise ReferralError(f"You registered {display_domain(domain)} already; {until}.", field="domain")
        raise DomainTaken(TAKEN, field="domain")
    _refuse_over_cap(partner)
    found = _refuse_without_dns(domain) if read_dns else None
    if existing is not None:
        # Past its lifetime but not yet swept by `domains expire`: end it now, so the domain is free.
        _end(existing, RegistrationStatus.EXPIRED, "Lifetime ended")
    now = clock.now()
    registration = DomainRegistration(
        partner_id=partner.id,
        domain=domain,
        registered_at=now,
        expires_at=now + lifetime(),
        registered_by_id=by and by.id,
    )
    if found is not None:
        store_evidence(registration, found)
    db.session.add(registration)
    try:
        db.session.flush()
    except IntegrityError:
        # Another partner's request won the race for the partial unique index.
        raise DomainTaken(TAKEN, field="domain") from None
    record("domain.registered", actor=by, target=registration, details={"domain": domain, "partner": partner.id})
    return registration


def _end(registration: DomainRegistration, status: RegistrationStatus, reason: str) -> None:
    registration.status = status
    registration.ended_at = clock.now()
    registration.end_reason = reason
    db.session.flush()


@transactional
def renew(registration: DomainRegistration, *, by: User | None) -> None:
    if not is_live(registration):
        raise ReferralError("This registration has ended; register the domain again instead.")
    _require_active_partner(registration.partner)
    now = clock.now()
    if registration.converted_at is None and not may_renew(registration.expires_at, now):
        raise ReferralError(
            f"A registration can be renewed in its last {RENEWAL_WINDOW_DAYS} days only: this one from "
            f"{formatting.date(renewable_from(registration.expires_at))} (it ends on "
            f"{formatting.date(registration.expires_at)}).",
            code="not_renewable_yet",
        )
    registration.expires_at = now + lifetime()
    registration.renewed_at = now
    record("domain.renewed", actor=by, target=registration, details={"domain": registration.domain})


@transactional
def release(registration: DomainRegistration, *, by: User | None, reason: str = "Released by the partner") -> None:
    if not registration.is_active:
        raise ReferralError("This registration has already ended.")
    _end(registration, RegistrationStatus.RELEASED, reason)
    record("domain.released", actor=by, target=registration, details={"domain": registration.domain, "reason": reason})


@transactional
def reassign(registration: DomainRegistration, to: Partner | None, *, reason: str, by: User) -> DomainRegistration:
    """Staff move a domain to another partner: the old claim (and its codes) ends, a new one starts."""
    if to is None:
        raise ReferralError("Choose the partner.", field="partner")
    reason = reason.strip()
    if not reason:
        raise ReferralError("Give the reason for moving the domain; it is kept in the audit log.", field="reason")
    if not registration.is_active:
        raise ReferralError("Only an active registration can be moved.")
    if to.id == registration.partner_id:
        raise ReferralError("The domain already belongs to that partner.", field="partner")
    old_partner = registration.partner_id
    _end(registration, RegistrationStatus.REASSIGNED, reason)
    now = clock.now()
    moved = DomainRegistration(
        partner_id=to.id,
        domain=registration.domain,
        registered_at=now,
        expires_at=max(registration.expires_at, now + timedelta(days=1)),
        converted_at=registration.converted_at,
        registered_by_id=by.id,
    )
    db.session.add(moved)
    db.session.flush()
    record(
        "domain.reassigned",
        actor=by,
        target=moved,
        details={"domain": registration.domain, "from_partner": old_partner, "to_partner": to.id, "reason": reason},
    )
    return moved


@transactional
def issue_code(registration: DomainRegistration, *, by: User | None) -> ReferralCode:
    if not is_live(registration):
        raise ReferralError("This registration has ended; register the domain again to make a code.")
    _require_active_partner(registration.partner)
    for _ in range(CODE_ATTEMPTS):
        code = ReferralCode(
            code=generate_code(),
            partner_id=registration.partner_id,
            registration_id=registration.id,
            created_by_id=by and by.id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(code)
        except IntegrityError:
            continue
        record("code.issued", actor=by, target=code, details={"code": code.code, "domain": registration.domain})
        return code
    raise ReferralError("Could not make a unique code just now; try again.")


@transactional
def revoke_code(code: ReferralCode, *, by: User | None) -> None:
    if code.revoked_at is not None:
        raise ReferralError("This code is already revoked.")
    code.revoked_at = clock.now()
    code.revoked_by_id = by and by.id
    record("code.revoked", actor=by, target=code, details={"code": code.code})


@dataclass(frozen=True)
class ExpiryReport:
    registrations: int
    codes: int


@transactional
def expire_registrations(as_of: datetime) -> ExpiryReport:
    """End every registration past its lifetime at ``as_of`` (converted ones stay), and count the codes ending."""
    due = and_(
        DomainRegistration.status == RegistrationStatus.ACTIVE,
        DomainRegistration.converted_at.is_(None),
        DomainRegistration.expires_at <= as_of,
    )
    codes = db.session.scalar(
        select(func.count(ReferralCode.id)).join(DomainRegistration).where(due, ReferralCode.revoked_at.is_(None))
    )
    ended = db.session.execute(
        update(DomainRegistration)
        .where(due)
        .values(status=RegistrationStatus.EXPIRED, ended_at=clock.now(), end_reason="Lifetime ended")
        .execution_options(synchronize_session=False)
    ).rowcount
    if ended:
        record("domains.expired", details={"as_of": as_of.isoformat(), "registrations": ended, "codes": codes or 0})
    return ExpiryReport(registrations=ended, codes=codes or 0)


# --- Checking a code ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    """Whether a code holds for a domain; ``reason`` says why not, ``message`` what to do."""

    ok: bool
    reason: str
    message: str
    code: str | None = None
    domain: str | None = None
    referral: ReferralCode | None = None
    partner: Partner | None = None
    level: Level | None = None


# The code, its registration, its partner and the partner's level on a day: one statement, built once
# (it costs more to build than to run), of only the columns the check and a purchase's attribution read.
_CODE_WITH_LEVEL = (
    select(ReferralCode, level_on_column(bindparam("day", type_=Date()), ReferralCode.partner_id))
    .where(ReferralCode.code == bindparam("code"))
    .options(
        load_only(ReferralCode.code, ReferralCode.partner_id, ReferralCode.registration_id, ReferralCode.revoked_at),
        joinedload(ReferralCode.registration).load_only(
            DomainRegistration.domain,
            DomainRegistration.status,
            DomainRegistration.registered_at,
            DomainRegistration.expires_at,
            DomainRegistration.converted_at,
        ),
        joinedload(ReferralCode.partner).load_only(Partner.name, Partner.status),
    )
)


def check_code(raw_code: str, raw_domain: str, at: datetime | None = None) -> CodeCheck:
    at = at or clock.now()
    try:
        domain = normalise_domain(raw_domain)
    except DomainError as error:
        return CodeCheck(False, "invalid_domain", str(error))
    try:
        code = parse_code(raw_code)
    except CodeError as error:
        return CodeCheck(False, error.reason, str(error), domain=domain)
    found = db.session.execute(_CODE_WITH_LEVEL, {"code": code, "day": at.date()}).first()
    if found is None:
        return CodeCheck(
            False, "unknown", "We do not know this code. Check it with the partner who gave it to you.", code, domain
        )
    referral, level = found
    shown = display_domain(referral.registration.domain)
    # The domain first: a code of another domain says nothing more about itself (revoked or not).
    if referral.registration.domain != domain:
        return CodeCheck(
            False,
            "domain_mismatch",
            f"This code was issued for another domain, not {display_domain(domain)}. Use the code your partner made "
            "for your own domain.",
            code,
            domain,
        )
    if referral.revoked_at is not None:
        return CodeCheck(
            False, "revoked", "This code has been withdrawn. Ask your partner for a new one.", code, domain
        )
    if not is_live(referral.registration, at):
        message = (
            f"This code for {shown} has expired. Ask your partner for a new one."
            if referral.registration.status in (RegistrationStatus.ACTIVE, RegistrationStatus.EXPIRED)
            else f"This code is no longer valid: the registration of {shown} it belonged to has ended."
        )
        return CodeCheck(False, "expired", message, code, domain)
    partner = referral.partner
    if not partner.is_active:
        return CodeCheck(
            False, "partner_suspended", "The partner of this code cannot take referrals at the moment.", code, domain
        )
    if level is None:
        return CodeCheck(
            False, "partner_suspended", "The partner of this code cannot take referrals at the moment.", code, domain
        )
    return CodeCheck(True, "ok", f"The code holds for {shown}.", code, domain, referral, partner, Level(level))


# --- Lists for the partner's pages -----------------------------------------------------------------


def registration_filter(state: str, at: datetime) -> object:
    live = and_(
        DomainRegistration.status == RegistrationStatus.ACTIVE,
        or_(DomainRegistration.converted_at.is_not(None), DomainRegistration.expires_at > at),
    )
    if state == "active":
        return live
    if state == "ended":
        return ~live
    return None
