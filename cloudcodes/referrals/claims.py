"""Claims on a domain another partner holds: filed with evidence, decided by the holder's manager,
appealed once by the losing side to an admin, whose decision is final.

Neither partner ever learns the other's name: the mails and dashboard pages say "another partner".
A verified side wins over a merely claimed one unless the person deciding records why not. Two
claims on one domain are both kept and decided one at a time: when one is granted, the others
stay open against the domain's new holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.audit.services import record
from cloudcodes.auth.models import Role, User
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.models import Partner, PartnerMembership
from cloudcodes.partners.services import may_manage
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.deal_rules import CLAIM_NOTE_MAX, REASON_MAX, add_working_days
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import (
    AppealStatus,
    ClaimStatus,
    DomainRegistration,
    RegistrationClaim,
    RegistrationStatus,
)
from cloudcodes.referrals.services import (
    ReferralError,
    _end,
    _normalised,
    _refuse_self_referral,
    _require_active_partner,
    active_registration,
    is_live,
    lifetime,
)
from cloudcodes.services import transactional
from cloudcodes.urls import external_url


class ClaimError(ReferralError):
    """A claim, a decision or an appeal the rules refuse; the message says why."""


class NotClaimsDecider(PermissionError):
    """Someone other than the holder's manager (or an admin) deciding, or a non-admin deciding an appeal."""


def _clean(text: str | None, *, limit: int, what: str, field: str, required: bool) -> str:
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise ClaimError(f"Write the {what}: both partners are told it.", field=field)
    if len(cleaned) > limit:
        raise ClaimError(f"Keep the {what} under {formatting.number(limit)} characters.", field=field)
    return cleaned


# --- Filing -------------------------------------------------------------------------------------


@transactional
def file_claim(partner: Partner, raw_domain: str, note: str, *, by: User | None) -> RegistrationClaim:
    """Ask for a domain another partner holds; the holder's manager has the setting's working days."""
    domain = _normalised(raw_domain)
    _require_active_partner(partner)
    _refuse_self_referral(partner, domain)
    held = active_registration(domain)
    if held is None or not is_live(held):
        raise ClaimError(f"No partner holds {display_domain(domain)} now: register it instead.", field="domain")
    if held.partner_id == partner.id:
        raise ClaimError(f"You hold {display_domain(domain)} already.", field="domain")
    text = _clean(note, limit=CLAIM_NOTE_MAX, what="note", field="note", required=True)
    days = program_terms().claim_decision_working_days
    claim = RegistrationClaim(
        registration_id=held.id,
        domain=domain,
        claimant_id=partner.id,
        filed_by_id=by.id if by else None,
        filed_at=clock.now(),
        due_on=add_working_days(clock.today(), days),
        note=text,
        holder_verified=held.verified,
    )
    try:
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:
        raise ClaimError(
            f"You have a claim on {display_domain(domain)} waiting for a decision already.", field="domain"
        ) from None
    record("claim.filed", actor=by, target=claim, details={"domain": domain, "holder": held.partner_id})
    _tell_members(held.partner_id, claim, "claim_filed_holder")
    return claim


# --- Deciding -----------------------------------------------------------------------------------


def may_decide(user: User, claim: RegistrationClaim) -> bool:
    return may_manage(user, claim.registration.partner)


def against_evidence(claim: RegistrationClaim, grant: bool) -> bool:
    """Whether deciding ``grant`` goes against the only verified side."""
    holder_verified = claim.registration.verified
    if grant:
        return holder_verified and not claim.verified
    return claim.verified and not holder_verified


