"""The reader's locale: pages write money and dates in the formats the browser's Accept-Language asks for.

en-US, en-GB, de and fr follow CLDR; no header, plain "en" and any other language keep the portal's
house style ("$240.00", "5 Mar 2027, 14:30 UTC"). The words stay English. E-mails are written in
the house style even when a request with another language queues them, and the JSON API keeps it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import select

from cloudcodes import formatting
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.mail.outbox import queue_email
from cloudcodes.money import Money
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.services import issue_code, register_domain
from tests.support.checkout import buy, quote, text

PAID_AT = datetime(2027, 3, 5, 14, 30, tzinfo=UTC)


@pytest.fixture
def issued(app) -> SimpleNamespace:
    """A reseller partner with acme.com registered and a code for it, the day before PAID_AT."""
    with app.app_context(), time_machine.travel(PAID_AT - timedelta(days=1), tick=False):
        partner = create_partner(
            name="Acme Cloud Ltd",
            website="https://acme-cloud.example.com",
            country="United Kingdom",
            level="reseller",
            channel_manager=None,
        )
        _db.session.commit()
        code = issue_code(register_domain(partner, "acme.com", by=None), by=None)
        return SimpleNamespace(partner_id=partner.id, code=code.code)


def speaking(client, accept_language: str | None):
    """The client, sending ``accept_language`` with every request from now on (None: no header)."""
    if accept_language is not None:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept_language
    return client


@pytest.mark.parametrize(
    ("accept_language", "lang", "price", "paid_at"),
    [
        (None, "en", "$240.00", "5 Mar 2027, 14:30 UTC"),
        ("en", "en", "$240.00", "5 Mar 2027, 14:30 UTC"),
        ("en-US", "en-US", "$240.00", "Mar 5, 2027, 14:30 UTC"),
        ("en-GB", "en-GB", "US$240.00", "5 Mar 2027, 14:30 UTC"),
        ("de-DE,de;q=0.9", "de", "240,00\xa0$", "05.03.2027, 14:30 UTC"),
        ("fr", "fr", "240,00\xa0$US", "5 mars 2027, 14:30 UTC"),
        ("es", "en", "$240.00", "5 Mar 2027, 14:30 UTC"),  # no formats chosen for Spanish yet
    ],
)
def test_the_receipt_page_writes_money_and_dates_in_the_readers_formats(
    app, client, issued, accept_language, lang, price, paid_at
):
    client = speaking(client, accept_language)
    with time_machine.travel(PAID_AT, tick=False):
        receipt = client.get(buy(client, code=issued.code))
    assert receipt.status_code == 200
    page = text(receipt)
    assert f'<html lang="{lang}"' in page
    assert price in page and paid_at in page
    assert "Thank you for your purchase" in page  # the words stay English
    assert "Accept-Language" in receipt.vary

    # The receipt e-mail, queued while this reader's request was answered, keeps the house style.
    with app.app_context():
        [mail] = _db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "buyer@acme.com"))
        assert "$240.00" in mail.text_body and "$240.00" in mail.html_body
        assert '<html lang="en"' in mail.html_body


def test_every_page_says_it_varies_by_language(client):
    for path in ["/", "/program", "/redeem/", "/no-such-page"]:
        response = client.get(path, headers={"Accept-Language": "de"})
        assert "Accept-Language" in response.vary, path


def test_the_confirmation_page_in_german_keeps_english_words(client, issued):
    with time_machine.travel(PAID_AT, tick=False):
        confirmation = quote(speaking(client, "de"), code=issued.code)
    page = text(confirmation)
    assert "Confirm your purchase" in page
    assert "24,00\xa0$ per user per year" in page and "240,00\xa0$" in page


def test_the_json_api_is_not_localised(client):
    response = client.get("/api/v1/openapi.json", headers={"Accept-Language": "de"})
    assert "Accept-Language" not in response.vary


def test_an_email_queued_in_a_german_request_is_written_in_the_house_style(app):
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "mail/locale_probe.txt": "Subject: {{ amount|money }} due {{ day|date }}\n\n"
                    "{{ amount|money }}; {{ day|date('short') }}; {{ moment|datetime }}; {{ rate|percent }}",
                    "mail/locale_probe.html": '<html lang="{{ html_lang() }}"><p>{{ amount|money }}</p></html>',
                }
            ),
            app.jinja_env.loader,
        ]
    )
    context = {"amount": Money(25_000_00, "USD"), "day": PAID_AT.date(), "moment": PAID_AT, "rate": Decimal("12.5")}
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        # The page around it is German ...
        assert formatting.money(Money(25_000_00, "USD")) == "25.000,00\xa0$"
        assert formatting.html_lang() == "de"
        message = queue_email(to="reader@example.com", template="locale_probe", context=context)
        # ... and still is once the e-mail is written.
        assert formatting.date(PAID_AT.date()) == "5. März 2027"
        _db.session.rollback()
    assert message.subject == "$25,000.00 due 5 March 2027"
    assert message.text_body == "$25,000.00; 5 Mar 2027; 5 Mar 2027, 14:30 UTC; 12.5 %"
    assert '<html lang="en">' in message.html_body and "$25,000.00" in message.html_body


def test_outside_a_request_the_house_style_is_kept(app):
    with app.app_context():
        assert formatting.money(Money(25_000_00, "USD")) == "$25,000.00"
        assert formatting.date(PAID_AT) == "5 March 2027"
        assert formatting.html_lang() == "en"
