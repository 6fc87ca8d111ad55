"""Proof that the customer stands behind a registration (or a claim), and the DNS evidence the portal reads.

Two proofs raise a registration from *claimed* to *verified*: the TXT record
``cloudcodes-partner=<token>`` on the domain, looked up on request and by a job every few hours,
and the customer's click on a signed, single-use link mailed to an address at the domain. A DNS
server that does not answer never verifies anything: the partner is told to try again later.

The evidence (does the domain resolve, is its mail at Google Workspace) is read at registration
and stored with the moment it was read, for the partner and the managers to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.referrals.deal_rules import DNS_RECHECK_HOURS
from cloudcodes.referrals.dns import DnsEvidence, DnsUnavailable, evidence, has_proof, resolver_from_config
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.referrals.models import DomainRegistration, RegistrationClaim, RegistrationStatus, Verification
from cloudcodes.services import ServiceError, transactional
from cloudcodes.urls import external_url

CONFIRMATION_LIFETIME = timedelta(days=7)
RESEND_AFTER = timedelta(minutes=5)
RECHECK_BATCH = 200
NOT_NOW = (
    "We could not check the domain's DNS right now: its name servers did not answer. Nothing was changed; "
    "try again in a few minutes."
)


class ProofError(ServiceError):
    """A proof that could not be checked or sent; the message says what to do."""


class DnsNotNow(ProofError):
    status = 503


class LinkInvalid(ProofError):
    status = 404


class LinkExpired(ProofError):
    status = 410


@dataclass(frozen=True)
class DnsOutcome:
    verified: bool
    message: str


def dns_resolver() -> Any:
    return resolver_from_config(current_app.config)


def read_evidence(domain: str) -> DnsEvidence | None:
    """What the domain's DNS shows now, or None when the DNS could not be asked."""
    try:
        return evidence(domain, dns_resolver())
    except DnsUnavailable:
        return None


def store_evidence(registration: DomainRegistration, found: DnsEvidence) -> None:
    registration.dns_checked_at = found.checked_at
    registration.dns_resolves = found.resolves
    registration.mx_workspace = found.google_workspace
    registration.mx_hosts = ", ".join(found.mx_hosts)[:500]


def _verify(subject: DomainRegistration | RegistrationClaim, how: Verification, by: User | None) -> None:
    subject.verified_at = clock.now()
    subject.verification = how
    action = "domain.verified" if isinstance(subject, DomainRegistration) else "claim.verified"
    record(action, actor=by, target=subject, details={"domain": subject.domain, "by": how.value})


# --- The TXT record -----------------------------------------------------------------------------


def _proof_in_dns(domain: str, token: str) -> bool:
    try:
        return has_proof(domain, token, dns_resolver())
    except DnsUnavailable:
        raise DnsNotNow(NOT_NOW, code="dns_unavailable") from None


@transactional
def check_dns_proof(subject: DomainRegistration | RegistrationClaim, *, by: User | None) -> DnsOutcome:
    """Look for the TXT record now; verify the registration (or claim) when it is there."""
    if subject.verified:
        return DnsOutcome(True, f"{subject.display} is verified already.")
    if isinstance(subject, DomainRegistration) and not subject.is_active:
        raise ProofError("This registration has ended; there is nothing to verify.")
    if _proof_in_dns(subject.domain, subject.proof_token):
        _verify(subject, Verification.DNS, by)
        return DnsOutcome(True, f"Verified: {subject.display} has the record cloudcodes-partner=… you gave.")
    return DnsOutcome(
        False,
        f"The record is not on {subject.display} yet. Once the customer's admin has added it, it can take up to a "
        "few hours to show; we also look for it every few hours.",
    )


@dataclass(frozen=True)
class RecheckReport:
    checked: int
    verified: int
    unavailable: int


@transactional
def recheck_unverified(now: datetime | None = None) -> RecheckReport:
    """The job: look again for the TXT record of active, unverified registrations not checked lately."""
    now = now or clock.now()
    due = db.session.scalars(
        select(DomainRegistration)
        .where(
            DomainRegistration.status == RegistrationStatus.ACTIVE,
            DomainRegistration.verified_at.is_(None),
            DomainRegistration.expires_at > now,
            or_(
                DomainRegistration.dns_checked_at.is_(None),
                DomainRegistration.dns_checked_at <= now - timedelta(hours=DNS_RECHECK_HOURS),
            ),
        )
        .order_by(DomainRegistration.dns_checked_at.asc().nulls_first(), DomainRegistration.id)
        .limit(RECHECK_BATCH)
    ).all()
    verified = unavailable = 0
    resolver = dns_resolver()
    for registration in due:
        try:
            found = evidence(registration.domain, resolver)
            proven = has_proof(registration.domain, registration.proof_token, resolver)
        except DnsUnavailable:
            unavailable += 1
            continue
        store_evidence(registration, found)
        if proven:
            _verify(registration, Verification.DNS, None)
            verified += 1
    return RecheckReport(checked=len(due), verified=verified, unavailable=unavailable)