def _move(registration: DomainRegistration, to_partner_id: int, *, verified_from: RegistrationClaim | None) -> None:
    """End ``registration`` and start the domain's registration for ``to_partner_id``."""
    _end(registration, RegistrationStatus.REASSIGNED, "Moved by a claim's decision")
    now = clock.now()
    moved = DomainRegistration(
        partner_id=to_partner_id,
        domain=registration.domain,
        registered_at=now,
        expires_at=now + lifetime(),
    )
    if verified_from is not None and verified_from.verified:
        moved.verified_at = verified_from.verified_at
        moved.verification = verified_from.verification
    db.session.add(moved)
    db.session.flush()
    # The other claims on the domain stay open, now against its new holder.
    db.session.query(RegistrationClaim).filter(
        RegistrationClaim.registration_id == registration.id,
        RegistrationClaim.status == ClaimStatus.PENDING,
        RegistrationClaim.claimant_id != to_partner_id,
    ).update({RegistrationClaim.registration_id: moved.id}, synchronize_session=False)


def _refuse_without_reason_against_evidence(claim: RegistrationClaim, grant: bool, override: bool) -> None:
    if against_evidence(claim, grant) and not override:
        raise ClaimError(
            "Only the other side has proven that the customer stands behind it. To decide against it, tick the box "
            "and say why in the reason.",
            field="override",
        )


@transactional
def decide(claim: RegistrationClaim, *, grant: bool, reason: str, override: bool = False, by: User) -> None:
    """The holder's manager (or an admin) grants the claim (the domain moves) or refuses it."""
    if not may_decide(by, claim):
        raise NotClaimsDecider("Only the holder's channel sales manager, or an admin, decides this claim.")
    if claim.status != ClaimStatus.PENDING:
        raise ClaimError("This claim has been decided already.")
    text = _clean(reason, limit=REASON_MAX, what="reason", field="reason", required=True)
    _refuse_without_reason_against_evidence(claim, grant, override)
    claim.status = ClaimStatus.GRANTED if grant else ClaimStatus.REFUSED
    claim.decided_at = clock.now()
    claim.decided_by_id = by.id
    claim.reason = text
    holder_id = claim.registration.partner_id
    if grant:
        _move(claim.registration, claim.claimant_id, verified_from=claim)
    record(
        "claim.decided",
        actor=by,
        target=claim,
        details={"domain": claim.domain, "outcome": claim.status.value, "against_evidence": override},
    )
    _tell_both(claim, holder_id, "claim_decided")


# --- Appeals ------------------------------------------------------------------------------------


def losing_partner_id(claim: RegistrationClaim) -> int | None:
    if claim.status == ClaimStatus.GRANTED:
        return claim.registration.partner_id  # the former holder
    if claim.status == ClaimStatus.REFUSED:
        return claim.claimant_id
    return None


def may_appeal(claim: RegistrationClaim, partner_id: int) -> bool:
    return claim.appeal_status is None and losing_partner_id(claim) == partner_id


@transactional
def appeal(claim: RegistrationClaim, partner: Partner, note: str, *, by: User | None) -> None:
    """The losing side asks an admin to decide again, once."""
    if claim.appeal_status is not None:
        raise ClaimError("This decision has been appealed already: each claim is appealed once.")
    if losing_partner_id(claim) != partner.id:
        raise ClaimError("Only the side the decision went against may appeal it.")
    claim.appeal_note = _clean(note, limit=CLAIM_NOTE_MAX, what="note", field="note", required=True)
    claim.appealed_at = clock.now()
    claim.appealed_by_id = by.id if by else None
    claim.appeal_status = AppealStatus.PENDING
    record("claim.appealed", actor=by, target=claim, details={"domain": claim.domain, "by_partner": partner.id})


