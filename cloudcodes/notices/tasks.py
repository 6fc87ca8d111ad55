"""The notices' jobs: the daily digest and the reminders of registrations ending (``flask notices ...``)."""

from __future__ import annotations

from celery.schedules import crontab

from cloudcodes.jobs.runs import job
from cloudcodes.notices.services import send_digests, send_reminders


@job(
    "notices.reminders",
    "Remind partners of registrations ending in 14 and in 3 days",
    schedule=crontab(minute=30, hour=6),
)
def remind() -> dict[str, int]:
    report = send_reminders()
    return {"registrations": report.registrations, "notices": report.notices}


@job(
    "notices.digest",
    "Send each partner user one digest of the notices waiting for it",
    schedule=crontab(minute=0, hour=7),
)
def digest() -> dict[str, int]:
    report = send_digests()
    return {"mails": report.mails, "notices": report.notices}
