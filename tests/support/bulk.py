"""A partner with many purchases, fast: for statement budgets and other tests that need volume.

The ORM would insert 10,000 purchases one by one (and their ledger entries after them), which
takes minutes; these rows go in as a few core ``INSERT``s with lists of parameters (executemany),
a few seconds on SQLite and PostgreSQL alike. The rows follow what ``record_purchase``,
``record_refund``, ``close_month`` and ``mark_paid`` write (the same columns, signs and dates),
so pages read them as they read real ones (the partner's monthly totals are summed again from them
at the end); what they skip is the services' checks and side effects (mail, audit, signals), which
a volume test does not look at.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select

from cloudcodes import clock
from cloudcodes.billing import totals
from cloudcodes.billing.commission import commission_for
from cloudcodes.billing.models import (
    AttributionRule,
    Channel,
    LedgerEntry,
    LedgerKind,
    PayoutStatement,
    Product,
    Purchase,
    PurchaseSource,
    Refund,
)
from cloudcodes.extensions import db
from cloudcodes.partners.services import level_record_on
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain

CHUNK = 2_000  # rows per executemany: bounded memory, few round trips


@dataclass
class BulkData:
    """What ``give_purchases`` made, for tests to compare pages with."""

    partner_id: int
    purchase_ids: list[int] = field(default_factory=list)
    refund_count: int = 0
    registration_ids: list[int] = field(default_factory=list)
    code_ids: list[int] = field(default_factory=list)
    statement_ids: list[int] = field(default_factory=list)


def _chunks(rows: list[dict], size: int = CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(model, rows: list[dict]) -> None:
    for chunk in _chunks(rows):
        db.session.execute(insert(model.__table__), chunk)


BULK_CAP = 100_000


def lift_registration_caps() -> None:
    """Let partners hold more domains than the program allows: the cap is not what bulk tests are about."""
    from cloudcodes.program.services import update_program_terms

    if program_terms().reseller_registration_cap < BULK_CAP:
        update_program_terms(reseller_registration_cap=BULK_CAP, premier_registration_cap=BULK_CAP)


def give_purchases(
    partner,
    count: int,
    *,
    domains: int = 3,
    refund_every: int = 10,
    statements: int = 2,
    months: int = 14,
    prefix: str | None = None,
) -> BulkData:
    """Give ``partner`` ``count`` attributed purchases with their ledger entries, committed.

    ``domains`` registrations, each with a referral code (made through the services, so they are
    real); purchases spread over the last ``months`` months, across every product, alternately
    direct and through the partner, by code and by registration; every ``refund_every``-th one
    refunded in half (with its reversal); the ``statements`` oldest whole months closed into
    statements, the oldest of them paid. The partner's level record must cover the oldest
    purchase: make the partner with ``effective_from`` that far back (``make_partner`` does).
    """
    partner_id = getattr(partner, "id", partner)
    prefix = prefix or f"bulk-{partner_id}"
    result = BulkData(partner_id=partner_id)
    from cloudcodes.partners.models import Partner

    partner_obj = db.session.get(Partner, partner_id)
    lift_registration_caps()
    now = clock.now()
    oldest = now - timedelta(days=30 * months)
    registrations: list[DomainRegistration] = []
    codes: list[ReferralCode] = []
    for number in range(domains):
        registration = register_domain(partner_obj, f"{prefix}-customer{number}.com", by=None)
        registrations.append(registration)
        codes.append(issue_code(registration, by=None))
    db.session.flush()
    # Registered before the oldest purchase and converted by it, as real attribution leaves them.
    for registration in registrations:
        registration.registered_at = oldest - timedelta(days=1)
        registration.expires_at = max(registration.expires_at, now + timedelta(days=30))
        registration.converted_at = oldest
    db.session.commit()
    result.registration_ids = [r.id for r in registrations]
    result.code_ids = [c.id for c in codes]

    products = db.session.execute(
        select(Product.id, Product.price_per_seat_minor, Product.price_per_seat_currency)
    ).all()
    terms = program_terms()
    hold = timedelta(days=terms.commission_hold_days)
    step = (now - timedelta(hours=1) - oldest) / max(count, 1)
    level = level_record_on(partner_id, oldest.date())
    if level is None:
        raise ValueError("the partner has no level on the oldest purchase date: make it with effective_from earlier")
    margin = terms.margin_pct(level.level)

    purchase_rows: list[dict] = []
    for index in range(count):
        product_id, price, currency = products[index % len(products)]
        seats = 1 + index % 7
        purchased_at = oldest + step * index
        by_code = index % 2 == 0
        slot = index % len(registrations)
        amount = price * seats
        points = terms.volume_points(level.level, seats)
        commission = commission_for(_money(amount, currency), margin, points)
        order_id = f"{prefix}-{index:06d}"
        purchase_rows.append(
            {
                "order_id": order_id,
                "source": PurchaseSource.API,
                "request_hash": hashlib.sha256(order_id.encode()).hexdigest(),
                "customer_domain": registrations[slot].domain,
                "product_id": product_id,
                "seats": seats,
                "amount_minor": amount,
                "amount_currency": currency,
                "channel": Channel.DIRECT if index % 3 else Channel.RESELLER,
                "purchased_at": purchased_at,
                "recorded_at": purchased_at,
                "referral_code_text": codes[slot].code if by_code else None,
                "referral_code_id": codes[slot].id if by_code else None,
                "code_check": "ok" if by_code else None,
                "partner_id": partner_id,
                "registration_id": registrations[slot].id,
                "attribution": AttributionRule.CODE if by_code else AttributionRule.REGISTRATION,
                "attribution_note": "",
                "level": level.level,
                "margin_pct": margin,
                "volume_points": points,
                "commission_minor": commission.minor,
                "commission_currency": commission.currency,
                "checkout_id": None,
            }
        )
    _insert(Purchase, purchase_rows)
    ids = dict(
        db.session.execute(select(Purchase.order_id, Purchase.id).where(Purchase.order_id.like(f"{prefix}-%"))).all()
    )
    result.purchase_ids = [ids[row["order_id"]] for row in purchase_rows]

    refund_rows: list[dict] = []
    for index, row in enumerate(purchase_rows):
        if refund_every and index % refund_every == refund_every - 1:
            refund_id = f"{row['order_id']}-r"
            refunded_at = min(row["purchased_at"] + timedelta(days=3), now - timedelta(minutes=1))
            refund_rows.append(
                {
                    "refund_id": refund_id,
                    "purchase_id": result.purchase_ids[index],
                    "partner_id": partner_id,
                    "request_hash": hashlib.sha256(refund_id.encode()).hexdigest(),
                    "amount_minor": row["amount_minor"] // 2,
                    "amount_currency": row["amount_currency"],
                    "refunded_at": refunded_at,
                    "recorded_at": refunded_at,
                    "commission_reversal_minor": row["commission_minor"] // 2,
                    "commission_reversal_currency": row["commission_currency"],
                }
            )
    _insert(Refund, refund_rows)
    result.refund_count = len(refund_rows)
    refund_ids = dict(
        db.session.execute(select(Refund.purchase_id, Refund.id).where(Refund.refund_id.like(f"{prefix}-%"))).all()
    )

    entry_rows: list[dict] = []
    for index, row in enumerate(purchase_rows):
        purchase_id = result.purchase_ids[index]
        direct = row["channel"] == Channel.DIRECT
        day = row["purchased_at"].date()
        payable_on = day + hold if direct else day
        entry_rows.append(
            _entry(
                partner_id,
                LedgerKind.ACCRUAL,
                direct,
                row["commission_minor"],
                row["commission_currency"],
                purchase_id,
                None,
                day,
                payable_on,
                f"Commission on order {row['order_id']}",
            )
        )
        if purchase_id in refund_ids and row["commission_minor"] // 2:
            refunded_on = (min(row["purchased_at"] + timedelta(days=3), now - timedelta(minutes=1))).date()
            entry_rows.append(
                _entry(
                    partner_id,
                    LedgerKind.REVERSAL,
                    direct,
                    -(row["commission_minor"] // 2),
                    row["commission_currency"],
                    purchase_id,
                    refund_ids[purchase_id],
                    refunded_on,
                    max(refunded_on, payable_on),
                    f"Refund {row['order_id']}-r of order {row['order_id']}",
                )
            )
    _insert(LedgerEntry, entry_rows)
    db.session.commit()

    result.statement_ids = _close_statements(partner_id, statements, oldest.date(), now)
    # The rows went in around the ORM, so its flush did not count them in the monthly totals.
    totals.rebuild(db.session, [partner_id])
    db.session.commit()
    return result


def _money(minor: int, currency: str):
    from cloudcodes.money import Money

    return Money(minor, currency)


def _entry(partner_id, kind, payable, minor, currency, purchase_id, refund_id, effective_on, payable_on, text):
    return {
        "partner_id": partner_id,
        "kind": kind,
        "payable": payable,
        "amount_minor": minor,
        "amount_currency": currency,
        "purchase_id": purchase_id,
        "refund_id": refund_id,
        "statement_id": None,
        "effective_on": effective_on,
        "payable_on": payable_on,
        "description": text[:200],
        "created_at": datetime.combine(effective_on, datetime.min.time(), UTC),
        "created_by_id": None,
    }


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _close_statements(partner_id: int, count: int, oldest: date, now: datetime) -> list[int]:
    """Close the ``count`` oldest whole months as ``close_month`` would (one UPDATE each), the first paid."""
    ids: list[int] = []
    period = _next_month(_month_start(oldest))  # the first whole month
    while len(ids) < count:
        last_day = _next_month(period) - timedelta(days=1)
        if last_day >= now.date():
            break
        open_entries = (
            LedgerEntry.partner_id == partner_id,
            LedgerEntry.payable.is_(True),
            LedgerEntry.statement_id.is_(None),
            LedgerEntry.payable_on <= last_day,
        )
        total, currency = db.session.execute(
            select(func.sum(LedgerEntry.amount_minor), func.max(LedgerEntry.amount_currency)).where(*open_entries)
        ).one()
        if not total or total <= 0:
            period = _next_month(period)
            continue
        closed_at = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
        statement = PayoutStatement(
            partner_id=partner_id, period_start=period, total=_money(int(total), currency), created_at=closed_at
        )
        db.session.add(statement)
        db.session.flush()
        db.session.execute(LedgerEntry.__table__.update().where(*open_entries).values(statement_id=statement.id))
        if not ids:
            paid_at = closed_at + timedelta(days=5)
            statement.paid_at = paid_at
            statement.payment_reference = f"BULK-{partner_id}-{period:%Y%m}"
            db.session.add(
                LedgerEntry(
                    partner_id=partner_id,
                    kind=LedgerKind.PAYOUT,
                    payable=True,
                    amount=-statement.total,
                    statement_id=statement.id,
                    effective_on=paid_at.date(),
                    payable_on=paid_at.date(),
                    description=f"Payout of statement {period:%B %Y} (reference {statement.payment_reference})",
                    created_at=paid_at,
                )
            )
        ids.append(statement.id)
        period = _next_month(period)
    return ids


__all__ = ["BulkData", "give_purchases"]
