"""Demo registrations and codes for ``demo seed``: Acme Cloud has customers at several stages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.auth.services import find_user
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.claims import appeal, decide, file_claim
from cloudcodes.referrals.models import DomainRegistration, RegistrationClaim, Verification
from cloudcodes.referrals.services import issue_code, register_domain, revoke_code

DEMO_DOMAINS = ["northwind-traders.com", "contoso-schools.org", "fabrikam.co.uk", "bücher-demo.de"]


def seed_referrals() -> list[tuple[str, str, str]]:
    partner = db.session.scalar(select(Partner).where(Partner.name == "Acme Cloud"))
    owner = find_user("owner@acme-cloud.example")
    if partner is None or db.session.scalar(
        select(DomainRegistration.id).where(DomainRegistration.partner_id == partner.id)
    ):
        return []
    for index, domain in enumerate(DEMO_DOMAINS):
        registration = register_domain(partner, domain, by=owner, read_dns=False)
        code = issue_code(registration, by=owner)
        if index == 2:
            revoke_code(code, by=owner)
            issue_code(registration, by=owner)
    # Registered two months ago, so the demo purchases since then are theirs.
    for registration in db.session.scalars(
        select(DomainRegistration).where(DomainRegistration.partner_id == partner.id)
    ):
        registration.registered_at -= timedelta(days=60)
        registration.expires_at -= timedelta(days=60)
        for code in registration.codes:
            code.created_at -= timedelta(days=60)
    # One registration close to its end, so the dashboard shows a renewal reminder.
    ending = db.session.scalar(select(DomainRegistration).where(DomainRegistration.domain == "xn--bcher-demo-9db.de"))
    ending.expires_at = clock.now() + timedelta(days=6)
    # One proven by the customer's DNS record.
    proven = db.session.scalar(select(DomainRegistration).where(DomainRegistration.domain == "fabrikam.co.uk"))
    proven.verified_at, proven.verification = clock.now() - timedelta(days=50), Verification.DNS
    return []


def seed_claims() -> list[tuple[str, str, str]]:
    """Two claims on Acme Cloud's domains by the other demo partners: one waiting for the manager, one
    refused and appealed, waiting for an admin."""
    contoso = db.session.scalar(select(Partner).where(Partner.name == "Contoso Premier Partners"))
    fabrikam = db.session.scalar(select(Partner).where(Partner.name == "Fabrikam Partners"))
    manager = find_user("manager@cloudcodes.example")
    if contoso is None or fabrikam is None or manager is None or db.session.scalar(select(RegistrationClaim.id)):
        return []
    file_claim(contoso, "contoso-schools.org", "Their head of IT chose us after our workshop in the spring.", by=None)
    appealed = file_claim(fabrikam, "northwind-traders.com", "We have run their Workspace for three years.", by=None)
    decide(appealed, grant=False, reason="The holder registered the deal first and has an open quote.", by=manager)
    appeal(appealed, fabrikam, "The customer's purchase order names us; we can send it.", by=None)
    return []
