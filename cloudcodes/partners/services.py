"""Partner organisations: creating them, their members and the level in force on a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ScalarSelect, Select, select

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.partners.models import (
    MemberRole,
    Partner,
    PartnerLevel,
    PartnerMembership,
    PartnerRequirement,
    RequirementKind,
)
from cloudcodes.program.terms import Level


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


def membership_of(user: User) -> PartnerMembership | None:
    return db.session.scalar(select(PartnerMembership).where(PartnerMembership.user_id == user.id))


def _in_force_on(query: Select[Any], day: date) -> Select[Any]:
    """The level record in force on ``day``: the latest one that took effect on or before it."""
    return query.where(PartnerLevel.effective_from <= day).order_by(PartnerLevel.effective_from.desc()).limit(1)


def level_record_on(partner_id: int, day: date) -> PartnerLevel | None:
    return db.session.scalar(_in_force_on(select(PartnerLevel).where(PartnerLevel.partner_id == partner_id), day))


def level_on_column(day: date) -> ScalarSelect[Any]:
    """The level each partner of a query over ``Partner`` has on ``day``, as a column to filter or sort by."""
    return (
        _in_force_on(select(PartnerLevel.level).where(PartnerLevel.partner_id == Partner.id), day)
        .correlate(Partner)
        .scalar_subquery()
    )
