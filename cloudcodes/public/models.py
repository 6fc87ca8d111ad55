from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import g, has_app_context
from sqlalchemy import String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, validates

from cloudcodes import clock
from cloudcodes.content import answer_html
from cloudcodes.extensions import db
from cloudcodes.program.models import ProgramSettings


class FaqEntry(db.Model):
    """One question of the public FAQ; the answer is Markdown written by staff."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    question: Mapped[str] = mapped_column(String(300))
    answer_markdown: Mapped[str] = mapped_column(Text)
    # The answer as sanitised HTML, placeholders still in: rendered when the Markdown is set, not per page.
    answer_html: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(index=True)
    published: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @validates("answer_markdown")
    def _render_answer(self, _key: str, markdown: str) -> str:
        self.answer_html = answer_html(markdown)
        return markdown


@event.listens_for(Session, "before_flush")
def _move_faq_version(session: Session, _context: Any, _instances: Any) -> None:
    """A question added, changed or deleted moves ``faq_version`` in the same transaction, so every
    process reads the FAQ again on its next request (and none while the change is not committed)."""
    if any(isinstance(instance, FaqEntry) for instance in (*session.new, *session.dirty, *session.deleted)):
        session.connection().execute(ProgramSettings.__table__.update().values(faq_version=uuid.uuid4().hex))
        if has_app_context():
            g.pop("content_versions", None)
