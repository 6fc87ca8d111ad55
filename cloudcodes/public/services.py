from __future__ import annotations

from sqlalchemy import Row, select, text

from cloudcodes.extensions import db
from cloudcodes.public.models import FaqEntry

_PUBLISHED = (
    select(FaqEntry.slug, FaqEntry.question, FaqEntry.answer_html)
    .where(FaqEntry.published.is_(True))
    .order_by(FaqEntry.position, FaqEntry.id)
)


def published_faq() -> list[Row[tuple[str, str, str]]]:
    """The published questions as rows (slug, question, answer_html), in order."""
    return list(db.session.execute(_PUBLISHED))


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
