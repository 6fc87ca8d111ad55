"""The money path seen from outside: nothing public records money, nothing public shows the partner's share.

Only the billing system, over the signed API, records a purchase (SPEC.md, "The customer's
checkout"). These tests walk every public form an anonymous visitor can post to and check that no
purchase, ledger entry or level change comes of it; go through the whole checkout (the quote, the
test payment page, the return page, the receipt e-mail) looking for the partner's margin or
commission; pay a checkout end to end in-process; and check the test payment page's guards.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.api.signatures import verify as verify_signature
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.services import ask_question
from cloudcodes.auth.models import User
from cloudcodes.billing.models import Checkout, LedgerEntry, LedgerKind, Purchase
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.money import Money
from cloudcodes.partners.models import PartnerLevel, RequirementKind
from cloudcodes.partners.services import add_requirement
from cloudcodes.qualification.requirements import (
    add_business_plan,
    add_campaign,
    add_product_page,
    mark_sales_training,
    verify,
)
from cloudcodes.referrals.services import issue_code, register_domain
from tests.conftest import make_test_app
from tests.factories import StaffFactory, make_partner
from tests.support.api import TEST_SECRET
from tests.support.web import csrf_token, submit

START = "/redeem/"
CONFIRM = "/redeem/confirm"
PAY = "/dev/billing/pay"
PARTNER_NAME = "Acme Cloud Ltd"
OWNER_EMAIL = "olivia@acme-cloud-ltd.example"
CUSTOMER_EMAIL = "it@acme.com"
# 10 seats at $24.00 is $240.00; a Reseller's 15 % of it, $36.00, is the partner's and never the customer's business.
ORDER = {"domain": "acme.com", "product": "CC-ACCESS", "seats": "10", "email": CUSTOMER_EMAIL}
COMMISSION = Money(36_00, "USD")
PRODUCTION_PAYMENT_URL = "https://billing.example/pay"

# What must never be shown to the customer: the margin, the word, and the commission's amount.
FORBIDDEN = {
    "the margin (15 %)": re.compile(r"\b15(?:[.,]0+)?\s*(?:%|percent|per cent)", re.IGNORECASE),
    "the word margin": re.compile(r"margin", re.IGNORECASE),
    "the word commission": re.compile(r"commission", re.IGNORECASE),
    "the commission ($36.00)": re.compile(r"(?<!\d)36[.,]00(?!\d)"),
}


@pytest.fixture
def issued(app) -> SimpleNamespace:
    """A Reseller partner (15 % margin) with acme.com registered and a code issued for it.

    It meets every Premier requirement but the revenue, so one purchase big enough would lift it
    to Premier at once: a level change is one of the things a public page must never cause.
    """
    with app.app_context():
        manager = StaffFactory(email="max@cloudcodes.example", full_name="Max Manager")
        partner = make_partner(PARTNER_NAME, level="reseller", manager=manager, owner_email=OWNER_EMAIL)
        for kind in (RequirementKind.WORKSPACE_RESELLER, RequirementKind.SALES_TEAM, RequirementKind.TECHNICAL_TEAM):
            add_requirement(partner, kind, "declared")
        _db.session.commit()
        for requirement in list(partner.requirements):
            verify(requirement, by=manager)
        today = clock.today()
        mark_sales_training(partner.memberships[0], today, by=manager)
        add_business_plan(partner, year=today.year, commitment=Money(2_500_000, "USD"), summary="Plan", by=manager)
        add_product_page(partner, url="https://acme-cloud-ltd.example/cloudcodes", by=manager)
        add_campaign(partner, name="Webinars", starts_on=today, ends_on=today, by=manager)
        assert [record.level for record in partner.levels] == ["reseller"]  # the revenue is all it lacks
        registration = register_domain(partner, "acme.com", by=None)
        code = issue_code(registration, by=None)
        return SimpleNamespace(partner_id=partner.id, manager_id=manager.id, code=code.code, code_id=code.id)


# --- Reading pages ----------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The forms of a page with the values a browser would send (hidden and text inputs, ticked boxes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._open = {"action": values.get("action") or "", "method": (values.get("method") or "get"), "fields": {}}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and values.get("name"):
            kind = (values.get("type") or "text").lower()
            if kind in ("submit", "button") or (kind in ("checkbox", "radio") and "checked" not in values):
                return
            self._open["fields"][values["name"]] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def form_data(response, action: str) -> dict[str, str]:
    """The fields of the page's one POST form to ``action``, as the browser sends them back."""
    reader = _FormReader()
    reader.feed(response.get_data(as_text=True))
    found = [form for form in reader.forms if form["action"] == action and form["method"].lower() == "post"]
    assert len(found) == 1, f"expected one form posting to {action}, found {len(found)}"
    return found[0]["fields"]


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def local(app, url: str) -> str:
    """A link the portal built from SITE_URL, as a path the test client can follow."""
    assert url.startswith(app.config["SITE_URL"] + "/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def shown(document: str) -> str:
    """What a page or an e-mail says, attributes included; CSS (``margin:``) left out.

    The e-mails' CSS is inlined into ``style`` attributes, so those go as well as style sheets.
    """
    without_styles = re.sub(r"<style\b.*?</style>", "", document, flags=re.DOTALL | re.IGNORECASE)
    without_inline = re.sub(r"""\sstyle\s*=\s*("[^"]*"|'[^']*')""", "", without_styles, flags=re.IGNORECASE)
    return html_lib.unescape(without_inline)


def leaks(document: str, forbidden: dict[str, re.Pattern] = FORBIDDEN) -> list[str]:
    """What of ``forbidden`` the document shows, each with the text around it."""
    content = shown(document)
    return [
        f"{what}: ...{content[max(m.start() - 60, 0) : m.end() + 60]}..."
        for what, pattern in forbidden.items()
        if (m := pattern.search(content))
    ]


# --- The checkout, step by step ----------------------------------------------------------------


def quote(client, **fields):
    """Fill /redeem/ (the order above, with ``fields`` changed) and send it: the confirmation page."""
    token = csrf_token(client.get(START).get_data(as_text=True))
    return client.post(START, data={"csrf_token": token, **ORDER, **fields})


def continue_to_payment(client, confirmation):
    """Press "Continue to payment" on the confirmation page: a 303 to the payment page."""
    assert confirmation.status_code == 200, text(confirmation)
    return client.post(CONFIRM, data=form_data(confirmation, CONFIRM))


def link_parts(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def money_rows(app) -> dict[str, int]:
    """What counts as money or standing: purchases, ledger entries, level records."""
    with app.app_context():
        return {
            model.__name__: _db.session.scalar(select(func.count()).select_from(model))
            for model in (Purchase, LedgerEntry, PartnerLevel)
        }


def count(app, model) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(model))


def receipts(app) -> list[SimpleNamespace]:
    with app.app_context():
        return [
            SimpleNamespace(to=m.to_address, subject=m.subject, text=m.text_body, html=m.html_body)
            for m in _db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "checkout_receipt").order_by(OutboxMessage.id)
            )
        ]


