"""The customer's checkout, through the pages: /redeem, the confirmation, the test payment page, the return page.

Nothing is bought on the portal itself: "Continue to payment" stores a checkout, and only the
billing system's report (here the built-in test payment page, through the real API) records the
purchase.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.billing.models import Checkout, CheckoutStatus, Product, Purchase
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.money import Money
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.codes import ALPHABET, generate_code
from cloudcodes.referrals.models import ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain, revoke_code
from tests.support.checkout import (
    CONFIRM,
    ORDER,
    START,
    buy,
    checkout_id_of,
    confirm_data,
    continue_to_payment,
    local,
    pay,
    quote,
    text,
)
from tests.support.web import csrf_token

PARTNER_NAME = "Acme Cloud Ltd"


@pytest.fixture
def issued(app) -> SimpleNamespace:
    """A reseller partner with acme.com and other.com registered, and a code for each."""
    with app.app_context():
        partner = create_partner(
            name=PARTNER_NAME,
            website="https://acme-cloud.example.com",
            country="United Kingdom",
            level="reseller",
            channel_manager=None,
        )
        _db.session.commit()
        code = issue_code(register_domain(partner, "acme.com", by=None), by=None)
        other = issue_code(register_domain(partner, "other.com", by=None), by=None)
        return SimpleNamespace(partner_id=partner.id, code=code.code, code_id=code.id, other_code=other.code)


# --- Helpers ----------------------------------------------------------------------------------


def field_error(response, name: str) -> str:
    match = re.search(rf'<div id="{name}-error" class="invalid-feedback d-block">(.*?)</div>', text(response), re.S)
    assert match, f"no error shown next to {name}"
    return match.group(1).strip()


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    assert match, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html_lib.unescape(value.group(1)) if value else None


def purchases(app) -> list[Purchase]:
    with app.app_context():
        found = list(_db.session.scalars(select(Purchase).order_by(Purchase.id)))
        for purchase in found:
            _ = purchase.partner, purchase.product
        _db.session.expunge_all()
        return found


def purchase_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(Purchase))


def checkout_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(Checkout))


def checkout_status(app, checkout_id: str) -> CheckoutStatus:
    with app.app_context():
        return _db.session.scalar(select(Checkout.status).where(Checkout.public_id == checkout_id))


def typo_of(code: str) -> str:
    """The code with one symbol changed: the check symbol catches it."""
    last = code[-1]
    return code[:-1] + next(symbol for symbol in ALPHABET if symbol != last)


# --- The form ---------------------------------------------------------------------------------


def test_the_form_has_a_visible_label_and_help_for_every_field_and_lists_the_products(client):
    response = client.get(START)
    assert response.status_code == 200
    page = text(response)
    for name, label in (
        ("domain", "Your domain"),
        ("code", "Referral code (optional)"),
        ("product", "Product"),
        ("seats", "Seats (users)"),
        ("email", "E-mail for your receipt"),
    ):
        assert re.search(rf'<label class="form-label" for="{name}">{re.escape(label)}</label>', page), name
    assert "Your Google Workspace domain, e.g. example.com" in page
    assert "From your CloudCodes partner, like CC-7K3Q-9M2P-XW43. Leave empty to buy without one." in page
    assert '<option value="CC-ACCESS">CloudCodes Access Control: $24.00 per user per year</option>' in page
    assert "CloudCodes Data Loss Prevention: $36.00 per user per year" in page
    assert 'name="csrf_token"' in page
    assert client.get("/redeem").status_code == 308  # the address in SPEC.md leads to the page


def test_a_partners_link_fills_in_the_code_and_the_domain(app, client, issued):
    page = text(client.get(START, query_string={"code": issued.code, "domain": "https://Mail.Acme.com/x"}))
    assert input_value(page, "code") == issued.code
    assert input_value(page, "domain") == "acme.com"

    # The link in the partner's message to the customer leads there, with its own code and domain.
    from cloudcodes.dashboard.referrals import redeem_url

    with app.test_request_context():
        link = redeem_url(issued.code, "xn--bcher-kva.de")
    assert link.startswith("http://127.0.0.1:5000/redeem/?")
    page = text(client.get(link.removeprefix("http://127.0.0.1:5000")))
    assert input_value(page, "code") == issued.code
    assert input_value(page, "domain") == "bücher.de"


def test_every_page_links_to_the_checkout_in_its_footer(client):
    assert '<a href="/redeem/">Redeem a referral code</a>' in text(client.get("/"))


def test_the_form_needs_its_csrf_token(client):
    response = client.post(START, data=ORDER)
    assert response.status_code == 400
    assert "Form expired" in text(response)


# --- A good code ------------------------------------------------------------------------------


def test_a_good_code_shows_the_price_and_the_partner_then_only_the_payment_records_the_purchase(app, client, issued):
    # Typed the forgiving way: lower case, spaces, no prefix.
    typed = issued.code.removeprefix("CC-").replace("-", " ").lower()
    confirmation = quote(client, code=typed)
    assert confirmation.status_code == 200, text(confirmation)
    page = text(confirmation)
    assert "Confirm your purchase" in page
    assert "CloudCodes Access Control" in page
    assert "$24.00 per user per year" in page
    assert "$240.00" in page
    assert f"Referred by {PARTNER_NAME}" in page
    assert f'Referral code <span class="font-monospace">{issued.code}</span>' in page
    assert "buyer@acme.com" in page
    # Who referred the customer, never what the partner earns.
    assert "15 %" not in page and "$36.00" not in page and "margin" not in page
    assert "Continue to payment" in page
    change = re.search(r'<a href="(/redeem/\?[^"]+)">Change</a>', page).group(1)
    assert purchase_count(app) == checkout_count(app) == 0  # nothing is stored before "Continue"

    back = text(client.get(html_lib.unescape(change)))
    assert input_value(back, "domain") == "acme.com" and input_value(back, "code") == issued.code
    assert input_value(back, "seats") == "10" and input_value(back, "email") == "buyer@acme.com"
    assert '<option selected value="CC-ACCESS">' in back

    redirect = client.post(CONFIRM, data=confirm_data(confirmation))
    checkout_id = checkout_id_of(redirect)
    assert redirect.headers["Location"].startswith("http://127.0.0.1:5000/dev/billing/pay?checkout_id=CHK-")
    assert re.fullmatch(r"CHK-[0-9A-HJKMNP-TV-Z]{26}", checkout_id)
    # The checkout is stored, open for 24 hours; no purchase, no ledger entry until the billing system reports.
    assert checkout_status(app, checkout_id) == CheckoutStatus.OPEN
    assert purchase_count(app) == 0
    pending = client.get(f"/redeem/return/{checkout_id}")
    assert pending.status_code == 200
    assert "Your payment is being confirmed" in text(pending)
    assert '<meta http-equiv="refresh" content="5">' in pending.get_data(as_text=True)

    paid = pay(client, redirect)
    assert paid.status_code == 303
    receipt_path = local(paid.headers["Location"])
    assert receipt_path == f"/redeem/return/{checkout_id}"
    assert checkout_status(app, checkout_id) == CheckoutStatus.PAID

    [purchase] = purchases(app)
    assert purchase.channel == "direct"
    assert purchase.source == "checkout"
    assert purchase.attribution == "code"
    assert purchase.code_check == "ok"
    assert purchase.partner_id == issued.partner_id
    assert purchase.customer_domain == "acme.com"
    assert purchase.seats == 10
    assert purchase.amount == Money(240_00, "USD")
    assert purchase.commission == Money(36_00, "USD")

    receipt = client.get(receipt_path)
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "private, no-store"
    assert receipt.headers["X-Robots-Tag"] == "noindex"
    page = text(receipt)
    assert "Thank you for your purchase" in page
    assert purchase.order_id in page
    assert "acme.com" in page and "CloudCodes Access Control" in page and "$240.00" in page
    assert f"{PARTNER_NAME}" in page and f"(referral code {issued.code})" in page
    assert f"{purchase.purchased_at.day} {purchase.purchased_at:%b %Y}" in page  # no leading zero
    assert "$36.00" not in page and "15 %" not in page

    # The receipt is also e-mailed to the address the customer gave.
    with app.app_context():
        [mail] = _db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "buyer@acme.com"))
        assert purchase.order_id in mail.subject
        assert f"http://127.0.0.1:5000{receipt_path}" in mail.text_body
        assert "$240.00" in mail.text_body and PARTNER_NAME in mail.text_body and "$36.00" not in mail.text_body


def test_a_return_address_that_was_not_issued_is_not_found(client):
    assert client.get("/redeem/return/CHK-" + "0" * 26).status_code == 404
    assert client.get("/redeem/return/not-a-checkout").status_code == 404
    assert client.get("/redeem/receipt/1").status_code == 404  # the old receipt address is gone


def test_an_open_checkout_expires_after_24_hours_and_earns_nothing(app, client, issued):
    redirect = continue_to_payment(client, code=issued.code)
    checkout_id = checkout_id_of(redirect)
    with time_machine.travel(clock.now() + timedelta(hours=25), tick=False):
        expired = client.get(f"/redeem/return/{checkout_id}")
        assert expired.status_code == 410
        assert "This checkout has expired" in text(expired)
        result = app.test_cli_runner().invoke(args=["checkouts", "expire"], catch_exceptions=False)
        assert result.exit_code == 0 and "Expired 1 open checkout older than 24 hours." in result.output
        again = app.test_cli_runner().invoke(args=["checkouts", "expire"], catch_exceptions=False)
        assert "Expired 0 open checkouts" in again.output
        assert checkout_status(app, checkout_id) == CheckoutStatus.EXPIRED
        # The billing system is told it is gone; its payment page cannot pay it.
        page = client.get(local(redirect.headers["Location"]))
        assert page.status_code == 400  # the link itself is older than five minutes
    assert purchase_count(app) == 0


def test_an_email_address_that_cannot_take_the_receipt_is_answered_next_to_it(app, client):
    response = quote(client, email="not an address")
    assert response.status_code == 400
    assert "e-mail address for your receipt" in field_error(response, "email")
    assert quote(client, email=None).status_code == 400
    assert checkout_count(app) == 0


# --- Bad codes --------------------------------------------------------------------------------

BAD_CODES = {
    "typo": "This code has a typo: check it against the one your partner gave you.",
    "unknown": "We do not know this code. Check it with the partner who gave it to you.",
    "revoked": "This code has been withdrawn. Ask your partner for a new one.",
    "other_domain": "This code was issued for another domain, not acme.com. "
    "Use the code your partner made for your own domain.",
    "short": "A referral code has 12 characters after CC- (this one has 8), like CC-7K3Q-9M2P-XW43",
    "garbage": "'!' cannot appear in a referral code",
}


def bad_code(app, issued, kind: str) -> str:
    if kind == "typo":
        return typo_of(issued.code)
    if kind == "unknown":
        return generate_code()
    if kind == "revoked":
        with app.app_context():
            revoke_code(_db.session.get(ReferralCode, issued.code_id), by=None)
        return issued.code
    if kind == "other_domain":
        return issued.other_code
    if kind == "short":
        return issued.code[:12]
    return "hello!"


@pytest.mark.parametrize("kind", list(BAD_CODES))
def test_a_code_that_does_not_hold_says_why_records_nothing_and_the_customer_can_buy_without_it(
    app, client, issued, kind
):
    code = bad_code(app, issued, kind)
    response = quote(client, code=code)
    assert response.status_code == 400
    assert BAD_CODES[kind] in field_error(response, "code")
    page = text(response)
    assert input_value(page, "code") == code  # what was typed stays
    assert input_value(page, "domain") == "acme.com" and input_value(page, "seats") == "10"
    assert '<button type="submit" name="without_code" value="1"' in page
    assert "Buy without a code" in page
    assert purchase_count(app) == 0

    # "Buy without a code" sends the same form without the code.
    confirmation = quote(client, code=code, without_code="1")
    assert confirmation.status_code == 200, text(confirmation)
    assert "Referred by" not in text(confirmation)
    assert pay(client, client.post(CONFIRM, data=confirm_data(confirmation))).status_code == 303
    [purchase] = purchases(app)
    # acme.com is registered by the partner: without a code, the registration attributes it.
    assert purchase.attribution == "registration"
    assert purchase.partner_id == issued.partner_id
    assert purchase.referral_code_text is None
    assert purchase.commission == Money(36_00, "USD")


def test_an_expired_code_is_refused_and_buying_without_it_is_unattributed(app, client, issued):
    with time_machine.travel(clock.now() + timedelta(days=91), tick=False):
        response = quote(client, code=issued.code)
        assert response.status_code == 400
        assert "This code for acme.com has expired. Ask your partner for a new one." in field_error(response, "code")
        assert purchase_count(app) == 0

        buy(client, code=issued.code, without_code="1")
    [purchase] = purchases(app)
    # The registration ran out with the code, and there is no earlier purchase: nobody is credited.
    assert purchase.attribution == "none"
    assert purchase.partner_id is None and purchase.commission is None


# --- No code ------------------------------------------------------------------------------------


def test_without_a_code_an_unregistered_domain_buys_unattributed(app, client, issued):
    confirmation = quote(client, domain="Globex.COM", code="", seats="3", product="CC-DLP")
    assert confirmation.status_code == 200
    page = text(confirmation)
    assert "globex.com" in page and "$108.00" in page and "$36.00 per user per year" in page
    assert "Referred by" not in page and "partner margin" not in page

    paid = pay(client, client.post(CONFIRM, data=confirm_data(confirmation)))
    assert paid.status_code == 303
    [purchase] = purchases(app)
    assert purchase.attribution == "none"
    assert purchase.partner_id is None and purchase.commission is None
    assert purchase.customer_domain == "globex.com"
    assert purchase.source == "checkout" and purchase.channel == "direct"

    receipt = text(client.get(local(paid.headers["Location"])))
    assert purchase.order_id in receipt and "globex.com" in receipt and "$108.00" in receipt
    assert "Your CloudCodes partner" not in receipt


def test_an_international_domain_is_shown_as_people_write_it(app, client):
    confirmation = quote(client, domain="BÜCHER.de", code=None)
    assert confirmation.status_code == 200
    assert "bücher.de" in text(confirmation)
    pay(client, client.post(CONFIRM, data=confirm_data(confirmation)))
    [purchase] = purchases(app)
    assert purchase.customer_domain == "xn--bcher-kva.de"


# --- Other fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"domain": "co.uk"}, "domain", "co.uk"),
        ({"domain": "192.0.2.1"}, "domain", "IP address"),
        ({"domain": ""}, "domain", "Enter your Google Workspace domain, such as example.com."),
        ({"product": "CC-NOPE"}, "product", "Choose one of the products listed."),
        ({"product": ""}, "product", "Choose a product."),
        ({"seats": "0"}, "seats", "Enter between 1 and 100,000 seats."),
        ({"seats": "100001"}, "seats", "Enter between 1 and 100,000 seats."),
        ({"seats": "ten"}, "seats", "Enter the number of seats (users) as a whole number, such as 25."),
        ({"seats": None}, "seats", "Enter the number of seats (users) as a whole number, such as 25."),
    ],
)
def test_a_field_that_cannot_be_used_is_answered_next_to_it(app, client, fields, field, message):
    response = quote(client, **fields)
    assert response.status_code == 400
    assert message in field_error(response, field)
    page = text(response)
    assert f'<a href="#{field}" class="alert-link">' in page  # and in the summary above the form
    assert 'aria-invalid="true"' in page
    assert "Buy without a code" not in page  # offered only when a code was refused
    assert purchase_count(app) == 0


def test_the_domain_error_explains_a_public_suffix_and_an_ip_address(client):
    suffix = field_error(quote(client, domain="co.uk"), "domain")
    address = field_error(quote(client, domain="192.0.2.1"), "domain")
    assert suffix and address and suffix != address


# --- The confirmation ---------------------------------------------------------------------------


def test_continuing_twice_opens_one_checkout_and_paying_twice_records_one_purchase(app, client, issued):
    confirmation = quote(client, code=issued.code)
    data = confirm_data(confirmation)
    first = client.post(CONFIRM, data=data)
    second = client.post(CONFIRM, data=data)
    assert checkout_id_of(first) == checkout_id_of(second)
    assert checkout_count(app) == 1
    assert pay(client, first).status_code == 303
    # The payment page knows it is paid and offers no second payment.
    again = client.get(local(second.headers["Location"]))
    assert again.status_code == 200
    assert "This checkout is paid" in text(again) and "Pay (test)" not in text(again)
    [purchase] = purchases(app)
    assert purchase.attribution == "code"

    # A second quote is a second checkout, and a second purchase once paid.
    buy(client, code=issued.code)
    assert purchase_count(app) == 2 and checkout_count(app) == 2


def test_a_code_revoked_after_the_checkout_is_recorded_with_its_reason(app, client, issued):
    redirect = continue_to_payment(client, code=issued.code)
    with app.app_context():
        revoke_code(_db.session.get(ReferralCode, issued.code_id), by=None)
    assert pay(client, redirect).status_code == 303
    [purchase] = purchases(app)
    # Attributed as it stands on the purchase date: the code no longer holds, the registration does.
    assert purchase.code_check == "revoked"
    assert purchase.attribution == "registration" and purchase.partner_id == issued.partner_id
    assert purchase.attribution_note.startswith("Code not used (revoked).")


def test_a_tampered_confirmation_records_nothing(app, client, issued):
    data = confirm_data(quote(client, code=issued.code))
    token = data["token"]
    position = len(token) // 3
    data["token"] = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    response = client.post(CONFIRM, data=data)
    assert response.status_code == 400
    page = text(response)
    assert "This confirmation is not valid. Start again." in page
    assert input_value(page, "domain") == "acme.com" and input_value(page, "code") == issued.code
    assert client.post(CONFIRM, data={"csrf_token": data["csrf_token"]}).status_code == 400
    assert purchase_count(app) == checkout_count(app) == 0


def test_a_confirmation_older_than_30_minutes_must_be_quoted_again(app, client, issued):
    data = confirm_data(quote(client, code=issued.code))
    with time_machine.travel(clock.now() + timedelta(minutes=31), tick=False):
        response = client.post(CONFIRM, data=data)
    assert response.status_code == 400
    assert "This quote is more than 30 minutes old. Start again to see the current price." in text(response)
    assert purchase_count(app) == checkout_count(app) == 0


def test_a_confirmation_resent_after_30_minutes_still_finds_its_checkout(app, client, issued):
    data = confirm_data(quote(client, code=issued.code))
    first = client.post(CONFIRM, data=data)
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        again = client.post(CONFIRM, data=data)
    assert checkout_id_of(first) == checkout_id_of(again)
    assert checkout_count(app) == 1 and purchase_count(app) == 0


def test_a_price_changed_since_the_quote_is_shown_again_before_anything_is_recorded(app, client, issued):
    data = confirm_data(quote(client, code=issued.code))
    with app.app_context():
        product = _db.session.scalar(select(Product).where(Product.sku == "CC-ACCESS"))
        product.price_per_seat = Money(2500, "USD")
        _db.session.commit()
    response = client.post(CONFIRM, data=data)
    assert response.status_code == 400
    assert "The price has changed since you saw it" in text(response)
    assert purchase_count(app) == checkout_count(app) == 0


def test_a_code_revoked_between_the_quote_and_the_confirmation_is_refused(app, client, issued):
    data = confirm_data(quote(client, code=issued.code))
    with app.app_context():
        revoke_code(_db.session.get(ReferralCode, issued.code_id), by=None)
    response = client.post(CONFIRM, data=data)
    assert response.status_code == 400
    assert "This code has been withdrawn" in field_error(response, "code")
    assert "Buy without a code" in text(response)
    assert purchase_count(app) == checkout_count(app) == 0


# --- Rate limit ---------------------------------------------------------------------------------


def test_the_eleventh_code_check_in_a_minute_is_refused_but_buying_without_a_code_is_not(app, client, issued):
    token = csrf_token(client.get(START).get_data(as_text=True))
    for _ in range(10):
        response = client.post(START, data={"csrf_token": token, **ORDER, "code": generate_code()})
        assert response.status_code == 400
    response = client.post(START, data={"csrf_token": token, **ORDER, "code": issued.code})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0

    # Another address has its own allowance; buying without a code is no code check.
    other = app.test_client()
    token_other = csrf_token(other.get(START, environ_base={"REMOTE_ADDR": "192.0.2.7"}).get_data(as_text=True))
    response = other.post(
        START, data={"csrf_token": token_other, **ORDER, "code": issued.code}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert response.status_code == 200
    assert client.post(START, data={"csrf_token": token, **ORDER}).status_code == 200
    assert client.post(START, data={"csrf_token": token, **ORDER, "code": "x", "without_code": "1"}).status_code == 200


def test_the_twenty_first_quote_in_a_minute_is_refused_with_what_was_typed_kept(app, client):
    token = csrf_token(client.get(START).get_data(as_text=True))
    order = {**ORDER, "domain": "globex.com"}
    for _ in range(20):
        assert client.post(START, data={"csrf_token": token, **order}).status_code == 200
    response = client.post(START, data={"csrf_token": token, **order, "seats": "12"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    page = text(response)
    assert "Too many tries from your network" in page and "What you typed is kept below" in page
    assert input_value(page, "domain") == "globex.com" and input_value(page, "seats") == "12"
    assert input_value(page, "email") == "buyer@acme.com"
    assert checkout_count(app) == 0