# --- The customer's confirmation ----------------------------------------------------------------

_SALT = "registration-confirmation"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _address_at(domain: str, text: str) -> str:
    """``text`` as an address at ``domain`` (or a subdomain of it), else a ProofError saying why."""
    try:
        address = validate_email((text or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ProofError(
            "Enter the customer's e-mail address, such as it@acme.com.", field="confirmation_email"
        ) from None
    host = address.rpartition("@")[2]
    try:
        at_domain = normalise_domain(host)
    except DomainError:
        at_domain = ""
    if at_domain != domain:
        raise ProofError(
            f"The address must be at {display_domain(domain)} (for example it@{display_domain(domain)}): "
            "only someone at the customer can confirm.",
            field="confirmation_email",
        )
    return address


def _kind(subject: DomainRegistration | RegistrationClaim) -> str:
    return "registration" if isinstance(subject, DomainRegistration) else "claim"


@transactional
def send_confirmation(
    subject: DomainRegistration | RegistrationClaim, address_text: str, *, partner_name: str, by: User | None
) -> str:
    """Mail the customer a link that confirms this registration (or claim); the address used."""
    if subject.verified:
        raise ProofError(f"{subject.display} is verified already.")
    address = _address_at(subject.domain, address_text)
    now = clock.now()
    sent_at = getattr(subject, "confirmation_sent_at", None)
    if sent_at is not None and now - sent_at < RESEND_AFTER and subject.confirmation_email == address:
        raise ProofError("The link was sent to that address a moment ago; give it a few minutes to arrive.")
    subject.confirmation_email = address
    if isinstance(subject, DomainRegistration):
        subject.confirmation_sent_at = now
    token = _serializer().dumps({"k": _kind(subject), "id": subject.id, "e": address, "t": subject.proof_token})
    queue_email(
        to=address,
        template="registration_confirm",
        context={
            "domain": subject.display,
            "partner_name": partner_name,
            "confirm_url": external_url("public.confirm_registration", token=token),
            "days": CONFIRMATION_LIFETIME.days,
        },
    )
    record(f"{_kind(subject)}.confirmation_sent", actor=by, target=subject, details={"domain": subject.domain})
    return address


@dataclass(frozen=True)
class Confirmation:
    subject: DomainRegistration | RegistrationClaim
    partner_name: str


INVALID_LINK = (
    "This confirmation link is not valid: it may be incomplete, already used, or replaced by a newer one. "
    "Ask the partner to send a new link."
)


def read_confirmation(token: str) -> Confirmation:
    """What a confirmation link confirms, checked (signature, age, still waiting); else a ProofError."""
    try:
        data = _serializer().loads(token, max_age=int(CONFIRMATION_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise LinkExpired("This confirmation link has expired. Ask the partner to send a new one.") from None
    except BadSignature:
        raise LinkInvalid(INVALID_LINK) from None
    if not isinstance(data, dict):
        raise LinkInvalid(INVALID_LINK)
    model = DomainRegistration if data.get("k") == "registration" else RegistrationClaim
    subject = db.session.get(model, data.get("id")) if isinstance(data.get("id"), int) else None
    if (
        subject is None
        or subject.verified
        or subject.confirmation_email != data.get("e")
        or subject.proof_token != data.get("t")
    ):
        raise LinkInvalid(INVALID_LINK)
    partner = subject.partner if isinstance(subject, DomainRegistration) else subject.claimant
    return Confirmation(subject, partner.name)


@transactional
def confirm(token: str) -> Confirmation:
    """The customer confirms: the registration (or claim) is verified, and the link is used up."""
    found = read_confirmation(token)
    subject = found.subject
    if isinstance(subject, DomainRegistration) and not subject.is_active:
        raise LinkExpired("This registration has ended, so there is nothing left to confirm.")
    _verify(subject, Verification.CONFIRMATION, None)
    return found