# --- a. No public form records money ----------------------------------------------------------

# Everything else that takes a POST is walked below. Each prefix here is kept out for a reason.
EXCLUDED_PREFIXES = {
    "/admin/": "the staff console: login with two-factor first",
    "/dashboard/": "the partners' pages: login first",
    "/account/": "a logged-in user's own settings",
    "/api/": "the billing system's API: every request signed (tests/integration/test_api_*.py)",
    "/login": "logging in and its two-factor step: they need an account",
    "/logout": "needs a session to end",
    "/reset-password/": "needs the link e-mailed to an account",
    # It plays the billing system, which may record a purchase; it is not served in production
    # (test_the_test_payment_page_is_not_served_in_production_and_refuses_a_link_the_portal_did_not_sign).
    "/dev/billing/": "the test payment page, outside production only",
}
MUST_WALK = {
    "checkout.quote",
    "checkout.confirm",
    "applications.apply",
    "applications.answer",
    "applications.withdraw_application",
}
BIG_ORDER = {"seats": "100000"}  # enough to lift a Reseller to Premier at once, were it ever recorded


def public_post_rules(app) -> list:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "POST" in (rule.methods or ()) and not rule.rule.startswith(tuple(EXCLUDED_PREFIXES))
        ),
        key=lambda rule: rule.rule,
    )


