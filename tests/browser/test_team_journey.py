"""The team invitation journey in Chromium: an owner invites a sales member, who opens the mail's link,
chooses a password and sees the dashboard without the team's actions. axe checks the team page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

OWNER = ("owner@acme-cloud.example", "demo-partner-password-2026")
INVITEE = "nina.sales@acme-cloud.example"
PASSWORD = "a long password for nina 2026"


def log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def invitation_link(site, email: str) -> str:
    with site.app.app_context():
        body = _db.session.scalars(
            select(OutboxMessage.text_body)
            .where(OutboxMessage.to_address == email, OutboxMessage.template == "member_invitation")
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert body is not None, f"no invitation mail to {email}"
    return re.search(r"https?://\S+/reset-password/\S+", body).group(0)


def test_an_owner_invites_a_sales_member_who_joins_and_sees_no_team_actions(page, site):
    log_in(page, *OWNER)
    page.get_by_role("heading", name="Welcome, Olivia Owner").wait_for()
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_role("heading", name="Your team").wait_for()
    assert axe_violations(page) == []

    form = page.get_by_role("region", name="Invite a member")
    form.get_by_label("E-mail address").fill(INVITEE)
    form.get_by_label("Full name").fill("Nina Sales")
    form.get_by_label("Role").select_option("sales")
    form.get_by_role("button", name="Send the invitation").click()
    page.get_by_text("Nina Sales is invited as a sales member.").wait_for()
    member = page.get_by_role("article", name="Nina Sales")
    assert "Invitation pending" in member.inner_text()
    assert axe_violations(page) == []  # with the success message and a pending invitation's forms

    # On a phone the page fits the screen: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Log out").click()
    page.goto(invitation_link(site, INVITEE))
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_role("button", name="Save password").click()

    page.get_by_role("heading", name="Welcome, Nina Sales").wait_for()
    assert page.get_by_role("link", name="Purchases and earnings").is_visible()
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_role("heading", name="Your team").wait_for()
    assert page.get_by_role("heading", name="Invite a member").count() == 0
    assert page.get_by_role("button", name="Change the role").count() == 0
    assert "Nina Sales (you)" in page.get_by_role("article", name="Nina Sales").inner_text()
    assert axe_violations(page) == []
