"""Levels' jobs: mid-year upgrades daily, the annual qualification on 1 January (``flask program ...``).

Both are safe to run again: a partner already at the level the rules give keeps its records, and
records another run wrote meanwhile are not written twice.
"""

from __future__ import annotations

from celery.schedules import crontab

from cloudcodes import clock
from cloudcodes.jobs.runs import job
from cloudcodes.qualification.services import run_annual_qualification, run_upgrades


@job(
    "program.upgrades",
    "Mid-year upgrades: Resellers that meet every Premier requirement",
    schedule=crontab(minute=0, hour=1),
)
def upgrade_partners() -> dict[str, int]:
    return {"partners": len(run_upgrades(clock.today()))}


@job(
    "program.qualify",
    "Annual qualification: every partner's level for the new year",
    schedule=crontab(minute=30, hour=0, day_of_month=1, month_of_year=1),
)
def qualify_partners() -> dict[str, int]:
    year = clock.today().year
    return {"year": year, "partners": len(run_annual_qualification(year))}
