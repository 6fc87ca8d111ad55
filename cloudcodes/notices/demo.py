"""Demo notice choices for ``demo seed``: Acme Cloud's owner wants refunds at once and the rest as usual."""

from __future__ import annotations

from sqlalchemy import select

from cloudcodes.auth.services import find_user
from cloudcodes.extensions import db
from cloudcodes.notices.models import NoticePreference
from cloudcodes.notices.rules import Delivery, NoticeKind


def seed_notice_preferences() -> list[tuple[str, str, str]]:
    owner = find_user("owner@acme-cloud.example")
    if owner is None or db.session.scalar(select(NoticePreference.id).where(NoticePreference.user_id == owner.id)):
        return []
    # Chosen once the demo purchases are in, so loading them mails nothing extra.
    db.session.add_all(
        [
            NoticePreference(user_id=owner.id, kind=NoticeKind.REFUND, delivery=Delivery.IMMEDIATELY),
            NoticePreference(user_id=owner.id, kind=NoticeKind.PURCHASE, delivery=Delivery.DIGEST),
        ]
    )
    return []
