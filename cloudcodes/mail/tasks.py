"""The outbox's job: deliver the queued e-mail, every minute and a moment after a change queued some."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import schedule as every

from cloudcodes.jobs.runs import job
from cloudcodes.mail.outbox import deliver_due


# Not exclusive: each message is locked as it is sent, so two deliveries at once never send one twice,
# and a delivery asked for by a commit need not wait for a sweep that is talking to a slow server.
@job("outbox.deliver", "Deliver the queued e-mail", schedule=every(timedelta(minutes=1)), exclusive=False)
def deliver_outbox() -> dict[str, int]:
    report = deliver_due()
    return {"sent": report.sent, "failed": report.failed, "given_up": report.given_up, "queued": report.queued}