@transactional
def decide_appeal(claim: RegistrationClaim, *, uphold: bool, reason: str, by: User) -> None:
    """An admin's final decision: the first decision stands, or the other side gets the domain."""
    if by.role != Role.ADMIN:
        raise NotClaimsDecider("Only an admin decides an appeal.")
    if claim.appeal_status != AppealStatus.PENDING:
        raise ClaimError("There is no appeal waiting on this claim.")
    claim.appeal_reason = _clean(reason, limit=REASON_MAX, what="reason", field="reason", required=True)
    claim.appeal_status = AppealStatus.UPHELD if uphold else AppealStatus.OVERTURNED
    claim.appeal_decided_at = clock.now()
    claim.appeal_decided_by_id = by.id
    holder_id = claim.registration.partner_id
    if not uphold:
        current = active_registration(claim.domain)
        if claim.status == ClaimStatus.GRANTED:
            # Back to the former holder, from the claimant who got it.
            if current is not None and current.partner_id == claim.claimant_id:
                _move(current, holder_id, verified_from=None)
        elif current is not None and current.partner_id == holder_id:
            _move(current, claim.claimant_id, verified_from=claim)
    record(
        "claim.appeal_decided",
        actor=by,
        target=claim,
        details={"domain": claim.domain, "outcome": claim.appeal_status.value},
    )
    _tell_both(claim, holder_id, "claim_appeal_decided")


# --- What the partners are told -----------------------------------------------------------------


def _members(partner_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(PartnerMembership, PartnerMembership.user_id == User.id)
            .where(PartnerMembership.partner_id == partner_id, User.active.is_(True))
            .order_by(User.id)
        )
    )


def _tell_members(partner_id: int, claim: RegistrationClaim, template: str, **context: object) -> None:
    for user in _members(partner_id):
        queue_email(
            to=user.email,
            to_name=user.full_name,
            template=template,
            context={
                "user": user,
                "claim": claim,
                "domain": claim.display,
                "referrals_url": external_url("dashboard.referrals") + "#claims",
                **context,
            },
        )


def _tell_both(claim: RegistrationClaim, holder_id: int, template: str) -> None:
    """The outcome and its reason to both sides, each in its own words; never the other's name."""
    _tell_members(claim.claimant_id, claim, template, side="claimant", won=_won(claim, "claimant"))
    _tell_members(holder_id, claim, template, side="holder", won=_won(claim, "holder"))


def _won(claim: RegistrationClaim, side: str) -> bool:
    claimant_won = claim.status == ClaimStatus.GRANTED
    if claim.appeal_status == AppealStatus.OVERTURNED:
        claimant_won = not claimant_won
    return claimant_won if side == "claimant" else not claimant_won


# --- Lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerClaims:
    filed: list[RegistrationClaim]  # by this partner
    against: list[RegistrationClaim]  # on domains this partner holds (or held, when decided)


def claims_of(partner_id: int, *, limit: int = 50) -> PartnerClaims:
    filed = db.session.scalars(
        select(RegistrationClaim)
        .where(RegistrationClaim.claimant_id == partner_id)
        .order_by(RegistrationClaim.filed_at.desc(), RegistrationClaim.id.desc())
        .limit(limit)
    ).all()
    against = db.session.scalars(
        select(RegistrationClaim)
        .join(DomainRegistration, DomainRegistration.id == RegistrationClaim.registration_id)
        .where(DomainRegistration.partner_id == partner_id)
        .order_by(RegistrationClaim.filed_at.desc(), RegistrationClaim.id.desc())
        .limit(limit)
    ).all()
    return PartnerClaims(list(filed), list(against))


def waiting_claims(user: User, *, limit: int = 50) -> list[RegistrationClaim]:
    """Claims waiting for ``user``: a manager's on its partners' domains, all of them for an admin; and for
    an admin, the appeals. Oldest first."""
    query = (
        select(RegistrationClaim)
        .join(DomainRegistration, DomainRegistration.id == RegistrationClaim.registration_id)
        .join(Partner, Partner.id == DomainRegistration.partner_id)
    )
    pending = RegistrationClaim.status == ClaimStatus.PENDING
    if user.role == Role.ADMIN:
        query = query.where(or_(pending, RegistrationClaim.appeal_status == AppealStatus.PENDING))
    else:
        query = query.where(pending, Partner.channel_manager_id == user.id)
    return list(db.session.scalars(query.order_by(RegistrationClaim.filed_at, RegistrationClaim.id).limit(limit)))


def overdue_by(claim: RegistrationClaim) -> timedelta:
    return max(clock.today() - claim.due_on, timedelta(0))
