"""What each process keeps between requests, and what is rendered once when saved (issue #16).

Two apps on one database stand for two gunicorn workers: each keeps the terms it read, and each
sees a change the other made on its next request. The FAQ's Markdown is rendered when an answer
is saved; a page only fills in the program's numbers, escaped, in the reader's locale.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from cloudcodes.extensions import db as _db
from cloudcodes.program.models import ProgramSettings
from cloudcodes.program.services import SettingsError, update_program_terms
from cloudcodes.public.models import FaqEntry
from tests.conftest import make_test_app


def _premier_margin(client) -> str:
    html = client.get("/program").get_data(as_text=True)
    return re.search(r'data-level="premier" data-row="margin">([^<]+)<', html).group(1)


def test_a_change_in_one_worker_is_seen_by_the_other_on_its_next_request(app, database_url):
    other = make_test_app(database_url)
    try:
        assert _premier_margin(app.test_client()) == "30 %"
        assert _premier_margin(other.test_client()) == "30 %"  # both keep the terms now
        with other.app_context():
            update_program_terms(premier_margin_pct=Decimal("33"))
        assert _premier_margin(app.test_client()) == "33 %"
        assert _premier_margin(other.test_client()) == "33 %"
    finally:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_a_change_to_the_tiers_alone_is_seen_too(app, database_url):
    from cloudcodes.program.terms import VolumeTier

    client = app.test_client()
    assert "100+ seats: +2" in client.get("/program").get_data(as_text=True)
    other = make_test_app(database_url)
    try:
        with other.app_context():
            update_program_terms(volume_tiers=(VolumeTier(50, Decimal("3")),))
    finally:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()
    html = client.get("/program").get_data(as_text=True)
    assert "50+ seats: +3" in html and "100+ seats" not in html


def test_a_refused_change_leaves_the_kept_terms_as_they_were(app):
    client = app.test_client()
    assert _premier_margin(client) == "30 %"
    with app.app_context(), pytest.raises(SettingsError):
        update_program_terms(premier_margin_pct=Decimal("5"))  # below the Reseller margin
    assert _premier_margin(client) == "30 %"


def test_a_change_rolled_back_is_never_kept_under_a_version_another_change_commits(app):
    """The version is random: a process that read terms inside a transaction later rolled back
    cannot mistake another change for the one it saw."""
    client = app.test_client()
    with app.app_context():
        versions = set()
        for margin in ("31", "32", "33"):
            update_program_terms(premier_margin_pct=Decimal(margin))
            versions.add(_db.session.scalar(select(ProgramSettings.terms_version)))
        assert len(versions) == 3
    assert _premier_margin(client) == "33 %"


def _answer(html: str, slug: str) -> str:
    return re.search(rf'id="{slug}".*?<div class="faq-answer">(.*?)</div>', html, re.S).group(1)


def test_an_answer_is_stored_rendered_and_its_numbers_follow_the_settings(app, client):
    with app.app_context():
        _db.session.add(
            FaqEntry(
                slug="rates", question="Rates?", answer_markdown="**Premier** earns [[premier_margin]].", position=1
            )
        )
        _db.session.commit()
        stored = _db.session.scalar(select(FaqEntry.answer_html).where(FaqEntry.slug == "rates"))
    assert stored == "<p><strong>Premier</strong> earns [[premier_margin]].</p>\n"
    assert (
        _answer(client.get("/faq").get_data(as_text=True), "rates") == "<p><strong>Premier</strong> earns 30 %.</p>\n"
    )
    with app.app_context():
        update_program_terms(premier_margin_pct=Decimal("32.5"))
    assert "earns 32.5 %." in _answer(client.get("/faq").get_data(as_text=True), "rates")
    german = client.get("/faq", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "earns 32,5" in _answer(german, "rates")


def test_an_edited_answer_is_rendered_again(app, client):
    with app.app_context():
        entry = FaqEntry(slug="edit-me", question="Edit me?", answer_markdown="Old *text*.", position=1)
        _db.session.add(entry)
        _db.session.commit()
        entry.answer_markdown = "New **text**."
        _db.session.commit()
    assert _answer(client.get("/faq").get_data(as_text=True), "edit-me") == "<p>New <strong>text</strong>.</p>\n"


def test_a_contact_address_with_markdown_characters_is_shown_as_typed(app, client):
    """The numbers go in after the Markdown is rendered: an address's underscores stay underscores."""
    with app.app_context():
        update_program_terms(contact_email="partner_team_desk@cloudcodes.example")
        _db.session.add(
            FaqEntry(slug="ask", question="Ask?", answer_markdown="Write to [[contact_email]].", position=1)
        )
        _db.session.add(
            FaqEntry(slug="mail", question="Mail?", answer_markdown="[Mail us](mailto:[[contact_email]])", position=2)
        )
        _db.session.commit()
    html = client.get("/faq").get_data(as_text=True)
    assert _answer(html, "ask") == "<p>Write to partner_team_desk@cloudcodes.example.</p>\n"
    assert 'href="mailto:partner_team_desk@cloudcodes.example"' in _answer(html, "mail")


