"""Random text into every public and partner form and every console search: no answer is a 5xx.

The forms are not listed by hand: each example reads the pages as a browser would, finds every
form on them (its action, its fields, the options of its selects) and posts hostile text into it:
NUL and other control characters, bidi overrides, line separators, very long strings, SQL and
markup. A wrong input may be refused (400, 404, 410, 422, 429...), never answered with a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudcodes import clock
from cloudcodes.extensions import db as _db
from cloudcodes.referrals.services import issue_code, register_domain
from tests.factories import make_partner
from tests.support.web import csrf_token, login, make_staff, staff_client

OWNER_EMAIL = "olivia@fuzz-partner.example"
PUBLIC_PAGES = ("/", "/apply/", "/apply/reseller", "/apply/premier", "/login", "/forgot-password", "/redeem/")
PARTNER_PAGES = (
    "/dashboard/",
    "/dashboard/referrals",
    "/dashboard/earnings",
    "/dashboard/company",
    "/account",
    "/account/two-factor",
)
CONSOLE_LISTS = (
    "/admin/",
    "/admin/applications",
    "/admin/partners",
    "/admin/domains",
    "/admin/staff",
    "/admin/payouts",
    "/admin/audit",
    "/admin/mail",
)
# Posting these ends the session the rest of the example needs; they take no text anyway.
SESSION_ENDING = ("/logout", "/account/log-out-everywhere")

HOSTILE = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Co")), min_size=1, max_size=12),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\u202eelgoog.com",
            "line\u2028break",
            "Ana\r\nBcc: victim@example.com",
            "' OR 1=1; --",
            "%_%",
            "<script>alert(1)</script>",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢@𝔢𝔵𝔞𝔪𝔭𝔩𝔢.𝔠𝔬𝔪",
            "xn--",
            "-1",
            "99999999999999999999999",
            "1e309",
            "NaN",
        ]
    ),
    st.text(min_size=300, max_size=5000),
)


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> the options a select offers


class FormFinder(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urlsplit(attributes.get("action") or self.page).path or self.page
            self.forms.append(Form(attributes.get("method", "get").lower(), action))
            return
        if not self.forms or not attributes.get("name") or attributes["name"].endswith("csrf_token"):
            return
        fields = self.forms[-1].fields
        if tag in ("input", "textarea"):
            options = fields.setdefault(attributes["name"], [])
            if attributes.get("value"):
                options.append(attributes["value"])
        elif tag == "select":
            self._select = attributes["name"]
            fields.setdefault(self._select, [])
        elif tag == "option" and self._select:
            fields[self._select].append(attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_on(client, page: str) -> tuple[str, list[Form]]:
    response = client.get(page)
    assert response.status_code < 500, (page, response.status_code)
    html = response.get_data(as_text=True)
    finder = FormFinder(page)
    finder.feed(html)
    return html, finder.forms


@dataclass
class Inputs:
    """What one example posts, drawn up front: the pages may change between examples (a code
    revoked, a domain released), and what Hypothesis draws must not depend on them."""

    texts: list[str]
    picks: list[int]
    used: int = 0

    def values_for(self, form: Form) -> dict[str, str]:
        values = {}
        for name, options in form.fields.items():
            n = self.used % len(self.texts)
            self.used += 1
            # A field with options gets one of them half the time, so the rest of the form is reached.
            if options and self.picks[n] % 2 == 0:
                values[name] = options[self.picks[n] // 2 % len(options)]
            else:
                values[name] = self.texts[n]
        return values


INPUTS = st.builds(
    Inputs,
    texts=st.lists(HOSTILE, min_size=24, max_size=24),
    picks=st.lists(st.integers(min_value=0, max_value=1000), min_size=24, max_size=24),
)


def fuzz_pages(client, inputs: Inputs, pages: tuple[str, ...]) -> set[str]:
    """Post (or, for a search, get) every form of ``pages``; returns the actions it sent to."""
    sent = set()
    for page in pages:
        html, forms = forms_on(client, page)
        for form in forms:
            if form.action in SESSION_ENDING:
                continue
            values = inputs.values_for(form)
            if form.method == "post":
                token = csrf_token(html) if "csrf_token" in html else ""
                # One token per session; prefixed forms name their field after the prefix.
                prefixes = ("", "disable-", "regenerate-", "everywhere-")
                tokens = {f"{prefix}csrf_token": token for prefix in prefixes}
                response = client.post(form.action, data={**tokens, **values})
            else:
                response = client.get(form.action, query_string=values)
            assert response.status_code < 500, (form.method, form.action, values, response.status_code)
            sent.add(form.action)
    return sent


FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def world(app) -> SimpleNamespace:
    with app.app_context():
        partner = make_partner("Fuzz Partner Ltd", owner_email=OWNER_EMAIL)
        registration = register_domain(partner, "fuzz-customer.com", by=None)
        issue_code(registration, by=None)
        _db.session.commit()
    admin = make_staff(app, role="admin")
    partner = app.test_client()
    assert login(partner, OWNER_EMAIL).status_code == 303
    # Logged in once for all the examples: the login's own rate limit would refuse a login per example.
    return SimpleNamespace(partner=partner, console=staff_client(app, admin), today=clock.today())


@FUZZ
@given(inputs=INPUTS)
def test_hostile_text_in_every_public_form_is_never_a_server_error(app, inputs):
    sent = fuzz_pages(app.test_client(), inputs, PUBLIC_PAGES)
    assert {"/apply/reseller", "/apply/premier", "/login", "/forgot-password", "/redeem/"} <= sent, sent


@FUZZ
@given(inputs=INPUTS)
def test_hostile_text_in_every_partner_form_is_never_a_server_error(app, world, inputs):
    sent = fuzz_pages(world.partner, inputs, PARTNER_PAGES)
    assert {"/dashboard/referrals/registrations", "/account/password", "/account/two-factor"} <= sent, sent


@FUZZ
@given(inputs=INPUTS)
def test_hostile_text_in_every_console_search_is_never_a_server_error(app, world, inputs):
    client = world.console
    for page in CONSOLE_LISTS:
        _, forms = forms_on(client, page)
        for form in (form for form in forms if form.method == "get"):
            response = client.get(form.action, query_string=inputs.values_for(form))
            assert response.status_code < 500, (form.action, response.status_code)
