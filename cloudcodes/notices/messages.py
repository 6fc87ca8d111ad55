"""What each notice says: its subject, its one-line summary and the dashboard page it points to.

Written from the notice's ``facts`` (data stored with it) when the mail, the digest or the dashboard
shows it, through the one set of formatting functions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cloudcodes import formatting
from cloudcodes.money import Money
from cloudcodes.notices.rules import NoticeKind

# The dashboard page each kind points to (a Flask endpoint, turned into a link by the caller).
PAGE_OF_KIND = {
    NoticeKind.PURCHASE: "dashboard.earnings",
    NoticeKind.REFUND: "dashboard.earnings",
    NoticeKind.STATEMENT_READY: "dashboard.earnings",
    NoticeKind.REGISTRATION_ENDING: "dashboard.referrals",
    NoticeKind.LEVEL_CHANGE: "dashboard.index",
}


def money_fact(money: Money) -> dict[str, str]:
    """A sum as the facts keep it: ``{"amount": "150.00", "currency": "USD"}``."""
    return {"amount": str(money.to_decimal()), "currency": money.currency}


def _money(facts: dict[str, Any], key: str) -> str:
    value = facts.get(key)
    if not isinstance(value, dict):
        return formatting.NONE_TEXT
    return formatting.money(Money.parse(value["amount"], value["currency"]))


def _day(facts: dict[str, Any], key: str, format: str = "long") -> str:
    value = facts.get(key)
    return formatting.date(date.fromisoformat(value), format) if isinstance(value, str) else formatting.NONE_TEXT


def subject(kind: NoticeKind, facts: dict[str, Any]) -> str:
    if kind == NoticeKind.PURCHASE:
        return f"New purchase by {facts.get('domain')}: {_money(facts, 'amount')}"
    if kind == NoticeKind.REFUND:
        return f"Refund for {facts.get('domain')}: {_money(facts, 'amount')}"
    if kind == NoticeKind.REGISTRATION_ENDING:
        return (
            f"Your registration of {facts.get('domain')} ends in {formatting.plural(facts.get('days_left', 0), 'day')}"
        )
    if kind == NoticeKind.STATEMENT_READY:
        return f"Your payout statement for {_day(facts, 'period', 'month')} is ready: {_money(facts, 'total')}"
    return f"Your partner level changes to {facts.get('level_name')} from {_day(facts, 'effective_from')}"


def summary(kind: NoticeKind, facts: dict[str, Any]) -> str:
    """The notice in one sentence, for the digest and the dashboard's latest activity."""
    if kind == NoticeKind.PURCHASE:
        earning = facts.get("earning_kind") or "commission"
        seats = formatting.plural(facts.get("seats", 0), "seat")
        return (
            f"{facts.get('domain')} bought {facts.get('product')} ({seats}) for {_money(facts, 'amount')}, "
            f"order {facts.get('order_id')}: your {earning} is {_money(facts, 'earning')}."
        )
    if kind == NoticeKind.REFUND:
        text = f"{facts.get('domain')} was refunded {_money(facts, 'amount')} of order {facts.get('order_id')}"
        if facts.get("reversed"):
            earning = facts.get("earning_kind") or "commission"
            return f"{text}; {_money(facts, 'reversed')} of your {earning} is taken back."
        return f"{text}."
    if kind == NoticeKind.REGISTRATION_ENDING:
        days = formatting.plural(facts.get("days_left", 0), "day")
        return (
            f"Your registration of {facts.get('domain')} ends on {_day(facts, 'ends_on')}, in {days}: "
            "a purchase before then keeps the customer yours, and your Referrals page renews it if the deal goes on."
        )
    if kind == NoticeKind.STATEMENT_READY:
        return (
            f"Your payout statement for {_day(facts, 'period', 'month')} is ready: {_money(facts, 'total')}, "
            "to be paid to your payout account."
        )
    previous = facts.get("previous_name")
    change = f" (from {previous})" if previous else ""
    return (
        f"Your partner level becomes {facts.get('level_name')}{change} on {_day(facts, 'effective_from')}, "
        f"with a margin of {facts.get('margin_text')}."
    )
