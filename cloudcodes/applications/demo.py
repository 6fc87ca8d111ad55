"""Demo applications for ``demo seed``, one in each state a reviewer meets."""

from __future__ import annotations

from sqlalchemy import select

from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.rules import ApplicationInput, company_key
from cloudcodes.applications.services import ask_question, assign_manager, reject, submit_application
from cloudcodes.auth.services import find_user
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.program.terms import PREMIER, RESELLER, Level


def _input(level: Level, company: str, contact: str, email: str, **premier: object) -> ApplicationInput:
    return ApplicationInput(
        level=level,
        company_name=company,
        website=f"https://{email.split('@')[1]}",
        country="United States",
        contact_name=contact,
        contact_email=email,
        contact_phone="+1 415 555 0100",
        is_workspace_reseller=True,
        workspace_reseller_id="C0" + company[:3].upper() + "987",
        sales_team_size=5,
        technical_team_size=3,
        expected_customers=20,
        heard_from="google_partner_directory",
        **premier,  # type: ignore[arg-type]
    )


PREMIER_EXTRAS = {
    "committed_revenue": Money(4_000_000, "USD"),
    "trained_sales_staff": 2,
    "agrees_to_business_plan": True,
    "product_page_url": "https://initech-cloud.example/security",
    "marketing_campaign": "Quarterly webinars on Workspace security for our 300 education customers.",
}


def seed_applications() -> list[tuple[str, str, str]]:
    manager = find_user("manager@cloudcodes.example")
    if manager is None:
        return []
    demos = [
        ("submitted", _input(RESELLER, "Globex Workspace Services", "Gina Globex", "gina@globex-ws.example")),
        ("in_review", _input(PREMIER, "Initech Cloud", "Ian Initech", "ian@initech-cloud.example", **PREMIER_EXTRAS)),
        ("waiting", _input(RESELLER, "Umbrella IT", "Uma Umbrella", "uma@umbrella-it.example")),
        ("rejected", _input(RESELLER, "Hooli Apps", "Hank Hooli", "hank@hooli-apps.example")),
    ]
    for state, data in demos:
        key = company_key(data.company_name)
        if db.session.scalar(select(PartnerApplication.id).where(PartnerApplication.company_key == key)):
            continue
        application = submit_application(data, "127.0.0.1")
        if state in ("in_review", "waiting"):
            assign_manager(application, manager, by=manager)
        if state == "waiting":
            ask_question(
                application,
                "Which of your customers would you start with, and how many seats do they have?",
                by=manager,
            )
        if state == "rejected":
            reject(application, "We could not confirm your Google Workspace reseller status with Google.", by=manager)
    return []
