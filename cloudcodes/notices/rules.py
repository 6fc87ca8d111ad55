"""Who is told what, and how: the notice kinds, the deliveries a user may choose, and the defaults.

A pure rule (no Flask, no database), like ``partners.access``, whose areas it reuses so that a
member never reads by e-mail what the dashboard would not show them.
"""

from __future__ import annotations

from enum import StrEnum

from cloudcodes.partners.access import Area, may_open


class NoticeKind(StrEnum):
    PURCHASE = "purchase"  # a new purchase attributed to the partner
    REFUND = "refund"
    REGISTRATION_ENDING = "registration_ending"  # sent 14 and 3 days before a registration ends
    STATEMENT_READY = "statement_ready"
    LEVEL_CHANGE = "level_change"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


class Delivery(StrEnum):
    IMMEDIATELY = "immediately"
    DIGEST = "digest"
    OFF = "off"

    @property
    def label(self) -> str:
        return DELIVERY_LABELS[self]


KIND_LABELS = {
    NoticeKind.PURCHASE: "New attributed purchase",
    NoticeKind.REFUND: "Refund",
    NoticeKind.REGISTRATION_ENDING: "Registration ending (14 and 3 days before)",
    NoticeKind.STATEMENT_READY: "Payout statement ready",
    NoticeKind.LEVEL_CHANGE: "Level change",
}
DELIVERY_LABELS = {
    Delivery.IMMEDIATELY: "Immediately",
    Delivery.DIGEST: "In the daily digest",
    Delivery.OFF: "Off",
}

# Purchases can come many a day: one mail a day is enough. Everything else is rare and asks for
# action (a refund to look into, a registration to convert, a statement to check): at once.
DEFAULT_DELIVERY = dict.fromkeys(NoticeKind, Delivery.IMMEDIATELY) | {NoticeKind.PURCHASE: Delivery.DIGEST}

# The kinds about money go only to the roles that may see money in the dashboard.
MONEY_KINDS = frozenset({NoticeKind.PURCHASE, NoticeKind.REFUND, NoticeKind.STATEMENT_READY})

# Days before a registration ends at which its reminder is sent, the earliest first.
REMINDER_DAYS = (14, 3)


def may_receive(role: str, kind: NoticeKind) -> bool:
    """Whether a member with ``role`` is told about ``kind`` at all."""
    if kind in MONEY_KINDS:
        return may_open(role, Area.MONEY)
    return may_open(role, Area.MEMBERS)  # every member role


def delivery_for(kind: NoticeKind, chosen: dict[NoticeKind, Delivery]) -> Delivery:
    """The user's choice for ``kind``, or the default when they never chose."""
    return chosen.get(kind, DEFAULT_DELIVERY[kind])


def reminder_due(days_left: int) -> int | None:
    """The reminder (days before) a registration with ``days_left`` whole days left is in the window of.

    A window rather than an exact day, so a day the job did not run is caught up the next day; the
    reminders' unique constraint keeps each one to a single send.
    """
    later = [days for days in REMINDER_DAYS if 0 < days_left <= days]
    return min(later) if later else None
