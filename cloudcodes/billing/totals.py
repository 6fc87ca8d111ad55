"""Each partner's sums per calendar month, kept as its rows are written (``PartnerMonthTotals``).

Every purchase, refund and ledger entry the ORM inserts adds to its partner's month in the same
flush, so the totals commit (or roll back) with the rows they count: an upsert that adds, so two
transactions writing for one partner at once both count. Pages and the level rules then read a
partner's history as a dozen rows however many purchases it has; only the current month's edges are
summed from the rows themselves. Rows written around the ORM (bulk loads) are counted by
``rebuild``, which sums everything again from the rows.

Ledger entries are append-only and purchases are fixed when recorded, so inserts are all there is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloudcodes.billing.models import LedgerEntry, LedgerKind, PartnerMonthTotals, Purchase, Refund

EARNING_KINDS = (LedgerKind.ACCRUAL, LedgerKind.REVERSAL, LedgerKind.ADJUSTMENT)
SUMS = ("revenue_minor", "refunded_minor", "earned_minor", "payable_minor", "discounts_minor", "paid_out_minor")
Key = tuple[int, date]


def month_of(moment: date | datetime) -> date:
    """The first day of the UTC month ``moment`` falls in (a naive datetime is taken as UTC)."""
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    return moment.replace(day=1)


def _add_entry(sums: dict[Key, dict[str, int]], partner_id: int, day: date, kind: str, payable: bool, minor: int):
    month = sums[(partner_id, month_of(day))]
    if kind in EARNING_KINDS:
        month["earned_minor"] += minor
    month["payable_minor" if payable else "discounts_minor"] += minor
    if kind == LedgerKind.PAYOUT:
        month["paid_out_minor"] -= minor


def _new_sums() -> dict[Key, dict[str, int]]:
    return defaultdict(lambda: dict.fromkeys(SUMS, 0))


def _counted_in(session: Session, objects: Iterable[Any]) -> dict[Key, dict[str, int]]:
    sums = _new_sums()
    for row in objects:
        if isinstance(row, Purchase) and row.partner_id is not None:
            sums[(row.partner_id, month_of(row.purchased_at))]["revenue_minor"] += row.amount.minor
        elif isinstance(row, Refund):
            # From the identity map (the service that refunds has the purchase loaded): no lazy load mid-flush.
            purchase = session.get(Purchase, row.purchase_id)
            if purchase is not None and purchase.partner_id is not None:
                sums[(purchase.partner_id, month_of(purchase.purchased_at))]["refunded_minor"] += row.amount.minor
        elif isinstance(row, LedgerEntry):
            _add_entry(sums, row.partner_id, row.effective_on, row.kind, row.payable, row.amount.minor)
    return sums


def _adding_upsert(insert: Any) -> Any:
    statement = insert(PartnerMonthTotals)
    table = PartnerMonthTotals.__table__
    return statement.on_conflict_do_update(
        index_elements=["partner_id", "month"],
        set_={name: table.c[name] + statement.excluded[name] for name in SUMS},
    )


# Built once per dialect and run with the rows as parameters: building it cost more than running it.
_ADDING_UPSERT = {"postgresql": _adding_upsert(postgresql.insert), "sqlite": _adding_upsert(sqlite.insert)}


def _upsert(connection: Any, sums: dict[Key, dict[str, int]]) -> None:
    rows = [{"partner_id": key[0], "month": key[1], **values} for key, values in sorted(sums.items())]
    if rows:
        connection.execute(_ADDING_UPSERT[connection.dialect.name], rows)


@event.listens_for(Session, "after_flush")
def _count_what_was_flushed(session: Session, _context: Any) -> None:
    # Sorted keys: two transactions adding to the same months lock their rows in the same order.
    sums = _counted_in(session, session.new)
    if sums:
        _upsert(session.connection(), sums)


def rebuild(session: Session, partner_ids: list[int] | None = None) -> None:
    """Sum the partners' months again from their rows (all partners when ``partner_ids`` is None)."""

    def only(column: Any, query: Any) -> Any:
        return query if partner_ids is None else query.where(column.in_(partner_ids))

    sums = _new_sums()
    purchases = only(
        Purchase.partner_id,
        select(Purchase.partner_id, Purchase.purchased_at, Purchase.amount_minor).where(
            Purchase.partner_id.is_not(None)
        ),
    )
    for partner_id, purchased_at, minor in session.execute(purchases):
        sums[(partner_id, month_of(purchased_at))]["revenue_minor"] += minor
    refunds = only(
        Purchase.partner_id,
        select(Purchase.partner_id, Purchase.purchased_at, Refund.amount_minor)
        .join(Purchase, Purchase.id == Refund.purchase_id)
        .where(Purchase.partner_id.is_not(None)),
    )
    for partner_id, purchased_at, minor in session.execute(refunds):
        sums[(partner_id, month_of(purchased_at))]["refunded_minor"] += minor
    entries = only(
        LedgerEntry.partner_id,
        select(
            LedgerEntry.partner_id,
            LedgerEntry.effective_on,
            LedgerEntry.kind,
            LedgerEntry.payable,
            func.sum(LedgerEntry.amount_minor),
        ).group_by(LedgerEntry.partner_id, LedgerEntry.effective_on, LedgerEntry.kind, LedgerEntry.payable),
    )
    for partner_id, day, kind, payable, minor in session.execute(entries):
        _add_entry(sums, partner_id, day, kind, payable, int(minor))
    session.execute(only(PartnerMonthTotals.partner_id, delete(PartnerMonthTotals)))
    rows = [{"partner_id": key[0], "month": key[1], **values} for key, values in sorted(sums.items())]
    for start in range(0, len(rows), 2_000):
        session.execute(insert(PartnerMonthTotals), rows[start : start + 2_000])


def _kept(session: Session) -> dict[Key, tuple[int, ...]]:
    rows = session.scalars(select(PartnerMonthTotals))
    return {(row.partner_id, row.month): tuple(getattr(row, name) for name in SUMS) for row in rows}


def differences(session: Session) -> list[tuple[Key, tuple[int, ...] | None, tuple[int, ...] | None]]:
    """Each (partner, month) whose kept totals differ from its rows summed again: (key, kept, summed).

    Empty unless rows were written around the ORM (a bulk load, a hand-made SQL fix) and not rebuilt.
    """
    kept = _kept(session)
    with session.begin_nested() as savepoint:
        rebuild(session)
        summed = _kept(session)
        savepoint.rollback()
    zero = (0,) * len(SUMS)
    return [
        (key, kept.get(key), summed.get(key))
        for key in sorted(kept.keys() | summed.keys())
        if kept.get(key, zero) != summed.get(key, zero)
    ]
