"""A claim's journey in Chromium: a partner finds a domain taken, files a claim from the refusal, the
holder's manager refuses it, the claimant appeals, and an admin decides the appeal for it. Neither
partner's pages name the other; axe checks every page on the way."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import MemberRole
from cloudcodes.partners.services import add_member, create_partner
from cloudcodes.referrals.services import active_registration
from tests.browser.conftest import axe_violations
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser

CLAIMANT = "claire@globex-resellers.com"
DOMAIN = "fabrikam.co.uk"  # Acme Cloud's, verified, from the demo data


def log_in(page, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def staff_log_in(page, site, email: str, password: str) -> None:
    with site.app.app_context():
        secret = _db.session.scalar(select(User.totp_secret).where(User.email == email))
    log_in(page, email, password)
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify and log in").click()
    page.get_by_role("heading", name="Staff console").wait_for()


def test_a_claim_from_the_refusal_to_the_final_decision_on_appeal(page, site):
    with site.app.app_context():
        manager = _db.session.scalar(select(User).where(User.email == "manager@cloudcodes.example"))
        globex = create_partner(
            name="Globex Resellers", website="https://globex-resellers.com", country="France", level="reseller",
            channel_manager=manager,
        )  # fmt: skip
        add_member(globex, UserFactory(email=CLAIMANT, full_name="Claire Claimant"), MemberRole.OWNER)
        _db.session.commit()
        globex_id = globex.id

    # The claimant finds the domain taken, and files a claim from the refusal.
    log_in(page, CLAIMANT, DEFAULT_PASSWORD)
    page.goto("/dashboard/referrals")
    page.get_by_label("Customer domain", exact=True).first.fill(DOMAIN)
    page.get_by_role("button", name="Register the domain").click()
    page.get_by_text("already registered by another partner").first.wait_for()
    claim_form = page.locator("#claim-form")
    assert claim_form.get_attribute("open") is not None
    assert claim_form.get_by_label("Customer domain", exact=True).input_value() == DOMAIN
    claim_form.get_by_label("Your evidence").fill("Their IT lead asked us for a quote in May; we ran the pilot.")
    assert axe_violations(page) == []
    claim_form.get_by_role("button", name="File the claim").click()
    page.get_by_text(f"Your claim on {DOMAIN} is filed").wait_for()
    assert "Acme Cloud" not in page.content()
    assert axe_violations(page) == []

    # The holder's manager refuses it, with a reason, from the console's home.
    staff_log_in(page, site, "manager@cloudcodes.example", "demo-manager-password-2026")
    page.get_by_role("link", name=DOMAIN).first.click()
    page.get_by_role("heading", name=f"Claim on {DOMAIN}").wait_for()
    assert "Globex Resellers" in page.content() and "Acme Cloud" in page.content()  # staff see both
    assert axe_violations(page) == []
    page.get_by_label("Refuse: the holder keeps it").check()
    page.get_by_label("Reason").fill("The holder has worked with the customer for a year.")
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_text(f"The claim on {DOMAIN} is refused").wait_for()

    # The claimant reads the outcome and appeals, once.
    log_in(page, CLAIMANT, DEFAULT_PASSWORD)
    page.goto("/dashboard/referrals#claims")
    claims = page.locator("#claims")
    claims.get_by_text("The holder has worked with the customer for a year.").wait_for()
    claims.get_by_text("Appeal this decision…").click()
    claims.get_by_label("Why the decision is wrong").fill("The customer signed our order last week.")
    assert axe_violations(page) == []
    claims.get_by_role("button", name="Appeal to an admin").click()
    page.get_by_text(f"Your appeal on {DOMAIN} is filed").wait_for()
    assert page.get_by_text("Appeal this decision…").count() == 0
    assert "Acme Cloud" not in page.content()

    # An admin overturns the decision: final, and the domain is the claimant's.
    staff_log_in(page, site, "admin@cloudcodes.example", "demo-admin-password-2026")
    page.goto("/admin/claims")
    page.get_by_role("link", name=DOMAIN).first.click()
    page.get_by_label("Overturn: the other side gets the domain").check()
    page.get_by_label("Reason").fill("The signed order shows the customer chose the claimant.")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Record the final decision").click()
    page.get_by_text(f"The appeal on {DOMAIN} is decided the other way").wait_for()
    with site.app.app_context():
        assert active_registration(DOMAIN).partner_id == globex_id
