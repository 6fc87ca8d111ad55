"""The partner's customer domains and referral codes, through the pages: /dashboard/referrals."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import MemberRole, Partner
from cloudcodes.partners.services import add_member, create_partner
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain
from tests.factories import StaffFactory, UserFactory
from tests.support.web import csrf_token, login, submit

PAGE = "/dashboard/referrals"
REGISTER = "/dashboard/referrals/registrations"
ALPHA_EMAIL = "olivia@alpha-cloud.example"
BETA_EMAIL = "bruno@beta-systems.example"


@dataclass(frozen=True)
class Partners:
    alpha: int
    beta: int


@pytest.fixture
def partners(app) -> Partners:
    with app.app_context():
        ids = []
        for name, email in (("Alpha Cloud Ltd", ALPHA_EMAIL), ("Beta Systems GmbH", BETA_EMAIL)):
            partner = create_partner(
                name=name,
                website=f"https://{email.partition('@')[2]}",
                country="United Kingdom",
                level="reseller",
                channel_manager=None,
            )
            add_member(partner, UserFactory(email=email), MemberRole.OWNER)
            _db.session.commit()
            ids.append(partner.id)
        return Partners(*ids)


@pytest.fixture
def alpha(app, partners):
    client = app.test_client()
    assert login(client, ALPHA_EMAIL).status_code == 303
    return client


@pytest.fixture
def beta(app, partners):
    client = app.test_client()
    assert login(client, BETA_EMAIL).status_code == 303
    return client


# --- Helpers ----------------------------------------------------------------------------------


def register(client, domain: str, query: str = ""):
    return submit(client, REGISTER + query, {"domain": domain}, page=PAGE)


def act(client, path: str, prefix: str, **fields):
    """POST one of a row's forms: its fields carry the row's prefix (``release-7-confirm``)."""
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    data = {f"{prefix}-csrf_token": token, **{f"{prefix}-{name}": value for name, value in fields.items()}}
    return client.post(path, data=data)


def renew(client, registration_id: int):
    return act(client, f"{REGISTER}/{registration_id}/renew", f"renew-{registration_id}")


def release(client, registration_id: int, confirm: bool = True):
    fields = {"confirm": "y"} if confirm else {}
    return act(client, f"{REGISTER}/{registration_id}/release", f"release-{registration_id}", **fields)


def generate(client, registration_id: int):
    return act(client, f"{REGISTER}/{registration_id}/codes", f"generate-{registration_id}")


def revoke(client, code_id: int, confirm: bool = True):
    fields = {"confirm": "y"} if confirm else {}
    return act(client, f"/dashboard/referrals/codes/{code_id}/revoke", f"revoke-{code_id}", **fields)


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def page_text(client, **params) -> str:
    response = client.get(PAGE, query_string=params)
    assert response.status_code == 200
    return text(response)


def field_error(response, field_id: str = "domain") -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert match, f"no error shown next to {field_id}"
    return html_lib.unescape(match.group(1))


def registration(app, domain: str, partner_id: int | None = None) -> DomainRegistration | None:
    with app.app_context():
        query = select(DomainRegistration).where(DomainRegistration.domain == domain)
        if partner_id is not None:
            query = query.where(DomainRegistration.partner_id == partner_id)
        found = _db.session.scalars(query.order_by(DomainRegistration.id.desc())).first()
        _db.session.expunge_all()
        return found


def codes_of(app, registration_id: int) -> list[ReferralCode]:
    with app.app_context():
        codes = list(
            _db.session.scalars(
                select(ReferralCode).where(ReferralCode.registration_id == registration_id).order_by(ReferralCode.id)
            )
        )
        _db.session.expunge_all()
        return codes


def count(app, model) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(model))


def seed(app, partner_id: int, how_many: int, *, codes_each: int = 1, prefix: str = "shop") -> None:
    """Registrations (``shop1.com``, ...) with codes, made through the services."""
    with app.app_context():
        partner = _db.session.get(Partner, partner_id)
        for number in range(1, how_many + 1):
            made = register_domain(partner, f"{prefix}{number}.com", by=None)
            for _ in range(codes_each):
                issue_code(made, by=None)


def listed_domains(html: str) -> list[str]:
    return re.findall(r'<h3 class="h5 mb-1" id="registration-\d+-heading">\s*([^<\s]+)', html)


# --- Access -----------------------------------------------------------------------------------


def test_the_page_needs_a_login_and_sends_staff_to_the_console(app, client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with app.app_context():
        StaffFactory(email="max@cloudcodes.example")
    staff = app.test_client()
    login(staff, "max@cloudcodes.example")
    response = staff.get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")


def test_a_user_without_a_partner_gets_a_friendly_page_and_cannot_act(app, client):
    with app.app_context():
        UserFactory(email="nobody@partner.example")
    login(client, "nobody@partner.example")
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "not part of a partner organisation" in text(response)
    token = csrf_token(response.get_data(as_text=True))
    assert client.post(REGISTER, data={"csrf_token": token, "domain": "acme.com"}).status_code == 404
    assert count(app, DomainRegistration) == 0


def test_the_dashboard_links_to_the_page(alpha):
    html = alpha.get("/dashboard/").get_data(as_text=True)
    assert f'href="{PAGE}"' in html and "Domains and codes" in html


def test_a_new_partner_sees_the_register_form_and_an_empty_state(alpha):
    html = page_text(alpha)
    assert '<label class="form-label" for="domain">Customer domain</label>' in html
    assert "Your customer's domain, e.g. example.com; a web address works too" in html
    assert "You have not registered a customer domain yet: register one above." in html
    assert "js/copy.js" in html


# --- Registering ------------------------------------------------------------------------------


def test_a_domain_given_as_a_url_is_registered_as_its_registrable_domain_for_90_days(app, alpha, partners):
    response = register(alpha, "https://www.Acme.co.uk/x")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(PAGE)
    html = text(alpha.get(response.headers["Location"]))
    assert "acme.co.uk is registered to you until" in html
    assert listed_domains(html) == ["acme.co.uk"]
    assert "(in 90 days)" in html
    assert "Active" in html
    made = registration(app, "acme.co.uk", partners.alpha)
    assert made.expires_at - made.registered_at == timedelta(days=90)
    assert made.status == "active"


def test_a_unicode_domain_is_stored_in_ascii_and_shown_in_unicode(app, alpha):
    assert register(alpha, "Bücher.DE").status_code == 303
    html = page_text(alpha)
    assert listed_domains(html) == ["bücher.de"]
    assert "(xn--bcher-kva.de)" in html
    assert registration(app, "xn--bcher-kva.de") is not None


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("192.0.2.1", "is an IP address, not a domain"),
        ("co.uk", "is a public suffix, not a customer's domain"),
        ("", "Enter the customer's domain, such as example.com."),
        ("intranet.local", "does not end in a known top-level domain"),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_stored(app, alpha, typed, reason):
    response = register(alpha, typed)
    assert response.status_code == 400
    assert reason in field_error(response)
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    if typed:
        assert f'value="{typed}"' in html  # what was typed is kept
    assert count(app, DomainRegistration) == 0


def test_a_domain_another_partner_holds_is_refused_without_naming_it(app, alpha, beta, partners):
    assert register(alpha, "acme.co.uk").status_code == 303
    response = register(beta, "https://mail.acme.co.uk")
    assert response.status_code == 409
    assert "already registered by another partner" in field_error(response)
    assert "Alpha" not in text(response)
    assert registration(app, "acme.co.uk").partner_id == partners.alpha
    assert count(app, DomainRegistration) == 1


def test_registering_ones_own_domain_again_says_it_is_already_yours(app, alpha):
    assert register(alpha, "acme.co.uk").status_code == 303
    response = register(alpha, "ACME.co.uk.")
    assert response.status_code == 400
    assert "You registered acme.co.uk already" in field_error(response)
    assert count(app, DomainRegistration) == 1


# --- Codes ------------------------------------------------------------------------------------


def test_a_generated_code_comes_with_a_copy_button_and_a_message_for_the_customer(app, alpha, partners):
    register(alpha, "bücher.de")
    made = registration(app, "xn--bcher-kva.de")
    response = generate(alpha, made.id)
    assert response.status_code == 303
    [code] = codes_of(app, made.id)
    assert response.headers["Location"].endswith(f"#code-{code.id}")
    html = text(alpha.get(response.headers["Location"]))
    assert f"New referral code {code.code} for bücher.de" in html
    assert f'data-copy="{code.code}"' in html
    assert f'id="copy-status-{code.id}" role="status" aria-live="polite"' in html
    message = re.search(rf'<textarea[^>]*id="message-{code.id}"[^>]*>([^<]*)</textarea>', html).group(1)
    assert code.code in message
    assert "bücher.de" in message
    assert "http://127.0.0.1:5000/redeem" in message
    assert f"valid until {made.expires_at.day} {made.expires_at:%B %Y}" in message
    assert "Valid while your registration is active, until" in html and "renew before then" in html


def test_revoking_a_code_needs_the_confirmation_and_keeps_it_listed(app, alpha):
    register(alpha, "acme.co.uk")
    made = registration(app, "acme.co.uk")
    generate(alpha, made.id)
    [code] = codes_of(app, made.id)

    refused = revoke(alpha, code.id, confirm=False)
    assert refused.status_code == 400
    assert "Tick the box to confirm that you withdraw this code." in field_error(refused, f"revoke-{code.id}-confirm")
    assert codes_of(app, made.id)[0].revoked_at is None

    response = revoke(alpha, code.id)
    assert response.status_code == 303
    assert codes_of(app, made.id)[0].revoked_at is not None
    html = text(alpha.get(response.headers["Location"]))
    assert f"Code {code.code} is revoked" in html
    row = re.search(rf'<tr id="code-{code.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Revoked" in row
    assert "data-copy" not in row  # nothing to share any more

    again = revoke(alpha, code.id)  # from a page left open: a warning, nothing changes
    assert again.status_code == 303
    assert "This code is already revoked." in text(alpha.get(again.headers["Location"]))


def test_renewing_restarts_the_lifetime(app, alpha):
    register(alpha, "acme.co.uk")
    before = registration(app, "acme.co.uk")
    # Renewing opens in the last 30 days: from day 60 of 90.
    with time_machine.travel(before.registered_at + timedelta(days=65), tick=False):
        login(alpha, ALPHA_EMAIL)
        response = renew(alpha, before.id)
        assert response.status_code == 303
        after = registration(app, "acme.co.uk")
        assert after.expires_at == clock.now() + timedelta(days=90)
        assert after.expires_at - before.expires_at == timedelta(days=65)
        assert after.renewed_at is not None
        html = text(alpha.get(response.headers["Location"]))
        assert "acme.co.uk is renewed: it now runs until" in html
        assert "(in 90 days)" in html


def test_a_registration_close_to_its_end_says_so(app, alpha):
    register(alpha, "acme.co.uk")
    made = registration(app, "acme.co.uk")
    # Flask's session cookie is signed for 31 days at most: after longer journeys, log in again.
    with time_machine.travel(made.registered_at + timedelta(days=87), tick=False):
        login(alpha, ALPHA_EMAIL)
        assert "Ends in 3 days" in page_text(alpha)
    with time_machine.travel(made.registered_at + timedelta(days=91), tick=False):
        html = page_text(alpha)
        assert "Expired" in html and "Renew for" not in html and "Generate a referral code" not in html


def test_releasing_needs_the_confirmation_ends_the_codes_and_frees_the_domain(app, alpha, beta, partners):
    register(alpha, "acme.co.uk")
    made = registration(app, "acme.co.uk")
    generate(alpha, made.id)
    [code] = codes_of(app, made.id)

    refused = release(alpha, made.id, confirm=False)
    assert refused.status_code == 400
    assert "Tick the box to confirm" in field_error(refused, f"release-{made.id}-confirm")
    assert registration(app, "acme.co.uk").status == "active"

    response = release(alpha, made.id)
    assert response.status_code == 303
    assert registration(app, "acme.co.uk", partners.alpha).status == "released"
    html = page_text(alpha, state="ended")
    assert "acme.co.uk is released" in html
    assert listed_domains(html) == ["acme.co.uk"]
    assert "Released" in html
    row = re.search(rf'<tr id="code-{code.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Expired" in row
    assert listed_domains(page_text(alpha, state="active")) == []

    assert register(beta, "acme.co.uk").status_code == 303
    assert registration(app, "acme.co.uk", partners.beta).status == "active"


def test_acting_on_an_ended_registration_warns_instead_of_failing(app, alpha):
    register(alpha, "acme.co.uk")
    made = registration(app, "acme.co.uk")
    release(alpha, made.id)
    response = generate(alpha, made.id)
    assert response.status_code == 303
    assert "This registration has ended" in page_text(alpha)
    assert codes_of(app, made.id) == []


# --- Object-level access ----------------------------------------------------------------------


def test_another_partners_domains_and_codes_are_not_found(app, alpha, beta):
    register(alpha, "acme.co.uk")
    made = registration(app, "acme.co.uk")
    generate(alpha, made.id)
    [code] = codes_of(app, made.id)

    assert renew(beta, made.id).status_code == 404
    assert release(beta, made.id).status_code == 404
    assert generate(beta, made.id).status_code == 404
    assert revoke(beta, code.id).status_code == 404
    assert revoke(beta, 999_999).status_code == 404  # the same answer as for an id that does not exist

    assert registration(app, "acme.co.uk").status == "active"
    assert codes_of(app, made.id)[0].revoked_at is None
    assert len(codes_of(app, made.id)) == 1
    for params in ({}, {"state": "ended"}):
        html = page_text(beta, **params)
        assert "acme.co.uk" not in html and code.code not in html
    for term in ("acme", code.code):  # a search names the term in its own box, and finds nothing
        html = page_text(beta, q=term)
        assert listed_domains(html) == [] and "data-copy" not in html


# --- Search, filters and pages ----------------------------------------------------------------


def test_search_by_domain_and_by_code(app, alpha, partners):
    for domain in ("acme.co.uk", "bücher.de", "globex.com"):
        register(alpha, domain)
    globex = registration(app, "globex.com")
    generate(alpha, globex.id)
    [code] = codes_of(app, globex.id)

    assert listed_domains(page_text(alpha, q="ACME")) == ["acme.co.uk"]
    assert listed_domains(page_text(alpha, q="https://www.Bücher.de/shop")) == ["bücher.de"]
    assert listed_domains(page_text(alpha, q="bücher")) == ["bücher.de"]
    assert listed_domains(page_text(alpha, q=code.code.lower())) == ["globex.com"]
    assert listed_domains(page_text(alpha, q=code.code[3:12].replace("-", " "))) == ["globex.com"]
    html = page_text(alpha, q="100%_nothing")
    assert listed_domains(html) == []
    assert "No registrations match" in html


def test_the_state_filter(app, alpha):
    for domain in ("acme.co.uk", "globex.com"):
        register(alpha, domain)
    release(alpha, registration(app, "globex.com").id)
    assert sorted(listed_domains(page_text(alpha))) == ["acme.co.uk", "globex.com"]
    assert listed_domains(page_text(alpha, state="active")) == ["acme.co.uk"]
    assert listed_domains(page_text(alpha, state="ended")) == ["globex.com"]
    assert sorted(listed_domains(page_text(alpha, state="nonsense"))) == ["acme.co.uk", "globex.com"]


def test_registrations_come_20_to_a_page_and_the_links_keep_the_filters(app, alpha, partners):
    seed(app, partners.alpha, 25, codes_each=0)
    first = alpha.get(PAGE, query_string={"state": "active", "q": "shop"}).get_data(as_text=True)
    assert len(listed_domains(first)) == 20
    assert listed_domains(first)[0] == "shop25.com"  # newest first
    assert "25 registrations match, page 1 of 2." in html_lib.unescape(first)
    next_link = re.search(r'href="([^"]*page=2[^"]*)"', first).group(1)
    next_link = html_lib.unescape(next_link)
    assert "state=active" in next_link and "q=shop" in next_link
    second = alpha.get(next_link).get_data(as_text=True)
    assert listed_domains(second) == [f"shop{n}.com" for n in range(5, 0, -1)]
    # An action on the second page comes back to it.
    assert '/codes?q=shop&amp;state=active&amp;page=2"' in second
    shop1 = registration(app, "shop1.com")
    token = csrf_token(second)
    response = alpha.post(
        f"{REGISTER}/{shop1.id}/codes?q=shop&state=active&page=2", data={f"generate-{shop1.id}-csrf_token": token}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "q=shop" in location and "state=active" in location and "page=2" in location


def test_the_number_of_queries_does_not_grow_with_the_registrations(app, alpha, beta, partners, count_queries):
    seed(app, partners.alpha, 3, codes_each=2)
    seed(app, partners.beta, 25, codes_each=2, prefix="store")
    with count_queries() as few:
        assert alpha.get(PAGE).status_code == 200
    with count_queries() as many:
        assert beta.get(PAGE).status_code == 200
    assert len(listed_domains(beta.get(PAGE).get_data(as_text=True))) == 20
    assert few.count == many.count, many.statements
    assert many.count <= 10, many.statements