def post_quotes(app, client, issued) -> None:
    # With the code as issued, typed the forgiving way, and with "Buy without a code".
    for code in (issued.code, issued.code.removeprefix("CC-").replace("-", " ").lower()):
        confirmation = quote(client, code=code, **BIG_ORDER)
        assert confirmation.status_code == 200, text(confirmation)
        assert "Confirm your purchase" in text(confirmation) and "$2,400,000.00" in text(confirmation)
    without = quote(client, code=issued.code, without_code="1", **BIG_ORDER)
    assert without.status_code == 200, text(without)
    assert f"Referred by {PARTNER_NAME}" not in text(without)


def post_confirmations(app, client, issued) -> None:
    confirmation = quote(client, code=issued.code, **BIG_ORDER)
    checkouts = count(app, Checkout)
    first = continue_to_payment(client, confirmation)
    assert first.status_code == 303, text(first)
    assert local(app, first.headers["Location"]).startswith(PAY + "?checkout_id=CHK-")
    # Pressed twice: the same checkout, still nothing bought.
    again = continue_to_payment(client, confirmation)
    assert (
        again.status_code == 303
        and link_parts(again.headers["Location"])["checkout_id"]
        == (link_parts(first.headers["Location"])["checkout_id"])
    )
    assert count(app, Checkout) == checkouts + 1
    # Even looking at the payment page and the return page records nothing.
    assert client.get(local(app, first.headers["Location"])).status_code == 200
    assert client.get(local(app, link_parts(first.headers["Location"])["return_url"])).status_code == 200


APPLICATION = {
    "website": "newco.example.com",
    "country": "United Kingdom",
    "contact_name": "Nina Newco",
    "contact_phone": "+44 20 7946 0000",
    "is_workspace_reseller": "y",
    "workspace_reseller_id": "C01abc234",
    "sales_team_size": "4",
    "technical_team_size": "2",
    "expected_customers": "25",
    "heard_from": "customer",
}
PREMIER_EXTRA = {
    "committed_revenue": "30000.00",
    "trained_sales_staff": "2",
    "agrees_to_business_plan": "y",
    "product_page_url": "https://newco.example.com/cloudcodes",
    "marketing_campaign": "A webinar series for our Google Workspace customers in the spring, with CloudCodes.",
}


def apply_as(app, client, company: str, level: str = "reseller") -> str:
    """Send an application; returns the path of its status link (from the confirmation e-mail)."""
    slug = company.lower().replace(" ", "-")
    email = f"nina@{slug}.example.com"
    data = {
        **APPLICATION,
        **(PREMIER_EXTRA if level == "premier" else {}),
        "company_name": company,
        "website": f"{slug}.example.com",
        "contact_email": email,
    }
    response = submit(client, f"/apply/{level}", data)
    assert response.status_code == 303, text(response)
    with app.app_context():
        body = _db.session.scalar(
            select(OutboxMessage.text_body).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc())
        )
    return local(app, re.search(r"(https?://\S+/apply/status/\S+)", body).group(1))


def post_applications(app, client, issued) -> None:
    apply_as(app, client, "Newco Reseller", "reseller")
    apply_as(app, client, "Newco Premier", "premier")


def post_answers(app, client, issued) -> None:
    status = apply_as(app, client, "Newco Answers")
    with app.app_context():
        staff = _db.session.get(User, issued.manager_id)
        application = _db.session.scalar(
            select(PartnerApplication).where(PartnerApplication.company_name == "Newco Answers")
        )
        ask_question(application, "How many Workspace customers do you have today?", by=staff)
    response = submit(client, status + "/answer", {"answer": "About forty, mostly schools."}, page=status)
    assert response.status_code == 303, text(response)


def post_withdrawals(app, client, issued) -> None:
    status = apply_as(app, client, "Newco Withdraws")
    response = submit(client, status + "/withdraw", {"confirm": "y"}, page=status)
    assert response.status_code == 303, text(response)


