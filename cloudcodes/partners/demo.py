"""Demo partner for ``demo seed``: the demo partner user owns Acme Cloud, a Reseller managed by the demo manager."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.auth.models import Role
from cloudcodes.auth.services import create_user, find_user
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.company import tax_form_folder
from cloudcodes.partners.models import (
    MemberRole,
    Partner,
    PartnerLevel,
    PartnerPayoutDetails,
    PartnerRequirement,
    RequirementKind,
)
from cloudcodes.partners.services import add_member, add_requirement, create_partner, membership_of
from cloudcodes.program.terms import PREMIER, RESELLER

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
    seed_payout_details(partner)
    return []


# A one-page PDF standing in for the signed form (the demo's, so the download can be tried).
DEMO_TAX_FORM = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def seed_payout_details(partner: Partner) -> None:
    """Complete payout details for Acme Cloud (a UK payee paid by IBAN), so its statements can be paid."""
    folder = tax_form_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".pdf"
    (folder / name).write_bytes(DEMO_TAX_FORM)
    db.session.add(
        PartnerPayoutDetails(
            partner=partner,
            payee_legal_name="Acme Cloud Ltd",
            payee_country="GB",
            method="iban",
            iban="GB33BUKB20201555555555",
            bic="BUKBGB22",
            tax_id="980780684",
            tax_form_kind="w8bene",
            tax_form_signed_on=clock.today() - timedelta(days=60),
            tax_form_file=name,
            tax_form_uploaded_at=clock.now(),
        )
    )


def seed_level_stories() -> list[tuple[str, str, str]]:
    """Acme close to Premier (all but a little revenue), a protected Premier and one due for a downgrade."""
    manager = find_user("manager@cloudcodes.example")
    acme = db.session.scalar(select(Partner).where(Partner.name == DEMO_PARTNER))
    if manager is None or acme is None or db.session.scalar(select(Partner.id).where(Partner.name == PROTECTED)):
        return []
    today = clock.today()
    now = clock.now()
    for requirement in acme.requirements:
        requirement.verified_at, requirement.verified_by_id = now, manager.id
    acme.memberships[0].sales_training_completed_on = today - timedelta(days=45)
    acme.requirements.extend(
        PartnerRequirement(kind=kind, verified_at=now, verified_by_id=manager.id, **fields)
        for kind, fields in _acme_premier_requirements(today).items()
    )

    protected = create_partner(
        name=PROTECTED, website="https://contoso-partners.example", country="Germany", level=RESELLER,
        channel_manager=manager, effective_from=date(today.year - 1, 1, 1),
    )  # fmt: skip
    upgraded_on = date(today.year, max(today.month - 2, 1), 1)
    protected.levels.append(
        PartnerLevel(
            level=PREMIER,
            effective_from=upgraded_on,
            protected_until=date(upgraded_on.year + 1, 12, 31),
            reason="upgrade",
        )
    )
    fading = create_partner(
        name="Fabrikam Partners", website="https://fabrikam-partners.example", country="Spain", level=PREMIER,
        channel_manager=manager, effective_from=date(today.year - 1, 1, 1),
    )  # fmt: skip
    for partner, owner in ((protected, "owner@contoso-partners.example"), (fading, "owner@fabrikam-partners.example")):
        user = find_user(owner) or create_user(owner, None, Role.PARTNER, full_name="Demo Owner")
        add_member(partner, user, MemberRole.OWNER)
    return []


PROTECTED = "Contoso Premier Partners"


def _acme_premier_requirements(today: date) -> dict[RequirementKind, dict[str, object]]:
    return {
        RequirementKind.JOINT_BUSINESS_PLAN: {
            "year": today.year,
            "detail": "Plan for the year",
            "commitment": Money(2_500_000, "USD"),
        },
        RequirementKind.WEBSITE_PRODUCT_PAGE: {
            "url": "https://acme-cloud.example/cloudcodes",
            "detail": "Product page",
        },
        RequirementKind.JOINT_MARKETING_CAMPAIGN: {
            "year": today.year,
            "name": "Back-to-school webinars",
            "detail": "Webinars",
            "starts_on": today - timedelta(days=60),
            "ends_on": today - timedelta(days=30),
        },
    }
