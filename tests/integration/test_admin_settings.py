"""The console's program settings and FAQ pages, driven like a browser: admins only, every change audited."""

import html as html_lib
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.billing.models import Purchase
from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import DEFAULT_TERMS, VolumeTier
from cloudcodes.public.faq_admin import make_slug
from cloudcodes.public.models import FaqEntry
from cloudcodes.referrals.services import register_domain
from tests.factories import make_partner
from tests.support.web import csrf_token, make_staff, staff_client

SETTINGS = "/admin/settings"
FAQ = "/admin/faq"
SAVED = "The program settings are saved; they apply from now on and never change past commissions."


# --- Helpers ------------------------------------------------------------------------------------


class _FormValues(HTMLParser):
    """What a browser would send for the POST form with ``action``: inputs, ticked boxes, textareas."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.values: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.inside = attributes.get("action") == self.action and attributes.get("method") == "post"
        elif self.inside and tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind == "checkbox":
                if "checked" in attributes:
                    self.values[attributes["name"]] = attributes.get("value") or "y"
            elif kind != "submit":
                self.values[attributes["name"]] = attributes.get("value") or ""
        elif self.inside and tag == "textarea":
            self._textarea = attributes["name"]
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea:
            self.values[self._textarea] = self.values[self._textarea].removeprefix("\r\n").removeprefix("\n")
            self._textarea = None


def form_values(html: str, action: str) -> dict[str, str]:
    parser = _FormValues(action)
    parser.feed(html)
    assert parser.values, f"the page has no form posting to {action}"
    return parser.values


def fill_and_post(client, action: str, changes: dict, *, page: str | None = None, untick: tuple = ()):
    """Open ``page``, keep what its form shows, type ``changes`` over it (None empties a box), post it."""
    values = form_values(client.get(page or action).get_data(as_text=True), action)
    values.update({name: "" if value is None else value for name, value in changes.items()})
    for name in untick:
        values.pop(name, None)
    return client.post(action, data=values)


def save_settings(client, confirm=True, **changes):
    return fill_and_post(client, SETTINGS, {**({"confirm": "y"} if confirm else {}), **changes})


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def field_error(response, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    assert match, f"no error shown next to {field_id}"
    return html_lib.unescape(match.group(1)).strip()


def input_value(response, field_id: str) -> str:
    tag = re.search(rf'<input[^>]*id="{re.escape(field_id)}"[^>]*>', response.get_data(as_text=True))
    assert tag, f"no input {field_id}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html_lib.unescape(value.group(1)) if value else ""


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def current_terms(app):
    with app.app_context():
        return program_terms()


def faq_slugs(client) -> list[str]:
    """The questions on the public FAQ, in their order there."""
    return re.findall(r'<section class="faq-entry[^"]*" id="([^"]+)"', client.get("/faq").get_data(as_text=True))


def faq_entry(app, slug: str) -> FaqEntry | None:
    with app.app_context():
        return _db.session.scalar(select(FaqEntry).where(FaqEntry.slug == slug))


@pytest.fixture
def admin(app):
    return make_staff(app, role="admin")


@pytest.fixture
def admin_client(app, admin):
    return staff_client(app, admin)


# --- Program settings --------------------------------------------------------------------------


def purchase(order_id: str, domain: str, when: datetime, amount: str = "1000.00", seats: int = 10) -> Purchase:
    data = PurchaseInput(
        order_id=order_id,
        customer_domain=domain,
        product_sku="CC-ACCESS",
        seats=seats,
        amount=Money.parse(amount, "USD"),
        channel="direct",
        purchased_at=when,
    )
    return record_purchase(data, fingerprint({"order_id": order_id, "domain": domain, "amount": amount})).purchase


def test_a_new_premier_margin_shows_at_once_and_leaves_past_commissions_alone(app, admin_client, admin):
    now = clock.now()
    with app.app_context():
        partner = make_partner("Acme", level="premier", effective_from=date(2025, 1, 1))
        with time_machine.travel(now - timedelta(days=2), tick=False):
            register_domain(_db.session.get(Partner, partner.id), "customer.com", by=None)
        before = purchase("ORD-1", "customer.com", now - timedelta(days=1))
        assert (before.margin_pct, before.commission) == (Decimal(30), Money(300_00, "USD"))
        before_id = before.id
    assert 'data-level="premier" data-row="margin">30 %<' in admin_client.get("/program").get_data(as_text=True)

    response = save_settings(admin_client, premier_margin_pct="32")
    assert response.status_code == 303 and response.headers["Location"] == SETTINGS
    assert SAVED in text(admin_client.get(SETTINGS))
    assert 'data-level="premier" data-row="margin">32 %<' in admin_client.get("/program").get_data(as_text=True)

    with app.app_context():
        kept = _db.session.get(Purchase, before_id)
        assert kept.margin_pct == Decimal(30) and kept.commission == Money(300_00, "USD")
        after = purchase("ORD-2", "customer.com", clock.now())
        assert after.margin_pct == Decimal(32) and after.commission == Money(320_00, "USD")

    (event,) = events(app, "program.settings_changed")
    assert event.details == {"premier_margin_pct": {"before": "30", "after": "32"}}
    assert event.actor_id == admin.id and event.target_type == "program_settings" and event.target_id == "1"


def test_the_form_shows_the_settings_in_force_and_currency_read_only(admin_client):
    response = admin_client.get(SETTINGS)
    assert response.status_code == 200
    page = text(response)
    assert input_value(response, "reseller_margin_pct") == "15"
    assert input_value(response, "premier_margin_pct") == "30"
    assert input_value(response, "premier_revenue_commitment") == "25000.00"
    assert input_value(response, "registration_lifetime_days") == "90"
    assert input_value(response, "commission_hold_days") == "30"
    assert input_value(response, "contact_email") == "partners@cloudcodes.example"
    assert [input_value(response, f"volume_tiers-{n}-min_seats") for n in range(3)] == ["100", "500", ""]
    assert '<label class="form-label" for="volume_tiers-2-min_seats">Tier 3: from seats</label>' in page
    assert "Premier revenue commitment (USD)" in page
    assert 'name="currency"' not in page  # shown, never offered for change


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"premier_margin_pct": "10"}, "premier_margin_pct", "cannot be lower than the Reseller margin"),
        ({"reseller_margin_pct": "101"}, "reseller_margin_pct", "between 0 and 100"),
        ({"premier_margin_pct": "30.125"}, "premier_margin_pct", "at most two decimals"),
        ({"premier_margin_pct": "NaN"}, "premier_margin_pct", "Enter a number"),
        ({"registration_lifetime_days": "-5"}, "registration_lifetime_days", "at least one day"),
        ({"commission_hold_days": "-1"}, "commission_hold_days", "cannot be negative"),
        ({"premier_revenue_commitment": "-1"}, "premier_revenue_commitment", "cannot be negative"),
        ({"premier_revenue_commitment": "lots"}, "premier_revenue_commitment", "is not an amount"),
        ({"premier_revenue_commitment": "100.001"}, "premier_revenue_commitment", "at most 2 decimals"),
        ({"contact_email": "partners at cloudcodes"}, "contact_email", "valid e-mail address"),
        ({"volume_tiers-1-min_seats": "100"}, "tiers", "its own seat count"),
        ({"volume_tiers-0-min_seats": "0"}, "tiers", "at least 1"),
        ({"volume_tiers-0-extra_points": "150"}, "volume_tiers-0-extra_points", "between 0 and 100"),
        ({"volume_tiers-2-min_seats": "800"}, "volume_tiers-2-extra_points", "Enter the extra points"),
    ],
)
def test_invalid_settings_are_refused_next_to_the_field_and_nothing_changes(
    app, admin_client, changes, field_id, message
):
    response = save_settings(admin_client, **changes)
    assert response.status_code == 400
    assert message in field_error(response, field_id)
    assert "Nothing was saved" in text(response)
    for name, typed in changes.items():  # what was typed is kept
        assert input_value(response, name) == typed
    assert current_terms(app) == DEFAULT_TERMS
    assert events(app, "program.settings_changed") == []


def test_saving_needs_the_confirmation_and_an_unchanged_form_saves_nothing(app, admin_client):
    refused = save_settings(admin_client, confirm=False, premier_margin_pct="31")
    assert refused.status_code == 400
    assert "Tick the box" in field_error(refused, "confirm")
    assert input_value(refused, "premier_margin_pct") == "31"
    assert current_terms(app).premier_margin_pct == Decimal(30)

    unchanged = save_settings(admin_client)
    assert unchanged.status_code == 303
    assert "Nothing changed" in text(admin_client.get(SETTINGS))
    assert events(app, "program.settings_changed") == []


def test_volume_tiers_are_edited_added_and_removed(app, admin_client):
    response = save_settings(
        admin_client,
        **{
            "volume_tiers-0-min_seats": None,  # the 100-seat tier goes
            "volume_tiers-0-extra_points": None,
            "volume_tiers-1-min_seats": "1000",
            "volume_tiers-1-extra_points": "7.5",
            "volume_tiers-2-min_seats": "250",  # the spare row adds one
            "volume_tiers-2-extra_points": "3",
        },
    )
    assert response.status_code == 303, text(response)
    assert current_terms(app).volume_tiers == (VolumeTier(250, Decimal(3)), VolumeTier(1000, Decimal("7.5")))
    program = text(admin_client.get("/program"))
    assert "250+ seats: +3 margin points" in program and "1000+ seats: +7.5 margin points" in program
    assert "100+ seats" not in program and "500+ seats" not in program
    (event,) = events(app, "program.settings_changed")
    assert event.details == {
        "volume_tiers": {
            "before": [{"min_seats": 100, "extra_points": "2"}, {"min_seats": 500, "extra_points": "5"}],
            "after": [{"min_seats": 250, "extra_points": "3"}, {"min_seats": 1000, "extra_points": "7.5"}],
        }
    }
    again = admin_client.get(SETTINGS)
    assert [input_value(again, f"volume_tiers-{n}-min_seats") for n in range(3)] == ["250", "1000", ""]


def test_several_settings_at_once_audit_only_what_changed(app, admin_client):
    response = save_settings(
        admin_client,
        registration_lifetime_days="120",
        commission_hold_days="45",
        premier_revenue_commitment="30,000.50",
        contact_email="channel@cloudcodes.example",
        premier_trained_sales_staff="1",  # as it was
    )
    assert response.status_code == 303
    terms = current_terms(app)
    assert terms.registration_lifetime_days == 120 and terms.commission_hold_days == 45
    assert terms.premier_revenue_commitment == Money(30_000_50, "USD")
    assert terms.contact_email == "channel@cloudcodes.example"
    (event,) = events(app, "program.settings_changed")
    assert event.details == {
        "premier_revenue_commitment": {"before": "25000.00 USD", "after": "30000.50 USD"},
        "registration_lifetime_days": {"before": 90, "after": 120},
        "commission_hold_days": {"before": 30, "after": 45},
        "contact_email": {"before": "partners@cloudcodes.example", "after": "channel@cloudcodes.example"},
    }
    assert "$30,000.50" in text(admin_client.get("/program"))


def test_saves_by_two_admins_at_once_never_undo_each_other(app, admin_client):
    other = staff_client(app, make_staff(app, role="admin"))

    # Different settings: both changes stand (the first page still showed a 30 % Premier margin).
    opened = form_values(admin_client.get(SETTINGS).get_data(as_text=True), SETTINGS)
    assert save_settings(other, premier_margin_pct="35").status_code == 303
    merged = admin_client.post(SETTINGS, data={**opened, "commission_hold_days": "60", "confirm": "y"})
    assert merged.status_code == 303
    terms = current_terms(app)
    assert terms.premier_margin_pct == Decimal(35) and terms.commission_hold_days == 60
    (_, second) = events(app, "program.settings_changed")
    assert second.details == {"commission_hold_days": {"before": 30, "after": 60}}

    # The same setting: nothing is saved until this admin has seen the other's value.
    opened = form_values(admin_client.get(SETTINGS).get_data(as_text=True), SETTINGS)
    assert save_settings(other, commission_hold_days="45", reseller_margin_pct="20").status_code == 303
    clash = admin_client.post(SETTINGS, data={**opened, "commission_hold_days": "50", "confirm": "y"})
    assert clash.status_code == 409
    assert "Nothing was saved: another admin saved the settings" in text(clash)
    assert "Another admin has just changed this to 45" in field_error(clash, "commission_hold_days")
    assert input_value(clash, "commission_hold_days") == "50"  # this admin's value, kept
    assert input_value(clash, "reseller_margin_pct") == "20"  # the other's, now shown
    assert current_terms(app).commission_hold_days == 45

    again = admin_client.post(SETTINGS, data=form_values(clash.get_data(as_text=True), SETTINGS))
    assert again.status_code == 303
    terms = current_terms(app)
    assert (terms.commission_hold_days, terms.reseller_margin_pct, terms.premier_margin_pct) == (50, 20, 35)


def test_a_manager_gets_403_on_every_settings_and_faq_page(app, admin_client):
    manager = staff_client(app, make_staff(app, role="manager"))
    token = csrf_token(manager.get("/admin/").get_data(as_text=True))
    with app.app_context():
        entry_id = _db.session.scalar(select(FaqEntry.id).limit(1))
    for path in (SETTINGS, FAQ, f"{FAQ}/new", f"{FAQ}/{entry_id}/edit"):
        assert manager.get(path).status_code == 403, path
    posts = {
        SETTINGS: {"premier_margin_pct": "40", "confirm": "y"},
        f"{FAQ}/new": {"question": "Q?", "answer_markdown": "A."},
        f"{FAQ}/{entry_id}/edit": {"question": "Q?", "answer_markdown": "A."},
        f"{FAQ}/{entry_id}/move": {"direction": "down"},
        f"{FAQ}/{entry_id}/delete": {"delete-confirm": "y"},
    }
    for path, data in posts.items():
        assert manager.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert current_terms(app) == DEFAULT_TERMS
    assert faq_entry(app, "levels") is not None
    assert admin_client.get(SETTINGS).status_code == 200


# --- FAQ ----------------------------------------------------------------------------------------


def new_question(client, question: str, answer: str, **fields):
    return fill_and_post(
        client, f"{FAQ}/new", {"question": question, "answer_markdown": answer, **fields}, page=f"{FAQ}/new"
    )


def test_make_slug():
    assert make_slug("What is the Premier margin?") == "what-is-the-premier-margin"
    assert make_slug("  Où est   le café — ici? ") == "ou-est-le-cafe-ici"
    assert make_slug("???") == "question"
    long = make_slug("word " * 40)
    assert len(long) <= 80 and not long.endswith("-")


def test_a_new_question_gets_its_slug_and_live_numbers(app, admin_client, admin):
    response = new_question(
        admin_client,
        "When is my commission paid?",
        "After a hold of [[hold_days]] days. Premier partners earn [[ premier_margin ]].",
    )
    assert response.status_code == 303
    entry = faq_entry(app, "when-is-my-commission-paid")
    assert entry is not None and entry.published
    assert response.headers["Location"] == f"{FAQ}/{entry.id}/edit"
    edit_page = text(admin_client.get(response.headers["Location"]))
    assert "The question is saved; it is published on the FAQ." in edit_page
    assert "After a hold of 30 days. Premier partners earn 30 %." in edit_page  # the preview, rendered
    assert faq_slugs(admin_client)[-1] == "when-is-my-commission-paid"  # placed last
    assert "After a hold of 30 days. Premier partners earn 30 %." in text(admin_client.get("/faq"))

    assert save_settings(admin_client, premier_margin_pct="32", commission_hold_days="45").status_code == 303
    assert "After a hold of 45 days. Premier partners earn 32 %." in text(admin_client.get("/faq"))

    (event,) = events(app, "faq.created")
    assert event.actor_id == admin.id and event.target_id == str(entry.id)
    assert event.details["slug"] == "when-is-my-commission-paid"

    same_question = new_question(admin_client, "When is my commission paid?", "Again.")
    assert same_question.status_code == 303
    assert faq_entry(app, "when-is-my-commission-paid-2") is not None


def test_the_answer_help_lists_the_placeholders(admin_client):
    page = text(admin_client.get(f"{FAQ}/new"))
    for name in ("reseller_margin", "premier_margin", "premier_commitment", "lifetime_days", "hold_days"):
        assert f"[[{name}]]" in page
    assert "[[premier_margin]] (now 30 %)" in page


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"slug": "levels"}, "slug", "Another question already uses this address"),
        ({"slug": "Not a slug!"}, "slug", "lower-case letters, digits and single dashes"),
        ({"question": ""}, "question", "Enter the question"),
        ({"question": "x" * 301}, "question", "300 characters"),
        ({"answer_markdown": ""}, "answer_markdown", "Enter the answer"),
        ({"answer_markdown": "Earn [[premier_margn]]."}, "answer_markdown", "Unknown placeholder [[premier_margn]]"),
    ],
)
def test_a_bad_question_is_refused_next_to_its_field(app, admin_client, fields, field_id, message):
    with app.app_context():
        count = _db.session.scalar(select(func.count()).select_from(FaqEntry))
    data = {"question": "How do I start?", "answer_markdown": "Apply online.", **fields}
    response = fill_and_post(admin_client, f"{FAQ}/new", data)
    assert response.status_code == 400
    assert message in field_error(response, field_id)
    assert input_value(response, "question") == data["question"]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(FaqEntry)) == count
    assert events(app, "faq.created") == []


def test_editing_a_question_and_unpublishing_it(app, admin_client):
    entry = faq_entry(app, "levels")
    path = f"{FAQ}/{entry.id}/edit"
    assert input_value(admin_client.get(path), "slug") == "levels"
    response = fill_and_post(admin_client, path, {"question": "Which levels are there?"})
    assert response.status_code == 303
    assert "Which levels are there?" in text(admin_client.get("/faq"))

    taken = fill_and_post(admin_client, path, {"slug": "requirements"})
    assert taken.status_code == 400 and "already uses" in field_error(taken, "slug")
    assert faq_entry(app, "levels") is not None

    hidden = fill_and_post(admin_client, path, {}, untick=("published",))
    assert hidden.status_code == 303
    assert "it is not published" in text(admin_client.get(path))
    assert "levels" not in faq_slugs(admin_client)
    assert "Which levels are there?" not in text(admin_client.get("/faq"))
    assert "Not published" in text(admin_client.get(FAQ))

    changes = [event.details["changes"] for event in events(app, "faq.updated")]
    assert changes == [
        {"question": {"before": "Which partner levels are there?", "after": "Which levels are there?"}},
        {"published": {"before": True, "after": False}},
    ]
    unchanged = fill_and_post(admin_client, path, {})
    assert unchanged.status_code == 303 and len(events(app, "faq.updated")) == 2


def test_moving_a_question_up_changes_the_order_on_the_faq(app, admin_client):
    order = faq_slugs(admin_client)
    entry = faq_entry(app, order[2])
    listing = admin_client.get(FAQ)
    token = csrf_token(listing.get_data(as_text=True))
    response = admin_client.post(f"{FAQ}/{entry.id}/move", data={"csrf_token": token, "direction": "up"})
    assert response.status_code == 303 and response.headers["Location"] == f"{FAQ}#faq-{entry.id}"
    assert "Moved up: " in text(admin_client.get(FAQ))
    assert faq_slugs(admin_client)[:3] == [order[0], order[2], order[1]]
    (event,) = events(app, "faq.moved")
    assert event.details == {"slug": order[2], "direction": "up", "from": 3, "to": 2}

    first = faq_entry(app, order[0])
    refused = admin_client.post(f"{FAQ}/{first.id}/move", data={"csrf_token": token, "direction": "up"})
    assert refused.status_code == 303
    assert "already first" in text(admin_client.get(FAQ))
    assert faq_slugs(admin_client)[0] == order[0]


def test_deleting_a_question_needs_the_confirmation(app, admin_client):
    entry = faq_entry(app, "levels")
    path = f"{FAQ}/{entry.id}/edit"
    token = csrf_token(admin_client.get(path).get_data(as_text=True))
    refused = admin_client.post(f"{FAQ}/{entry.id}/delete", data={"delete-csrf_token": token})
    assert refused.status_code == 400
    assert "Tick the box" in field_error(refused, "delete-confirm")
    assert faq_entry(app, "levels") is not None

    done = admin_client.post(f"{FAQ}/{entry.id}/delete", data={"delete-csrf_token": token, "delete-confirm": "y"})
    assert done.status_code == 303 and done.headers["Location"] == FAQ
    assert "is deleted" in text(admin_client.get(FAQ))
    assert faq_entry(app, "levels") is None
    assert "levels" not in faq_slugs(admin_client)
    (event,) = events(app, "faq.deleted")
    assert event.details["question"] == "Which partner levels are there?"
    assert admin_client.get(path).status_code == 404