def post_password_resets(app, client, issued) -> None:
    for email in (OWNER_EMAIL, "nobody@nowhere.example"):
        response = submit(client, "/forgot-password", {"email": email})
        assert response.status_code == 303, text(response)


def post_registration_confirmations(app, client, issued) -> None:
    """The customer's confirmation of a registration, from a real link, and a forged one."""
    from cloudcodes.referrals.models import DomainRegistration
    from cloudcodes.referrals.proof import send_confirmation

    with app.app_context():
        registration = _db.session.scalar(select(DomainRegistration).where(DomainRegistration.domain == "acme.com"))
        send_confirmation(registration, "it@acme.com", partner_name=PARTNER_NAME, by=None)
        body = _db.session.scalars(
            select(OutboxMessage.text_body).where(OutboxMessage.template == "registration_confirm")
        ).one()
    path = local(app, re.search(r"https?://\S+/confirm-registration/\S+", body).group(0))
    page = client.get(path)
    assert client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))}).status_code == 200
    assert client.post(path + "forged", data={}).status_code in (400, 404)


POSTERS = {
    "public.confirm_registration": post_registration_confirmations,
    "checkout.quote": post_quotes,
    "checkout.confirm": post_confirmations,
    "applications.apply": post_applications,
    "applications.answer": post_answers,
    "applications.withdraw_application": post_withdrawals,
    "auth.forgot_password": post_password_resets,
}


def test_no_public_form_lets_an_anonymous_visitor_record_a_purchase_a_ledger_entry_or_a_level_change(
    app, client, issued
):
    rules = public_post_rules(app)
    walked = {rule.endpoint for rule in rules}
    assert walked >= MUST_WALK, f"the walk missed {sorted(MUST_WALK - walked)}"
    unknown = walked - POSTERS.keys()
    assert not unknown, f"new public POST routes {sorted(unknown)}: add how to post to them to POSTERS"

    before = money_rows(app)
    assert before == {"Purchase": 0, "LedgerEntry": 0, "PartnerLevel": 1}  # the partner's first level
    for endpoint in sorted(walked):
        POSTERS[endpoint](app, client, issued)
        assert money_rows(app) == before, f"posting to {endpoint} changed the money tables"
    assert count(app, Checkout) == 1  # "Continue to payment" stored a checkout, and only that
    assert receipts(app) == []

    # The counts would have shown it: the same order paid where the money is taken (the billing
    # system, played by the test payment page) records the purchase, its commission and the upgrade.
    to_payment = continue_to_payment(client, quote(client, code=issued.code, **BIG_ORDER))
    payment_page = client.get(local(app, to_payment.headers["Location"]))
    assert client.post(PAY, data=form_data(payment_page, PAY)).status_code == 303
    assert money_rows(app) == {"Purchase": 1, "LedgerEntry": 1, "PartnerLevel": 2}


# --- b. The partner's share stays the partner's ------------------------------------------------


