"""Manual ledger adjustments: a manager's correction of a partner's balance, with a reason.

An adjustment is an ``adjustment`` ledger entry (either sign, never zero), payable at once, written by a
manager of the partner (or an admin) with the reason as its description; the ledger stays append-only,
so a wrong adjustment is corrected by another one. Closing the month it falls in puts it on the
partner's statement like any other open payable entry; a negative one larger than what is owed makes
the month net to zero or less, so it stays open and carries over to a later month (``close_month``).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.billing.models import LedgerEntry, LedgerKind
from cloudcodes.extensions import db
from cloudcodes.money import Money, MoneyError, minor_digits
from cloudcodes.partners.models import Partner
from cloudcodes.partners.services import may_manage
from cloudcodes.program.services import program_terms
from cloudcodes.services import ServiceError, transactional

LABEL = "Adjustment: "
REASON_MAX_LENGTH = 200 - len(LABEL)  # LedgerEntry.description
MAX_MAJOR_UNITS = 100_000  # the largest adjustment either way, in major units (dollars)
_AMOUNT = re.compile(r"[+-]?\d{1,9}(\.\d+)?")


class AdjustmentError(ServiceError):
    pass


class NotPartnersManager(PermissionError):
    pass


def partner_currency(partner: Partner) -> str:
    """The currency of the partner's ledger (its latest entry), the program's for a partner without one."""
    currency = db.session.scalar(
        select(LedgerEntry.amount_currency)
        .where(LedgerEntry.partner_id == partner.id)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return currency or program_terms().currency


def parse_amount(text: str, currency: str) -> Money:
    """A signed amount such as ``-120.50``: digits, at most the currency's decimals, not zero, not huge."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    if not cleaned:
        raise AdjustmentError("Enter the amount, e.g. 120.50 (or -120.50 to take money back).", "amount")
    if not _AMOUNT.fullmatch(cleaned):
        raise AdjustmentError(f"{text.strip()[:40]!r} is not an amount: write it like 120.50 or -120.50.", "amount")
    try:
        amount = Money.parse(cleaned, currency)
    except MoneyError as error:
        raise AdjustmentError(str(error), "amount") from None
    if amount.minor == 0:
        raise AdjustmentError("An adjustment cannot be zero.", "amount")
    limit = MAX_MAJOR_UNITS * 10 ** minor_digits(currency)
    if abs(amount.minor) > limit:
        raise AdjustmentError(
            f"An adjustment is at most {MAX_MAJOR_UNITS:,} {currency} either way; split a larger correction.",
            "amount",
        )
    return amount


def label(reason: str) -> str:
    return f"{LABEL}{reason}"


@transactional
def adjust_ledger(partner: Partner, amount_text: str, reason: str, *, by: User) -> LedgerEntry:
    """Append an adjustment to the partner's ledger, payable from today, and audit it."""
    if not may_manage(by, partner):
        raise NotPartnersManager("Only the partner's channel sales manager (or an admin) can adjust its ledger.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise AdjustmentError("Say why: the reason is shown to the partner on its statement.", "reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise AdjustmentError(f"Keep the reason under {REASON_MAX_LENGTH} characters.", "reason")
    amount = parse_amount(amount_text, partner_currency(partner))
    today = clock.today()
    entry = LedgerEntry(
        partner_id=partner.id,
        kind=LedgerKind.ADJUSTMENT,
        payable=True,
        amount=amount,
        effective_on=today,
        payable_on=today,
        description=label(reason),
        created_by_id=by.id,
        created_at=clock.now(),
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "ledger.adjusted",
        actor=by,
        target=partner,
        details={
            "before": None,
            "after": {
                "entry_id": entry.id,
                "amount": str(amount.to_decimal()),
                "currency": amount.currency,
                "reason": reason,
            },
        },
    )
    return entry


def adjustments_of(partner: Partner, limit: int = 20) -> list[LedgerEntry]:
    """The partner's latest adjustments, newest first."""
    return list(
        db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.partner_id == partner.id, LedgerEntry.kind == LedgerKind.ADJUSTMENT)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )
