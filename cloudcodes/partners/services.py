"""Partner organisations: creating them, their members, the level in force on a date, suspending them."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, select
from sqlalchemy.orm import joinedload

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import Role, User
from cloudcodes.extensions import db
from cloudcodes.partners.models import (
    MemberRole,
    Partner,
    PartnerLevel,
    PartnerMembership,
    PartnerRequirement,
    PartnerStatus,
    RequirementKind,
)
from cloudcodes.program.terms import Level
from cloudcodes.services import ChangedMeanwhile, ServiceError, transactional


def create_partner(
    *,
    name: str,
    website: str,
    country: str,
    level: Level,
    channel_manager: User | None,
    phone: str = "",
    workspace_reseller_id: str = "",
    application_id: int | None = None,
    created_by: User | None = None,
    effective_from: date | None = None,
    note: str = "",
) -> Partner:
    """A new active partner with its first level record, in force from ``effective_from`` (default today)."""
    partner = Partner(
        name=name,
        website=website,
        country=country,
        phone=phone,
        workspace_reseller_id=workspace_reseller_id,
        channel_manager=channel_manager,
        application_id=application_id,
    )
    partner.levels.append(
        PartnerLevel(
            level=level,
            effective_from=effective_from or clock.today(),
            reason="approval",
            note=note,
            created_by_id=getattr(created_by, "id", None),
        )
    )
    db.session.add(partner)
    return partner


def add_member(partner: Partner, user: User, role: MemberRole) -> PartnerMembership:
    membership = PartnerMembership(partner=partner, user=user, role=role)
    db.session.add(membership)
    return membership


def add_requirement(partner: Partner, kind: RequirementKind, detail: str, year: int | None = None) -> None:
    partner.requirements.append(PartnerRequirement(kind=kind, detail=detail, year=year))


_MEMBERSHIP_OF = (
    select(PartnerMembership)
    .where(PartnerMembership.user_id == bindparam("user_id"))
    .options(joinedload(PartnerMembership.partner))
)


def membership_of(user: User) -> PartnerMembership | None:
    """The user's membership with its partner, in one statement (every partner page needs both), built once."""
    return db.session.scalar(_MEMBERSHIP_OF, {"user_id": user.id})


def _in_force_on(query: Select[Any], day: date) -> Select[Any]:
    """The level record in force on ``day``: the latest one that took effect on or before it."""
    return query.where(PartnerLevel.effective_from <= day).order_by(PartnerLevel.effective_from.desc()).limit(1)


def level_record_on(partner_id: int, day: date) -> PartnerLevel | None:
    return db.session.scalar(_in_force_on(select(PartnerLevel).where(PartnerLevel.partner_id == partner_id), day))


def level_on_column(day: date, partner_id: Any = None) -> ScalarSelect[Any]:
    """The level each partner of a query has on ``day``, as a column to filter or sort by (or to read
    with the rows, in the same statement): of a query over ``Partner``, or over a table whose
    ``partner_id`` column is given."""
    column = Partner.id if partner_id is None else partner_id
    return (
        _in_force_on(select(PartnerLevel.level).where(PartnerLevel.partner_id == column), day)
        .correlate_except(PartnerLevel)
        .scalar_subquery()
    )


# --- Suspension -----------------------------------------------------------------------------------
# A suspended partner's codes and registrations stop attributing (``check_code`` answers
# ``partner_suspended`` and ``attribute`` passes its registrations and earlier purchases by); its
# users keep reading their history and statements. Reactivating restores all of it.


class PartnerStatusError(ServiceError):
    pass


class PartnerStatusChanged(ChangedMeanwhile):
    """Suspending a suspended partner, reactivating an active one: someone acted first."""


class NotPartnersManager(PermissionError):
    """Someone other than the partner's channel sales manager (or an admin) suspending or reactivating it."""


def may_manage(user: User, partner: Partner) -> bool:
    """Whether ``user`` may change ``partner`` in the console: an admin, or the manager it is assigned to."""
    return user.role == Role.ADMIN or (user.role == Role.MANAGER and partner.channel_manager_id == user.id)


def _guard_manager(user: User, partner: Partner) -> None:
    if not may_manage(user, partner):
        raise NotPartnersManager("Only the partner's channel sales manager (or an admin) can suspend or reactivate it.")


def _state(partner: Partner) -> dict[str, str | None]:
    return {"status": str(partner.status), "reason": partner.suspension_reason}


@transactional
def suspend_partner(partner: Partner, reason: str, *, by: User) -> None:
    _guard_manager(by, partner)
    reason = reason.strip()
    if not reason:
        raise PartnerStatusError("Say why the partner is suspended; its users see the reason.", "reason")
    if partner.status == PartnerStatus.SUSPENDED:
        raise PartnerStatusChanged(
            f"{partner.name} is already suspended; reactivate it first to suspend it again.", code="already_suspended"
        )
    before = _state(partner)
    partner.status = PartnerStatus.SUSPENDED
    partner.suspension_reason = reason
    partner.suspended_at = clock.now()
    record("partner.suspended", actor=by, target=partner, details={"before": before, "after": _state(partner)})


@transactional
def reactivate_partner(partner: Partner, *, by: User) -> None:
    _guard_manager(by, partner)
    if partner.status == PartnerStatus.ACTIVE:
        raise PartnerStatusChanged(f"{partner.name} is already active.", code="already_active")
    before = _state(partner)
    partner.status = PartnerStatus.ACTIVE
    partner.suspension_reason = None
    partner.suspended_at = None
    record("partner.reactivated", actor=by, target=partner, details={"before": before, "after": _state(partner)})