def test_the_partners_margin_and_commission_appear_nowhere_on_the_customers_way_and_its_name_does(app, client, issued):
    seen: dict[str, str] = {}

    # The form as a partner's link fills it (it lists the products, so the commission's amount,
    # also the Data Loss Prevention price per seat, is not looked for here).
    start = client.get(START, query_string={"code": issued.code, "domain": "acme.com"})
    assert start.status_code == 200
    words = {what: pattern for what, pattern in FORBIDDEN.items() if what != "the commission ($36.00)"}
    assert leaks(start.get_data(as_text=True), words) == []

    confirmation = quote(client, code=issued.code)
    assert f"Referred by {PARTNER_NAME}" in text(confirmation)
    seen["the confirmation"] = confirmation.get_data(as_text=True)

    to_payment = continue_to_payment(client, confirmation)
    assert to_payment.status_code == 303
    seen["the link to the payment page"] = to_payment.headers["Location"]
    payment_page = client.get(local(app, to_payment.headers["Location"]))
    assert payment_page.status_code == 200 and "Pay (test)" in text(payment_page)
    seen["the test payment page"] = payment_page.get_data(as_text=True)

    return_path = local(app, link_parts(to_payment.headers["Location"])["return_url"])
    pending = client.get(return_path)
    assert pending.status_code == 200 and "Your payment is being confirmed" in text(pending)
    seen["the return page, pending"] = pending.get_data(as_text=True)

    paid = client.post(PAY, data=form_data(payment_page, PAY))
    assert paid.status_code == 303, text(paid)
    receipt = client.get(local(app, paid.headers["Location"]))
    assert receipt.status_code == 200 and "Thank you for your purchase" in text(receipt)
    assert PARTNER_NAME in text(receipt)
    seen["the receipt page"] = receipt.get_data(as_text=True)

    [mail] = receipts(app)
    assert mail.to == CUSTOMER_EMAIL
    for part, body in (("subject", mail.subject), ("text", mail.text), ("HTML", mail.html)):
        seen[f"the receipt e-mail's {part}"] = body
    assert PARTNER_NAME in mail.text and PARTNER_NAME in html_lib.unescape(mail.html)

    # What is kept out is real: the purchase earned the partner 15 %, $36.00.
    with app.app_context():
        purchase = _db.session.scalar(select(Purchase))
        assert purchase.margin_pct == 15 and purchase.commission == COMMISSION
    found = {where: leaks(document) for where, document in seen.items()}
    assert {where: problems for where, problems in found.items() if problems} == {}


# --- c. The whole path, in-process ---------------------------------------------------------------


def test_a_checkout_paid_on_the_test_payment_page_is_recorded_once_through_the_api_and_shows_the_receipt(
    app, client, issued
):
    to_payment = continue_to_payment(client, quote(client, code=issued.code))
    assert to_payment.status_code == 303
    link = link_parts(to_payment.headers["Location"])
    checkout_id, return_url = link["checkout_id"], link["return_url"]
    assert re.fullmatch(r"CHK-[0-9A-Z]{26}", checkout_id)
    assert return_url == f"{app.config['SITE_URL']}/redeem/return/{checkout_id}"
    assert money_rows(app) == {"Purchase": 0, "LedgerEntry": 0, "PartnerLevel": 1}

    payment_page = client.get(local(app, to_payment.headers["Location"]))
    assert payment_page.status_code == 200
    page = text(payment_page)
    assert "This is a test payment page." in page and checkout_id in page
    assert "acme.com" in page and "CC-ACCESS" in page and "240.00 USD" in page
    pay_form = form_data(payment_page, PAY)
    assert pay_form["checkout_id"] == checkout_id and pay_form["return_url"] == return_url

    paid = client.post(PAY, data=pay_form)
    assert paid.status_code == 303, text(paid)
    assert paid.headers["Location"] == return_url
    receipt = client.get(local(app, return_url))
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "private, no-store"
    page = text(receipt)
    assert "Thank you for your purchase" in page and "Your payment is being confirmed" not in page
    assert "acme.com" in page and "CloudCodes Access Control" in page and "$240.00" in page
    assert f"{PARTNER_NAME}" in page and f"(referral code {issued.code})" in page

    with app.app_context():
        [purchase] = _db.session.scalars(select(Purchase)).all()
        checkout = _db.session.scalar(select(Checkout).where(Checkout.public_id == checkout_id))
        assert purchase.order_id in page
        assert purchase.source == "checkout"
        assert purchase.checkout_id == checkout.id
        assert purchase.attribution == "code" and purchase.code_check == "ok"
        assert purchase.referral_code_id == issued.code_id
        assert purchase.partner_id == issued.partner_id
        assert purchase.customer_domain == "acme.com" and purchase.seats == 10 and purchase.channel == "direct"
        assert purchase.amount == Money(240_00, "USD")
        assert purchase.commission == COMMISSION
        [entry] = _db.session.scalars(select(LedgerEntry)).all()
        assert entry.kind == LedgerKind.ACCRUAL and entry.payable
        assert entry.purchase_id == purchase.id and entry.partner_id == issued.partner_id
        assert entry.amount == COMMISSION
        assert checkout.status == "paid" and checkout.paid_at is not None
        order_id = purchase.order_id
    [mail] = receipts(app)
    assert order_id in mail.subject and return_url in mail.text

    # "Pay (test)" again, with the same form: the checkout is paid once.
    again = client.post(PAY, data=pay_form)
    assert again.status_code == 422
    assert f"Checkout {checkout_id} is already paid, by order {order_id}." in text(again)
    assert money_rows(app) == {"Purchase": 1, "LedgerEntry": 1, "PartnerLevel": 1}
    assert len(receipts(app)) == 1
    assert "Thank you for your purchase" in text(client.get(local(app, return_url)))


