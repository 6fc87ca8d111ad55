"""Notices by e-mail: the rules of who is told what, and the one responsive HTML layout with its CSS inlined."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloudcodes.mail.models import OutboxMessage
from cloudcodes.mail.outbox import queue_email
from cloudcodes.notices.rules import (
    DEFAULT_DELIVERY,
    Delivery,
    NoticeKind,
    delivery_for,
    may_receive,
    reminder_due,
)


def test_money_notices_never_go_to_a_technical_member():
    for kind in (NoticeKind.PURCHASE, NoticeKind.REFUND, NoticeKind.STATEMENT_READY):
        assert may_receive("owner", kind)
        assert may_receive("sales", kind)
        assert not may_receive("technical", kind)
    for kind in (NoticeKind.REGISTRATION_ENDING, NoticeKind.LEVEL_CHANGE):
        assert all(may_receive(role, kind) for role in ("owner", "sales", "technical"))
    assert not may_receive("intruder", NoticeKind.LEVEL_CHANGE)


def test_a_missing_choice_means_the_default_and_purchases_default_to_the_digest():
    assert DEFAULT_DELIVERY[NoticeKind.PURCHASE] == Delivery.DIGEST
    assert delivery_for(NoticeKind.REFUND, {}) == Delivery.IMMEDIATELY
    assert delivery_for(NoticeKind.REFUND, {NoticeKind.REFUND: Delivery.OFF}) == Delivery.OFF


@pytest.mark.parametrize(
    ("days_left", "reminder"),
    [(30, None), (15, None), (14, 14), (10, 14), (4, 14), (3, 3), (1, 3), (0, None), (-2, None)],
)
def test_a_registration_is_reminded_at_14_then_at_3_days(days_left, reminder):
    assert reminder_due(days_left) == reminder


def test_the_html_part_has_its_css_inlined_and_a_text_part_exists(app, db):
    queue_email(
        to="ana@acme.example",
        template="test_message",
        context={"title": "Welcome to the program", "name": "Ana", "note": "Fish & chips"},
    )
    db.session.commit()
    message = db.session.scalars(select(OutboxMessage)).one()
    html = message.html_body
    assert 'class="wrapper" style="' in html
    assert "max-width: 600px" in html.split('class="wrapper"', 1)[1].split(">", 1)[0]
    # Only what cannot be inlined (the phone layout's media query) is left in a <style> block.
    style_blocks = html.split("<style>")[1:]
    assert all(block.lstrip().startswith("@media") for block in style_blocks)
    assert "Ana" in message.text_body
    assert "<" not in message.text_body.split("\n", 1)[0]
