"""The site in a real browser: accessibility (axe-core), the keyboard, the phone layout, scripts under the CSP."""

import pyotp
import pytest
from sqlalchemy import select

from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/", "/faq", "/program", "/contact", "/apply/", "/apply/premier", "/redeem/", "/login", "/no-such-page"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_have_no_serious_accessibility_problems(page, path):
    page.goto(path)
    assert axe_violations(page) == []


def test_the_first_tab_reaches_the_skip_link_which_moves_focus_to_the_content(page):
    page.goto("/faq")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_on_a_phone_the_menu_opens_with_its_button(page):
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/")
    faq = page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="FAQ")
    assert not faq.is_visible()
    page.get_by_role("button", name="Show or hide navigation").click()
    faq.wait_for(state="visible")
    assert page.get_by_role("button", name="Show or hide navigation").get_attribute("aria-expanded") == "true"


def test_an_empty_application_lists_what_to_fix_with_links_to_the_fields(page):
    page.goto("/apply/reseller")
    page.get_by_role("button", name="Send my application").click()
    summary = page.get_by_role("alert")
    assert "The application cannot be sent yet." in summary.inner_text()
    summary.get_by_role("link", name="Company name").click()
    assert page.evaluate("location.hash") == "#company_name"
    assert axe_violations(page) == []


def log_in(page, email, password):
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # the keyboard alone logs in


def test_a_partner_logs_in_with_the_keyboard_and_copies_a_code(page, site):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    log_in(page, "owner@acme-cloud.example", "demo-partner-password-2026")
    page.get_by_role("heading", name="Welcome, Olivia Owner").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Domains and codes").click()
    button = page.get_by_role("button", name="Copy the code").first
    code = button.get_attribute("data-copy")
    button.click()
    page.get_by_role("status").filter(has_text="Copied").first.wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == code
    assert axe_violations(page) == []
    page.goto("/dashboard/earnings")
    assert axe_violations(page) == []


def test_staff_pass_two_factor_and_the_console_pages_are_accessible(page, site):
    with site.app.app_context():
        secret = _db.session.scalar(select(User.totp_secret).where(User.email == "admin@cloudcodes.example"))
    log_in(page, "admin@cloudcodes.example", "demo-admin-password-2026")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify and log in").click()
    page.get_by_role("heading", name="Staff console").wait_for()
    for path in ("/admin/", "/admin/applications?state=all", "/admin/applications/2", "/admin/partners/1",
                 "/admin/domains", "/admin/payouts", "/admin/qualification", "/admin/audit", "/admin/settings",
                 "/admin/faq", "/admin/faq/new", "/admin/staff", "/admin/staff/1", "/admin/mail",
                 "/admin/jobs"):  # fmt: skip
        page.goto(path)
        assert axe_violations(page) == [], path