# --- d. The test payment page's guards ----------------------------------------------------------


# Production refuses SQLite (cloudcodes.config.production_refusals), so this one runs on PostgreSQL only.
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_the_test_payment_page_is_not_served_in_production_and_refuses_a_link_the_portal_did_not_sign(
    app, client, issued, database_url, redis_url
):
    production = make_test_app(
        database_url,
        ENV="production",
        BILLING_PAYMENT_URL=PRODUCTION_PAYMENT_URL,
        RATELIMIT_STORAGE_URL=redis_url,
        BROKER_URL=redis_url,
        SMTP_URL="smtp://127.0.0.1:25",  # nothing is sent here
        SITE_URL=app.config["SITE_URL"],
        PAYOUT_ENCRYPTION_KEY="lvTRmN2b8h3nq9cQv8oJ4yq2JmH8s0d3zq8cQx0Zr1E=",
    )
    try:
        assert production.config["ENV"] == "production"
        assert not [rule.rule for rule in production.url_map.iter_rules() if rule.rule.startswith("/dev/")]
        # The walk above leaves out only what production does not serve: the rest is the same there.
        assert {r.endpoint for r in public_post_rules(production)} == {r.endpoint for r in public_post_rules(app)}
        visitor = production.test_client()
        to_payment = continue_to_payment(visitor, quote(visitor, code=issued.code))
        assert to_payment.status_code == 303
        location = to_payment.headers["Location"]
        assert location.startswith(PRODUCTION_PAYMENT_URL + "?checkout_id=CHK-")
        signed = link_parts(location)
        # The billing system can check the link with the webhook secret.
        verify_signature(
            signed["signature"],
            f"{signed['checkout_id']}.{signed['return_url']}".encode(),
            [TEST_SECRET],
            int(signed["signature"].split(",")[0].removeprefix("t=")),
        )
        query = urlencode(signed)
        assert visitor.get(f"{PAY}?{query}").status_code == 404
        assert visitor.post(PAY, data=signed).status_code == 404
    finally:
        with production.app_context():
            _db.session.remove()
            _db.engine.dispose()

    # On the test server: the link as signed works; any part of it changed does not.
    to_payment = continue_to_payment(client, quote(client, code=issued.code))
    link = link_parts(to_payment.headers["Location"])
    genuine = client.get(f"{PAY}?{urlencode(link)}")
    assert genuine.status_code == 200
    pay_form = form_data(genuine, PAY)
    digest = link["signature"][-64:]
    flipped = link["signature"][:-64] + ("0" if digest[0] != "0" else "1") + digest[1:]
    altered = {
        "signature": {**link, "signature": flipped},
        "return address": {**link, "return_url": "https://attacker.example/redeem/return/" + link["checkout_id"]},
        "checkout": {
            **link,
            "checkout_id": link["checkout_id"][:-1] + ("A" if link["checkout_id"][-1] != "A" else "B"),
        },
        "no signature": {key: value for key, value in link.items() if key != "signature"},
    }
    for what, values in altered.items():
        assert client.get(f"{PAY}?{urlencode(values)}").status_code == 400, what
        refused = client.post(PAY, data={**pay_form, "signature": ""} | values)
        assert refused.status_code == 400, what
        assert "Location" not in refused.headers, what
    assert money_rows(app) == {"Purchase": 0, "LedgerEntry": 0, "PartnerLevel": 1}
    with app.app_context():
        assert set(_db.session.scalars(select(Checkout.status))) == {"open"}
    assert receipts(app) == []
