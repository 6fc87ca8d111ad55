"""Payouts: closing a month into one statement per partner, marking statements paid, and CSV exports.

A month is closed once it has ended. Every partner's payable ledger entries that are not yet on a
statement and became payable by the month's last day (the 30-day hold has passed) go into one
statement when they add up to more than zero; a partner whose entries net to zero or less (a
refund after an earlier payout) keeps them open, to be netted against a later month. Paying a
statement appends a ``payout`` entry of minus its total, so the partner's balance (the sum of its
payable entries) drops by exactly what was paid. The ledger stays append-only: closing a month only
links entries to their statement.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.audit.services import record as audit
from cloudcodes.auth.models import User
from cloudcodes.billing.models import LedgerEntry, LedgerKind, PayoutStatement
from cloudcodes.billing.periods import month_end
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.notices.messages import money_fact
from cloudcodes.notices.rules import NoticeKind
from cloudcodes.notices.services import NoticeFor, raise_notices
from cloudcodes.partners.company import missing_payout_items
from cloudcodes.services import ServiceError, transactional

MAX_REFERENCE = 120  # PayoutStatement.payment_reference


class PayoutError(ServiceError):
    """A close or a payment that cannot be done; the message says why, ``field`` names the field at fault."""


# --- Months -----------------------------------------------------------------------------------


def month_label(period_start: date) -> str:
    return formatting.date(period_start, "month")


def ended_months(today: date, count: int = 12) -> list[date]:
    """The first days of the ``count`` months that ended last, the latest first."""
    months = []
    month = today.replace(day=1)
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
        months.append(month)
    return months


# --- Closing a month --------------------------------------------------------------------------


def _open_entries(last_day: date) -> Any:
    """Payable entries on no statement yet whose hold had passed by ``last_day``."""
    return and_(
        LedgerEntry.payable.is_(True),
        LedgerEntry.statement_id.is_(None),
        LedgerEntry.payable_on <= last_day,
    )


@transactional
def close_month(period_start: date, *, by: User) -> list[PayoutStatement]:
    """One statement per partner whose open payable entries up to the month's end add up to more than zero.

    Closing a month again creates statements only for partners that have none for it yet (entries
    that arrived late for the others wait for the next month). Every step is one set-based
    statement, however many partners and entries there are.
    """
    if period_start.day != 1:
        raise PayoutError("Choose a month: the period starts on the first day of a month.", field="month")
    last_day = month_end(period_start)
    if clock.today() <= last_day:
        raise PayoutError(
            f"{month_label(period_start)} has not ended yet: "
            f"it can be closed from {formatting.date(last_day + timedelta(days=1))}.",
            field="month",
        )
    open_entries = _open_entries(last_day)
    has_statement = exists().where(
        PayoutStatement.partner_id == LedgerEntry.partner_id, PayoutStatement.period_start == period_start
    )
    sums = db.session.execute(
        select(
            LedgerEntry.partner_id,
            LedgerEntry.amount_currency,
            func.sum(LedgerEntry.amount_minor),
            func.count(LedgerEntry.id),
        )
        .where(open_entries, ~has_statement)
        .group_by(LedgerEntry.partner_id, LedgerEntry.amount_currency)
        .order_by(LedgerEntry.partner_id)
    ).all()
    partners_seen = [row[0] for row in sums]
    if len(set(partners_seen)) != len(partners_seen):
        raise PayoutError("A partner has ledger entries in more than one currency; they cannot share a statement.")

    now = clock.now()
    statements = [
        PayoutStatement(
            partner_id=partner_id,
            period_start=period_start,
            total=Money(int(total), currency),
            created_at=now,
            created_by_id=by.id,
        )
        for partner_id, currency, total, _count in sums
        if int(total) > 0
    ]
    carried_over = sum(1 for row in sums if int(row[2]) <= 0)
    entries = sum(int(row[3]) for row in sums if int(row[2]) > 0)
    if statements:
        db.session.add_all(statements)
        try:
            db.session.flush()
        except IntegrityError:
            raise PayoutError(
                f"{month_label(period_start)} was being closed by someone else at the same moment. "
                "Look at its statements before closing it again."
            ) from None
        partner_ids = [statement.partner_id for statement in statements]
        statement_of_partner = (
            select(PayoutStatement.id)
            .where(PayoutStatement.partner_id == LedgerEntry.partner_id, PayoutStatement.period_start == period_start)
            .scalar_subquery()
        )
        db.session.execute(
            update(LedgerEntry)
            .where(open_entries, LedgerEntry.partner_id.in_(partner_ids))
            .values(statement_id=statement_of_partner)
            .execution_options(synchronize_session=False)
        )
        # The entries linked must be exactly those summed: an entry recorded in between (a refund
        # arriving on PostgreSQL, where the read above does not lock the ledger) would make a
        # statement's lines disagree with its total, so the whole close is undone instead.
        linked = dict(
            db.session.execute(
                select(LedgerEntry.statement_id, func.sum(LedgerEntry.amount_minor))
                .where(LedgerEntry.statement_id.in_([statement.id for statement in statements]))
                .group_by(LedgerEntry.statement_id)
            ).all()
        )
        if any(int(linked.get(statement.id) or 0) != statement.total.minor for statement in statements):
            raise PayoutError(
                f"The ledger changed while {month_label(period_start)} was being closed; nothing was closed. "
                "Close it again."
            )
    raise_notices(
        NoticeKind.STATEMENT_READY,
        [
            NoticeFor(statement.partner_id, {"period": period_start.isoformat(), "total": money_fact(statement.total)})
            for statement in statements
        ],
    )
    audit(
        "payouts.month_closed",
        actor=by,
        details={
            "period": period_start.isoformat()[:7],
            "statements": len(statements),
            "entries": entries,
            "partners_carried_over": carried_over,
            "total": str(sum((s.total.to_decimal() for s in statements), Decimal(0))),
        },
    )
    return statements


# --- Paying a statement -----------------------------------------------------------------------


@transactional
def mark_paid(statement: PayoutStatement, *, reference: str, by: User) -> PayoutStatement:
    """Record that ``statement`` was paid (once only) and take the amount off the partner's balance."""
    reference = (reference or "").strip()
    if not reference:
        raise PayoutError("Enter the payment reference (the bank transfer's reference).", field="reference")
    if len(reference) > MAX_REFERENCE:
        raise PayoutError(f"The payment reference is at most {MAX_REFERENCE} characters.", field="reference")
    missing = missing_payout_items(statement.partner_id)
    if missing:
        raise PayoutError(
            "This statement cannot be marked as paid while the partner's payout details are incomplete. Missing: "
            f"{'; '.join(missing)}. The partner's owners complete them under Company and payout details.",
            code="payout_details_incomplete",
        )
    now = clock.now()
    # Conditional on still being unpaid: of two people paying at the same moment, one wins.
    claimed = db.session.execute(
        update(PayoutStatement)
        .where(PayoutStatement.id == statement.id, PayoutStatement.paid_at.is_(None))
        .values(paid_at=now, paid_by_id=by.id, payment_reference=reference)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise PayoutError("This statement is already marked as paid; it cannot be paid twice.")
    label = month_label(statement.period_start)
    db.session.add(
        LedgerEntry(
            partner_id=statement.partner_id,
            kind=LedgerKind.PAYOUT,
            payable=True,
            amount=-statement.total,
            statement_id=statement.id,
            effective_on=now.date(),
            payable_on=now.date(),
            description=f"Payout of statement {label} (reference {reference})"[:200],
        )
    )
    audit(
        "payouts.statement_paid",
        actor=by,
        target=statement,
        details={
            "partner_id": statement.partner_id,
            "period": statement.period_start.isoformat()[:7],
            "total": str(statement.total.to_decimal()),
            "reference": reference,
        },
    )
    return statement


# --- The kinds of entry, as the partner reads them ----------------------------------------------


class EntryKind(StrEnum):
    """A ledger entry's kind in the partner's words: accruals and reversals are commission when
    CloudCodes pays them, discount when the partner already took them off the price."""

    COMMISSION = "commission"
    DISCOUNT = "discount"
    REFUND = "refund"
    DISCOUNT_REFUNDED = "discount-refunded"
    PAYOUT = "payout"
    ADJUSTMENT = "adjustment"


ENTRY_KIND_LABELS = {
    EntryKind.COMMISSION: "Commission",
    EntryKind.DISCOUNT: "Discount",
    EntryKind.REFUND: "Refund",
    EntryKind.DISCOUNT_REFUNDED: "Discount refunded",
    EntryKind.PAYOUT: "Payout",
    EntryKind.ADJUSTMENT: "Adjustment",
}
# Each partner-facing kind as the stored kind and, where it tells them apart, whether it is payable.
_STORED_KINDS: dict[EntryKind, tuple[LedgerKind, bool | None]] = {
    EntryKind.COMMISSION: (LedgerKind.ACCRUAL, True),
    EntryKind.DISCOUNT: (LedgerKind.ACCRUAL, False),
    EntryKind.REFUND: (LedgerKind.REVERSAL, True),
    EntryKind.DISCOUNT_REFUNDED: (LedgerKind.REVERSAL, False),
    EntryKind.PAYOUT: (LedgerKind.PAYOUT, None),
    EntryKind.ADJUSTMENT: (LedgerKind.ADJUSTMENT, None),
}


def entry_kind(kind: LedgerKind | str, payable: bool) -> EntryKind:
    """The partner-facing kind of an entry stored as ``kind`` (payable or not)."""
    for shown, (stored, stored_payable) in _STORED_KINDS.items():
        if stored == kind and stored_payable in (None, payable):
            return shown
    raise ValueError(f"No ledger entry is of kind {kind!r}.")


def entry_kind_label(kind: LedgerKind | str, payable: bool) -> str:
    """``Commission``, ``Discount``, ``Refund``, ``Discount refunded``, ``Payout`` or ``Adjustment``."""
    return ENTRY_KIND_LABELS[entry_kind(kind, payable)]


def entries_of_kind(shown: EntryKind) -> Any:
    """The SQL condition for the ledger entries of one partner-facing kind."""
    stored, payable = _STORED_KINDS[shown]
    if payable is None:
        return LedgerEntry.kind == stored
    return and_(LedgerEntry.kind == stored, LedgerEntry.payable.is_(payable))


# --- CSV --------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell as text, neutralised so a spreadsheet never reads it as a formula (a number stays a number)."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return str(value.to_decimal())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    """A CSV file: the header, then each row's cells neutralised by ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def _order_id(entry: LedgerEntry) -> str | None:
    return entry.purchase.order_id if entry.purchase is not None else None


def statement_lines(statement: PayoutStatement) -> list[LedgerEntry]:
    """The entries a statement pays; its payout entry (linked to it once paid) is not one of them."""
    return [entry for entry in statement.entries if entry.kind != LedgerKind.PAYOUT]


def statement_csv(statement: PayoutStatement) -> str:
    """One line per entry of the statement: date, description, order id, amount, currency."""
    return csv_text(
        ["Date", "Description", "Order ID", "Amount", "Currency"],
        (
            [entry.effective_on, entry.description, _order_id(entry), entry.amount, entry.amount.currency]
            for entry in statement_lines(statement)
        ),
    )


def ledger_csv(entries: Iterable[LedgerEntry]) -> str:
    """The ledger as given: date, kind (in the page's words), payable, description, order id, amount,
    currency, statement month."""
    return csv_text(
        ["Date", "Kind", "Payable", "Description", "Order ID", "Amount", "Currency", "Statement"],
        (
            [
                entry.effective_on,
                entry_kind_label(entry.kind, entry.payable),
                entry.payable,
                entry.description,
                _order_id(entry),
                entry.amount,
                entry.amount.currency,
                entry.statement.period_start.isoformat()[:7] if entry.statement is not None else None,
            ]
            for entry in entries
        ),
    )
