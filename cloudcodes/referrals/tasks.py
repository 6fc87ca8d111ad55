"""Registrations' jobs: end the ones past their lifetime (daily), look for their proofs (every six hours)."""

from __future__ import annotations

from celery.schedules import crontab

from cloudcodes import clock
from cloudcodes.jobs.runs import job
from cloudcodes.referrals.proof import recheck_unverified
from cloudcodes.referrals.services import expire_registrations


@job(
    "domains.expire",
    "End the domain registrations past their lifetime, and their referral codes",
    schedule=crontab(minute=15, hour=0),
)
def expire_domains() -> dict[str, int]:
    report = expire_registrations(clock.now())
    return {"registrations": report.registrations, "codes": report.codes}


@job(
    "domains.verify",
    "Look again for the DNS proof and evidence of unverified registrations",
    schedule=crontab(minute=40, hour="*/6"),
)
def verify_domains() -> dict[str, int]:
    report = recheck_unverified(clock.now())
    return {"checked": report.checked, "verified": report.verified, "unavailable": report.unavailable}
