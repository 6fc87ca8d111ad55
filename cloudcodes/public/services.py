from __future__ import annotations

from sqlalchemy import select

from cloudcodes.extensions import db
from cloudcodes.public.models import FaqEntry


def published_faq() -> list[FaqEntry]:
    return list(
        db.session.scalars(
            select(FaqEntry).where(FaqEntry.published.is_(True)).order_by(FaqEntry.position, FaqEntry.id)
        )
    )


def database_answers() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(select(1))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"; the caller reports it
        db.session.rollback()
        return False
