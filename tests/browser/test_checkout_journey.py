"""The customer's checkout in a real browser: /redeem, the confirmation, the test payment page, the receipt.

Runs on the demo data (tests/browser/conftest.py): Acme Cloud has registered northwind-traders.com
and issued it a code. The customer is anonymous; the test payment page plays the billing system.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cloudcodes.billing.models import Checkout, Purchase
from cloudcodes.extensions import db as _db
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

DEMO_DOMAIN = "northwind-traders.com"
DEMO_PARTNER = "Acme Cloud"
PHONE = {"width": 390, "height": 844}
# What the customer never sees: the partner's share of the purchase.
PARTNERS_SHARE = re.compile(r"margin|commission|\b15(?:[.,]0+)?\s*%", re.IGNORECASE)

# Elements of the page that reach past the left or right edge of the window (more than a rounding),
# or whose content is wider than they are and clipped (form fields scroll their own text: left out).
CUT_OFF = """() => [...document.querySelectorAll('#main *')]
  .filter(el => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return false;
    if (box.left < -1 || box.right > window.innerWidth + 1) return true;
    const clips = getComputedStyle(el).overflowX !== 'visible';
    return clips && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.scrollWidth > el.clientWidth + 1;
  })
  .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`)"""


@pytest.fixture(scope="module")
def demo_code(site) -> str:
    """The demo domain's code in force (its registration's newest code not withdrawn)."""
    with site.app.app_context():
        code = _db.session.scalar(
            select(ReferralCode.code)
            .join(DomainRegistration, ReferralCode.registration_id == DomainRegistration.id)
            .where(DomainRegistration.domain == DEMO_DOMAIN, ReferralCode.revoked_at.is_(None))
            .order_by(ReferralCode.id.desc())
        )
    assert code, f"the demo data has no code for {DEMO_DOMAIN}"
    return code


def see_the_price(page, code: str, *, seats: str, email: str) -> None:
    page.goto("/redeem/")
    page.get_by_label("Your domain").fill(DEMO_DOMAIN)
    page.get_by_label("Referral code (optional)").fill(code)
    page.get_by_label("Product", exact=True).select_option("CC-ACCESS")
    page.get_by_label("Seats (users)").fill(seats)
    page.get_by_label("E-mail for your receipt").fill(email)
    page.get_by_role("button", name="See the price").click()
    page.get_by_role("heading", name="Confirm your purchase").wait_for()


def main_text(page) -> str:
    return page.locator("#main").inner_text()


def cut_off(page) -> list[str]:
    return page.evaluate(CUT_OFF)


def fits_the_window(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    assert cut_off(page) == []


def test_a_customer_buys_with_the_partners_code_and_lands_on_the_receipt(page, site, demo_code):
    see_the_price(page, demo_code, seats="25", email="it@northwind-traders.com")
    confirmation = main_text(page)
    assert DEMO_DOMAIN in confirmation and "CloudCodes Access Control" in confirmation
    assert "$600.00" in page.locator("#total").inner_text()  # 25 seats at $24.00
    page.get_by_role("heading", name=f"Referred by {DEMO_PARTNER}").wait_for()
    assert not PARTNERS_SHARE.search(confirmation)
    assert axe_violations(page) == []

    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("heading", name="Pay for your CloudCodes order").wait_for()
    assert page.url.startswith(f"{site.url}/dev/billing/pay?checkout_id=CHK-")
    payment = main_text(page)
    assert "This is a test payment page." in payment
    assert "600.00 USD" in page.locator("#total").inner_text()
    assert not PARTNERS_SHARE.search(payment)
    assert axe_violations(page) == []

    page.get_by_role("button", name="Pay (test)").click()
    page.get_by_role("heading", name="Thank you for your purchase").wait_for()
    assert re.fullmatch(rf"{re.escape(site.url)}/redeem/return/CHK-[0-9A-Z]{{26}}", page.url)
    order_id = page.locator("#order-id").inner_text().strip()
    receipt = main_text(page)
    assert DEMO_PARTNER in receipt and "$600.00" in receipt and DEMO_DOMAIN in receipt
    assert not PARTNERS_SHARE.search(receipt)
    assert axe_violations(page) == []

    checkout_id = page.url.rsplit("/", 1)[1]
    with site.app.app_context():
        purchase = _db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        checkout = _db.session.scalar(select(Checkout).where(Checkout.public_id == checkout_id))
        assert checkout.status == "paid" and purchase.checkout_id == checkout.id
        assert purchase.source == "checkout" and purchase.attribution == "code"
        assert purchase.partner.name == DEMO_PARTNER and purchase.seats == 25
        _db.session.rollback()

    # Back on the receipt later (the address is the customer's key to it): still the receipt.
    page.reload()
    page.get_by_role("heading", name="Thank you for your purchase").wait_for()


def test_on_a_phone_the_checkout_fits_and_continue_to_payment_is_in_reach(page, site, demo_code):
    page.set_viewport_size(PHONE)
    see_the_price(page, demo_code, seats="1000", email="procurement.department@northwind-traders.com")
    fits_the_window(page)
    button = page.get_by_role("button", name="Continue to payment")
    assert button.is_visible()
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert axe_violations(page) == []

    button.click()
    page.get_by_role("heading", name="Pay for your CloudCodes order").wait_for()
    fits_the_window(page)  # the checkout id is long and unbreakable
    pay = page.get_by_role("button", name="Pay (test)")
    assert pay.is_visible()
    assert axe_violations(page) == []

    pay.click()
    page.get_by_role("heading", name="Thank you for your purchase").wait_for()
    fits_the_window(page)
    assert axe_violations(page) == []
