"""Registrations' job: end the ones past their lifetime, daily (``flask domains expire``)."""

from __future__ import annotations

from celery.schedules import crontab

from cloudcodes import clock
from cloudcodes.jobs.runs import job
from cloudcodes.referrals.services import expire_registrations


@job(
    "domains.expire",
    "End the domain registrations past their lifetime, and their referral codes",
    schedule=crontab(minute=15, hour=0),
)
def expire_domains() -> dict[str, int]:
    report = expire_registrations(clock.now())
    return {"registrations": report.registrations, "codes": report.codes}
