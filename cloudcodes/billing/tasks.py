"""Checkouts' job: end the open ones past their 24 hours (``flask checkouts expire``)."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import schedule as every

from cloudcodes.billing.checkout import expire_checkouts
from cloudcodes.jobs.runs import job


@job("checkouts.expire", "End the open checkouts older than 24 hours", schedule=every(timedelta(minutes=15)))
def expire_open_checkouts() -> dict[str, int]:
    return {"checkouts": expire_checkouts()}
