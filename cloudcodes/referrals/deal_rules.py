"""The rules of deal registration that need no database: the renewal window, working days, and what
counts as a self-referral or as an e-mail address typed where a domain belongs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

RENEWAL_WINDOW_DAYS = 30  # a registration can be renewed in its last 30 days only
DNS_RECHECK_HOURS = 6  # how often an unverified registration's DNS proof is looked for again
CLAIM_NOTE_MAX = 2000
REASON_MAX = 2000


def renewable_from(expires_at: datetime) -> datetime:
    """The moment a registration ending at ``expires_at`` can first be renewed."""
    return expires_at - timedelta(days=RENEWAL_WINDOW_DAYS)


def may_renew(expires_at: datetime, now: datetime) -> bool:
    return renewable_from(expires_at) <= now < expires_at


def add_working_days(start: date, days: int) -> date:
    """The day ``days`` working days (Monday to Friday) after ``start``."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def working_days_left(today: date, due_on: date) -> int:
    """Working days from ``today`` to ``due_on`` (0 on the day itself, negative when overdue)."""
    if due_on >= today:
        return sum(1 for n in range(1, (due_on - today).days + 1) if (today + timedelta(days=n)).weekday() < 5)
    return -sum(1 for n in range(0, (today - due_on).days) if (due_on + timedelta(days=n)).weekday() < 5)


def looks_like_email(text: str) -> bool:
    """``ana@acme.com`` typed where a domain belongs (a URL's ``user@host`` part is not this)."""
    stripped = text.strip()
    return "@" in stripped and "://" not in stripped and "/" not in stripped.split("@", 1)[0]


def is_self_referral(domain: str, own_domains: Iterable[str]) -> bool:
    """Whether ``domain`` (registrable, ASCII) is one of the partner's own: its web site's, its members' e-mail."""
    return domain in set(own_domains)