def test_hostile_markdown_is_sanitised_when_saved(app, client):
    with app.app_context():
        _db.session.add(
            FaqEntry(
                slug="hostile",
                question="Hostile?",
                answer_markdown='<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="alert(1)">',
                position=1,
            )
        )
        _db.session.commit()
        stored = _db.session.scalar(select(FaqEntry.answer_html).where(FaqEntry.slug == "hostile"))
    for html in (stored, _answer(client.get("/faq").get_data(as_text=True), "hostile")):
        assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;" in html  # shown as the text it is


def test_the_migration_rendered_the_answers_already_there(app, client):
    """0021 rendered every answer 0001 put in; the page shows the same as rendering it now would."""
    from cloudcodes.content import answer_html

    with app.app_context():
        rows = _db.session.execute(select(FaqEntry.answer_markdown, FaqEntry.answer_html)).all()
    assert rows and all(html == answer_html(markdown) for markdown, html in rows)
    assert "[[" not in client.get("/faq").get_data(as_text=True)


def test_the_faq_kept_by_one_worker_follows_what_another_worker_saves(app, database_url):
    """Each process keeps the FAQ it filled in; a question added, edited, moved or deleted anywhere
    moves the FAQ's version, so the next request reads it again."""
    from cloudcodes.public import faq_admin

    client = app.test_client()
    other = make_test_app(database_url)

    def questions() -> list[str]:
        html = client.get("/faq").get_data(as_text=True)
        return [text.strip() for text in re.findall(r'<h2 class="h4" id="[^"]+-q">([^<]+)', html)]

    try:
        before = questions()
        assert questions() == before  # kept
        with other.app_context():
            first = faq_admin.create_entry(faq_admin.FaqInput("Kept per worker?", "", "Yes.", True)).id
            second = faq_admin.create_entry(faq_admin.FaqInput("Read again?", "", "When it moves.", True)).id
        assert questions()[-2:] == ["Kept per worker?", "Read again?"]
        with other.app_context():
            entry = _db.session.get(FaqEntry, first)
            faq_admin.move_entry(entry, faq_admin.DOWN)
        assert questions()[-2:] == ["Read again?", "Kept per worker?"]
        with other.app_context():
            entry = _db.session.get(FaqEntry, second)
            faq_admin.update_entry(entry, faq_admin.FaqInput("Read again at once?", entry.slug, "Yes.", True))
        assert "Read again at once?" in questions()
        with other.app_context():
            faq_admin.delete_entry(_db.session.get(FaqEntry, second))
        assert questions() == [*before, "Kept per worker?"]
    finally:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_the_faq_is_kept_per_locale(app, client):
    with app.app_context():
        update_program_terms(premier_margin_pct=Decimal("32.5"))
        _db.session.add(FaqEntry(slug="rate", question="Rate?", answer_markdown="[[premier_margin]]", position=1))
        _db.session.commit()
    for _ in range(2):
        assert _answer(client.get("/faq").get_data(as_text=True), "rate") == "<p>32.5 %</p>\n"
        german = client.get("/faq", headers={"Accept-Language": "de"}).get_data(as_text=True)
        assert _answer(german, "rate").startswith("<p>32,5")
