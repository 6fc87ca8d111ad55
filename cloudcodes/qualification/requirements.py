"""Channel managers verify a partner's requirements; each change is audited and may upgrade the partner."""

from __future__ import annotations

from datetime import date

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner, PartnerMembership, PartnerRequirement, RequirementKind
from cloudcodes.partners.services import may_manage
from cloudcodes.qualification.services import ChangeLine, check_upgrade
from cloudcodes.services import ServiceError, transactional


class RequirementError(ServiceError):
    pass


class NotYourPartner(PermissionError):
    """A manager acting on a partner managed by someone else."""


def _guard(user: User, partner: Partner) -> None:
    if not may_manage(user, partner):
        raise NotYourPartner("Only the partner's channel sales manager (or an admin) can change its requirements.")


def _changed(partner: Partner, action: str, by: User, target: object, **details: object) -> list[ChangeLine]:
    record(action, actor=by, target=target, details={"partner": partner.id, **details})
    # Meeting a requirement may complete the set: the upgrade does not wait for the nightly run.
    return check_upgrade(partner.id, by=by)


@transactional
def verify(requirement: PartnerRequirement, *, by: User) -> list[ChangeLine]:
    partner = requirement.partner
    _guard(by, partner)
    if requirement.verified_at is not None:
        raise RequirementError("This requirement is already verified.")
    requirement.verified_at = clock.now()
    requirement.verified_by_id = by.id
    requirement.unverified_reason = None
    return _changed(partner, "requirement.verified", by, requirement, kind=requirement.kind)


@transactional
def unverify(requirement: PartnerRequirement, reason: str, *, by: User) -> None:
    partner = requirement.partner
    _guard(by, partner)
    reason = reason.strip()
    if not reason:
        raise RequirementError("Say why the verification is taken back; the partner's manager sees it.", "reason")
    if requirement.verified_at is None:
        raise RequirementError("This requirement is not verified.")
    requirement.verified_at = None
    requirement.verified_by_id = None
    requirement.unverified_reason = reason
    record(
        "requirement.unverified",
        actor=by,
        target=requirement,
        details={"partner": partner.id, "kind": requirement.kind, "reason": reason},
    )


@transactional
def add_business_plan(partner: Partner, *, year: int, commitment: Money, summary: str, by: User) -> list[ChangeLine]:
    """A joint business plan for ``year``, approved (so verified) by the manager who records it."""
    _guard(by, partner)
    if not clock.today().year - 1 <= year <= clock.today().year + 1:
        raise RequirementError("A business plan is for last year, this year or next year.", "year")
    if commitment.minor <= 0:
        raise RequirementError("Enter the plan's revenue commitment.", "commitment")
    requirement = PartnerRequirement(
        partner_id=partner.id,
        kind=RequirementKind.JOINT_BUSINESS_PLAN,
        year=year,
        commitment=commitment,
        detail=summary.strip(),
        verified_at=clock.now(),
        verified_by_id=by.id,
    )
    db.session.add(requirement)
    db.session.flush()
    return _changed(partner, "requirement.business_plan_approved", by, requirement, year=year)


@transactional
def add_product_page(partner: Partner, *, url: str, by: User) -> list[ChangeLine]:
    """The page of the partner's web site carrying the CloudCodes product, checked by the manager today."""
    _guard(by, partner)
    url = url.strip()
    if not url.startswith(("https://", "http://")):
        raise RequirementError("Enter the page's full address, starting with https://.", "url")
    requirement = PartnerRequirement(
        partner_id=partner.id,
        kind=RequirementKind.WEBSITE_PRODUCT_PAGE,
        url=url,
        detail=url,
        verified_at=clock.now(),
        verified_by_id=by.id,
    )
    db.session.add(requirement)
    db.session.flush()
    return _changed(partner, "requirement.product_page_verified", by, requirement, url=url)


@transactional
def add_campaign(partner: Partner, *, name: str, starts_on: date, ends_on: date, by: User) -> list[ChangeLine]:
    """A joint marketing campaign, approved by the manager; it counts for the year it starts in."""
    _guard(by, partner)
    if not name.strip():
        raise RequirementError("Name the campaign.", "name")
    if ends_on < starts_on:
        raise RequirementError("The campaign cannot end before it starts.", "ends_on")
    if starts_on > clock.today():
        raise RequirementError("Record a campaign once it has started.", "starts_on")
    requirement = PartnerRequirement(
        partner_id=partner.id,
        kind=RequirementKind.JOINT_MARKETING_CAMPAIGN,
        year=starts_on.year,
        name=name.strip(),
        detail=name.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        verified_at=clock.now(),
        verified_by_id=by.id,
    )
    db.session.add(requirement)
    db.session.flush()
    return _changed(partner, "requirement.campaign_approved", by, requirement, name=name.strip())


@transactional
def mark_sales_training(membership: PartnerMembership, completed_on: date | None, *, by: User) -> list[ChangeLine]:
    """Record (or, with None, clear) the date a member completed the CloudCodes sales training."""
    partner = membership.partner
    _guard(by, partner)
    if completed_on is not None and completed_on > clock.today():
        raise RequirementError("The training date cannot be in the future.", "completed_on")
    membership.sales_training_completed_on = completed_on
    return _changed(
        partner,
        "member.sales_training" if completed_on else "member.sales_training_cleared",
        by,
        membership,
        user=membership.user.email,
        completed_on=completed_on.isoformat() if completed_on else None,
    )
