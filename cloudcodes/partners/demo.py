"""Demo partner for ``demo seed``: the demo partner user owns Acme Cloud, a Reseller managed by the demo manager."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.auth.services import find_user
from cloudcodes.extensions import db
from cloudcodes.partners.models import MemberRole, Partner, RequirementKind
from cloudcodes.partners.services import add_member, add_requirement, create_partner, membership_of
from cloudcodes.program.terms import RESELLER

DEMO_PARTNER = "Acme Cloud"


def seed_partners() -> list[tuple[str, str, str]]:
    owner = find_user("owner@acme-cloud.example")
    manager = find_user("manager@cloudcodes.example")
    if owner is None or membership_of(owner) is not None:
        return []
    partner = db.session.scalar(select(Partner).where(Partner.name == DEMO_PARTNER)) or create_partner(
        name=DEMO_PARTNER,
        website="https://acme-cloud.example",
        country="United Kingdom",
        phone="+44 20 7946 0000",
        workspace_reseller_id="C0demo123",
        level=RESELLER,
        channel_manager=manager,
        effective_from=clock.today() - timedelta(days=120),
    )
    add_member(partner, owner, MemberRole.OWNER)
    add_requirement(partner, RequirementKind.WORKSPACE_RESELLER, "C0demo123")
    add_requirement(partner, RequirementKind.SALES_TEAM, "6 people")
    add_requirement(partner, RequirementKind.TECHNICAL_TEAM, "3 people")
    return []
