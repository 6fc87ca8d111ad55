"""The outbox's gauges on /metrics: how much mail waits, how much was given up, how late the oldest is.

Read from the database at each scrape (``cloudcodes.observability.register_gauge``), so every
gunicorn worker answers the same numbers. An alert on a growing backlog or an old queued message
notices a delivery job that stopped.
"""

from __future__ import annotations

from sqlalchemy import func, select

from cloudcodes import clock, observability
from cloudcodes.extensions import db
from cloudcodes.mail.models import MailStatus, OutboxMessage

BACKLOG_STATUSES = (MailStatus.QUEUED, MailStatus.FAILED)


def outbox_backlog() -> dict[str, int]:
    """Messages waiting to be sent (``queued``) and given up on (``failed``); sent ones are not counted."""
    counts = dict.fromkeys((status.value for status in BACKLOG_STATUSES), 0)
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(BACKLOG_STATUSES))
        .group_by(OutboxMessage.status)
    )
    for status, count in rows:
        counts[MailStatus(status).value] = count
    return counts


def oldest_queued_age_seconds() -> float:
    """How long the oldest queued message has waited; 0 with none waiting."""
    oldest = db.session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == MailStatus.QUEUED)
    )
    if oldest is None:
        return 0.0
    return max((clock.now() - oldest).total_seconds(), 0.0)


observability.register_gauge(
    "cloudcodes_outbox_messages",
    "E-mails in the outbox by status: queued (waiting to be sent) and failed (given up on).",
    outbox_backlog,
    label="status",
)
observability.register_gauge(
    "cloudcodes_outbox_oldest_queued_seconds",
    "How long the oldest queued e-mail has waited, in seconds (0 when none waits).",
    oldest_queued_age_seconds,
)
