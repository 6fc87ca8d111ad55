"""The one place the portal reads the time from.

Everything that needs "now" or "today" calls these functions, so tests can move time with
time-machine and commands taking ``--as-of`` can pass an explicit date instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC: the program's calendar (levels, lifetimes, holds) runs on UTC."""
    return now().date()


def start_of_day(day: date) -> datetime:
    """The first instant of a program day (the program's days are UTC days)."""
    return datetime.combine(day, time.min, tzinfo=UTC)
