from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup
from sqlalchemy import Row, select, text

from cloudcodes import formatting
from cloudcodes.content import fill_placeholders
from cloudcodes.extensions import db
from cloudcodes.program.services import content_versions, program_terms
from cloudcodes.public.models import FaqEntry

_FAQ_CACHE = "cloudcodes.faq"  # in app.extensions: (ContentVersions, {locale: FaqPage}), per process

_PUBLISHED = (
    select(FaqEntry.slug, FaqEntry.question, FaqEntry.answer_html)
    .where(FaqEntry.published.is_(True))
    .order_by(FaqEntry.position, FaqEntry.id)
)


def published_faq() -> list[Row[tuple[str, str, str]]]:
    """The published questions as rows (slug, question, answer_html), in order."""
    return list(db.session.execute(_PUBLISHED))


@dataclass(frozen=True)
class FaqQuestion:
    slug: str
    question: str
    answer: Markup  # the sanitised answer with the program's numbers filled in, in the reader's locale


@dataclass(frozen=True)
class FaqPage:
    questions: tuple[FaqQuestion, ...]
    ends_with_contact: bool  # the last answer already points to the contact address


def faq_page() -> FaqPage:
    """The published FAQ with its numbers filled in for the reader's locale.

    Each process keeps the pages it made (one per locale) until the FAQ's or the terms' version
    moves, so a request costs the one statement that reads the versions.
    """
    versions = content_versions()
    locale = str(formatting.get_locale())
    kept_versions, pages = current_app.extensions.get(_FAQ_CACHE, (None, {}))
    if versions is None or kept_versions != versions:
        pages = {}
    elif locale in pages:
        return pages[locale]
    terms = program_terms()
    questions = tuple(
        FaqQuestion(row.slug, row.question, fill_placeholders(row.answer_html, terms)) for row in published_faq()
    )
    page = FaqPage(questions, bool(questions) and terms.contact_email in questions[-1].answer)
    if versions is not None:
        current_app.extensions[_FAQ_CACHE] = (versions, {**pages, locale: page})
    return page


def schema_version() -> str | None:
    """The migration the database is at, or None when the database (or its schema) is not there.

    Reading the schema's own table rather than ``SELECT 1`` catches an SQLite file that has
    vanished: SQLite would silently create an empty one and answer.
    """
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    except Exception:  # noqa: BLE001 - any failure means "not healthy"; the caller reports it
        db.session.rollback()
        return None
