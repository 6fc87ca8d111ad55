"""The periods a partner can look at its earnings for: this month, last year, a range of days...

Pure: the first and last day of each period, counted from the day it is asked on. Both ends are
included, so "last month" asked on 15 March 2027 runs from 1 to 28 February 2027.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Period(StrEnum):
    ALL = ""
    THIS_MONTH = "this-month"
    LAST_MONTH = "last-month"
    LAST_12_MONTHS = "last-12-months"
    THIS_YEAR = "this-year"
    LAST_YEAR = "last-year"
    CUSTOM = "custom"


PERIOD_LABELS = {
    Period.ALL: "All time",
    Period.THIS_MONTH: "This month",
    Period.LAST_MONTH: "Last month",
    Period.LAST_12_MONTHS: "The last 12 months",
    Period.THIS_YEAR: "This year",
    Period.LAST_YEAR: "Last year",
    Period.CUSTOM: "Days I choose",
}


@dataclass(frozen=True)
class DateRange:
    """From ``first`` to ``last``, both included; ``None`` at an end means no limit there."""

    first: date | None = None
    last: date | None = None

    @property
    def end_exclusive(self) -> date | None:
        """The day after ``last``: what a timestamp must be before to fall in the range."""
        return self.last + timedelta(days=1) if self.last is not None else None


def _month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(period_start: date) -> date:
    """The last day of the month ``period_start`` is in."""
    return period_start.replace(day=calendar.monthrange(period_start.year, period_start.month)[1])


def _months_back(month_start: date, months: int) -> date:
    index = month_start.year * 12 + month_start.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def period_range(period: Period, today: date, first: date | None = None, last: date | None = None) -> DateRange:
    """The days ``period`` covers as asked on ``today``; ``first`` and ``last`` are the custom period's own."""
    this_month = _month_start(today)
    if period == Period.THIS_MONTH:
        return DateRange(this_month, today)
    if period == Period.LAST_MONTH:
        return DateRange(_months_back(this_month, 1), this_month - timedelta(days=1))
    if period == Period.LAST_12_MONTHS:
        # This month and the eleven before it: the months the overview's chart shows.
        return DateRange(_months_back(this_month, 11), today)
    if period == Period.THIS_YEAR:
        return DateRange(date(today.year, 1, 1), today)
    if period == Period.LAST_YEAR:
        return DateRange(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    if period == Period.CUSTOM:
        return DateRange(first, last)
    return DateRange()
