"""Every dashboard page and /program on a 390 px phone in Chromium: nothing scrolls sideways, every
action is on screen and focusable, referral codes stay on one line, and axe finds nothing serious.

Logged in as the demo partner's owner (codes, domains, purchases, members, statements).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

OWNER = ("owner@acme-cloud.example", "demo-partner-password-2026")
PHONE = {"width": 390, "height": 844}

# One list, skipping nothing: a page that 404s fails. Add a page here when the dashboard gains one.
PAGES = [
    "/dashboard/",
    "/dashboard/referrals",
    "/dashboard/earnings",
    "/dashboard/earnings?period=last-12-months&kind=commission",
    "/dashboard/performance",
    "/dashboard/performance?view=domains",
    "/dashboard/team",
    "/dashboard/company",
    "/account",  # its e-mail notices
    "/program",
]

# A stacked table's header is hidden on purpose (screen readers still read it): its sort links have
# a visible equivalent on the phone (test_a_table_can_be_sorted_on_a_phone), so they are not counted.
OFF_SCREEN = """() => [...document.querySelectorAll('main a[href], main button, main summary')]
  .filter(el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
  .filter(el => !el.closest('.table-stack thead'))
  .filter(el => !el.closest('details:not([open])') || el.tagName === 'SUMMARY')
  .filter(el => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth + 0.5; })
  .map(el => el.outerHTML.slice(0, 120))"""

UNFOCUSABLE = """() => [...document.querySelectorAll('main a[href], main button, main summary')]
  .filter(el => el.getClientRects().length > 0 && !el.closest('details:not([open])'))
  .filter(el => { el.focus(); return document.activeElement !== el; })
  .map(el => el.outerHTML.slice(0, 120))"""

BROKEN_CODES = """() => [...document.querySelectorAll('main .referral-code')]
  .filter(el => el.getClientRects().length > 0)
  .filter(el => el.getClientRects().length > 1
          || el.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(el).lineHeight === 'normal'
             ? parseFloat(getComputedStyle(el).fontSize) * 1.2 : getComputedStyle(el).lineHeight))
  .map(el => el.textContent)"""


def log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/**")


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    log_in(page, *OWNER)
    return page


def test_every_dashboard_page_fits_a_phone(phone) -> None:
    seen_codes = 0
    for path in PAGES:
        response = phone.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways: {width} px wide"
        assert phone.evaluate(OFF_SCREEN) == [], f"{path}: actions off screen"
        assert phone.evaluate(UNFOCUSABLE) == [], f"{path}: actions that cannot be focused"
        assert phone.evaluate(BROKEN_CODES) == [], f"{path}: codes broken over lines"
        seen_codes += phone.locator("main .referral-code").count()
        assert axe_violations(phone) == [], path
    assert seen_codes > 0, "no referral code was shown: the one-line check checked nothing"


def test_code_actions_are_touch_sized_on_a_phone(phone) -> None:
    phone.goto("/dashboard/referrals")
    copy = phone.get_by_role("button", name="Copy the code").first
    copy.wait_for()
    box = copy.bounding_box()
    assert box is not None and box["height"] >= 44
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    revoke = phone.locator("details.revoke summary").first
    revoke_box = revoke.bounding_box()
    assert revoke_box is not None and revoke_box["height"] >= 44
    assert revoke_box["x"] + revoke_box["width"] <= PHONE["width"]


def test_program_shows_both_levels_on_a_phone(page) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/program")
    premier = page.locator('td[data-level="premier"][data-row="margin"]')
    box = premier.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_table_can_be_sorted_on_a_phone(phone) -> None:
    phone.goto("/dashboard/performance?view=domains")
    phone.get_by_label("Sort by").select_option("last")
    phone.get_by_label("Order").select_option("asc")
    phone.get_by_role("button", name="Sort").click()
    phone.wait_for_url("**sort=last**")
    assert "dir=asc" in phone.url and "view=domains" in phone.url
    header = phone.locator("#performance-table thead th[aria-sort]")
    assert header.get_attribute("aria-sort") == "ascending" and "Last purchase" in header.inner_text()
