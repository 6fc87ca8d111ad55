"""Recording purchases and refunds: attribution, the commission, and the ledger entries, exactly once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from blinker import Namespace
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.billing.commission import RefundTooLarge, commission_for, reversal_for
from cloudcodes.billing.models import (
    AttributionRule,
    Channel,
    Checkout,
    CheckoutStatus,
    LedgerEntry,
    LedgerKind,
    Product,
    Purchase,
    PurchaseSource,
    Refund,
)
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.money import Money
from cloudcodes.notices.messages import money_fact
from cloudcodes.notices.rules import NoticeKind
from cloudcodes.notices.services import NoticeFor, raise_notices
from cloudcodes.partners.models import Partner, PartnerStatus
from cloudcodes.partners.services import level_record_on
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import Level, format_percent
from cloudcodes.referrals.codes import CodeError, parse_code
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import active_registration, check_code, is_live
from cloudcodes.services import ServiceError, after_commit, transactional
from cloudcodes.urls import external_url

CHANNELS = tuple(Channel)

# Sent (with ``partner_id``, and the partner's ``level`` on the purchase's day ``on``) once an attributed
# purchase is committed. The level rules listen: the revenue may complete a partner's Premier
# requirements, and billing need not know about levels.
purchase_recorded = Namespace().signal("purchase-recorded")


class BillingError(ServiceError):
    """A request that cannot be recorded; ``status`` is the HTTP answer, ``code`` the API's error code."""


class Conflict(BillingError):
    status = 409


class NotFound(BillingError):
    status = 404


class Unprocessable(BillingError):
    status = 422


class Gone(BillingError):
    status = 410


def fingerprint(payload: Any) -> str:
    """The same request, whatever the key order or spacing, has the same fingerprint."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # JSON may carry a lone surrogate ("\ud800"), which strict UTF-8 cannot encode: hash it as it came.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class PurchaseInput:
    order_id: str
    customer_domain: str
    product_sku: str
    seats: int
    amount: Money
    channel: Channel
    purchased_at: datetime
    referral_code: str | None = None
    source: PurchaseSource = PurchaseSource.API
    checkout_id: str | None = None  # the /redeem checkout this purchase pays, when it was bought there


@dataclass(frozen=True)
class Attribution:
    rule: AttributionRule
    note: str
    partner: Partner | None = None
    code_check: str | None = None
    referral: ReferralCode | None = None
    registration: DomainRegistration | None = None
    level: Level | None = None  # the partner's level on the purchase date, when the code check read it


def attribute(domain: str, raw_code: str | None, at: datetime) -> Attribution:
    """SPEC's rules, first match wins: a valid code for the domain, its registration, an earlier purchase."""
    code_check = None
    code_note = ""
    if raw_code and raw_code.strip():
        check = check_code(raw_code, domain, at)
        code_check = check.reason
        if check.ok and check.referral is not None:
            return Attribution(
                AttributionRule.CODE,
                f"Referral code {check.code}",
                check.partner,
                code_check,
                check.referral,
                check.referral.registration,
                check.level,
            )
        code_note = f"Code not used ({check.reason}). "
    registration = active_registration(domain)
    if registration is not None and is_live(registration, at) and registration.partner.is_active:
        return Attribution(
            AttributionRule.REGISTRATION,
            code_note + "Domain registered by the partner",
            registration.partner,
            code_check,
            None,
            registration,
        )
    earlier = db.session.scalar(
        select(Purchase)
        .join(Partner, Purchase.partner_id == Partner.id)
        .where(
            Purchase.customer_domain == domain,
            Purchase.purchased_at < at,
            Partner.status == PartnerStatus.ACTIVE,
        )
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(1)
    )
    if earlier is not None:
        return Attribution(
            AttributionRule.RENEWAL, code_note + f"Renewal of order {earlier.order_id}", earlier.partner, code_check
        )
    return Attribution(
        AttributionRule.NONE,
        code_note + "No referral code, registration or earlier purchase for this domain",
        None,
        code_check,
    )


@dataclass(frozen=True)
class Recorded:
    purchase: Purchase
    created: bool  # False when the same request had already been recorded


def _product(sku: str) -> Product:
    product = db.session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise BillingError(f"There is no product {sku!r}.", "product", code="unknown_product")
    return product


def _existing_purchase(order_id: str, request_hash: str) -> Purchase | None:
    existing = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
    if existing is not None and existing.request_hash != request_hash:
        raise Conflict(
            f"Order {order_id} was already recorded with different details.", "order_id", code="order_id_conflict"
        )
    return existing


@transactional
def record_purchase(data: PurchaseInput, request_hash: str) -> Recorded:
    existing = _existing_purchase(data.order_id, request_hash)
    if existing is not None:
        return Recorded(existing, created=False)
    try:
        domain = normalise_domain(data.customer_domain)
    except DomainError as error:
        raise BillingError(str(error), "customer_domain", code="invalid_domain") from None
    if data.channel not in CHANNELS:
        raise BillingError("channel is 'direct' or 'reseller'.", "channel", code="invalid_channel")
    if data.seats < 1:
        raise BillingError("seats is a whole number of at least 1.", "seats", code="invalid_seats")
    if data.amount.minor <= 0:
        raise BillingError('amount is a positive decimal such as "1234.50".', "amount", code="invalid_amount")
    product = _product(data.product_sku)
    if data.amount.currency != product.price_per_seat.currency:
        raise BillingError(
            f"{product.sku} is sold in {product.price_per_seat.currency}.", "currency", code="currency_mismatch"
        )
    checkout = None
    if data.checkout_id is not None:
        checkout = _locked_checkout(data.checkout_id)
        # Looked up again now that the checkout is locked: the same report sent twice at once is a replay.
        existing = _existing_purchase(data.order_id, request_hash)
        if existing is not None:
            return Recorded(existing, created=False)
        _check_against_checkout(checkout, data, domain, product)

    purchased_at = data.purchased_at.astimezone(UTC)  # the program's days are UTC days
    # A checkout's purchase is attributed by the checkout's code as it stands on the purchase date.
    code_text = checkout.referral_code if checkout is not None else data.referral_code
    found = attribute(domain, code_text, purchased_at)
    purchase = Purchase(
        order_id=data.order_id,
        source=PurchaseSource.CHECKOUT if checkout is not None else data.source,
        checkout_id=checkout.id if checkout is not None else None,
        request_hash=request_hash,
        customer_domain=domain,
        product_id=product.id,
        seats=data.seats,
        amount=data.amount,
        channel=Channel(data.channel),
        purchased_at=purchased_at,
        referral_code_text=(code_text or None) and code_text[:60],
        referral_code_id=found.referral.id if found.referral else None,
        code_check=found.code_check,
        attribution=found.rule,
        attribution_note=found.note[:300],
    )
    level = found.level
    if level is None and found.partner is not None:
        record = level_record_on(found.partner.id, purchased_at.date())
        level = record.level if record is not None else None
    if found.partner is not None and level is None:
        purchase.attribution = AttributionRule.NONE
        purchase.attribution_note = f"{found.partner.name} was not yet a partner on the purchase date"[:300]
    elif found.partner is not None and level is not None:
        terms = program_terms()
        margin = terms.margin_pct(level)
        points = terms.volume_points(level, data.seats)
        purchase.partner_id = found.partner.id
        purchase.registration_id = found.registration.id if found.registration else None
        purchase.level = level
        purchase.margin_pct = margin
        purchase.volume_points = points
        purchase.commission = commission_for(data.amount, margin, points)
    try:
        with db.session.begin_nested():
            db.session.add(purchase)
            if purchase.commission is not None:
                _accrue(purchase)  # in the same flush: one upsert of the month's totals counts both
    except IntegrityError:
        # The same order_id arrived at the same moment and was recorded first: answer as a replay.
        existing = _existing_purchase(data.order_id, request_hash)
        if existing is None:
            raise
        return Recorded(existing, created=False)
    if purchase.commission is not None and found.registration is not None and found.registration.converted_at is None:
        found.registration.converted_at = purchased_at
    if checkout is not None:
        checkout.status = CheckoutStatus.PAID
        checkout.paid_at = clock.now()
        _queue_receipt(checkout, purchase)
    if purchase.partner_id is not None:
        partner_id, level_then, day = purchase.partner_id, purchase.level, purchased_at.date()
        _notify_purchase(purchase, product)
        after_commit(lambda: purchase_recorded.send(None, partner_id=partner_id, level=level_then, on=day))
    return Recorded(purchase, created=True)


def _earning_kind(purchase: Purchase) -> str:
    return "commission" if purchase.channel == Channel.DIRECT else "discount"


def _notify_purchase(purchase: Purchase, product: Product) -> None:
    assert purchase.partner_id is not None
    facts = {
        "order_id": purchase.order_id,
        "domain": display_domain(purchase.customer_domain),
        "product": product.name,
        "seats": purchase.seats,
        "amount": money_fact(purchase.amount),
        "earning": money_fact(purchase.commission) if purchase.commission is not None else None,
        "earning_kind": _earning_kind(purchase),
    }
    raise_notices(NoticeKind.PURCHASE, [NoticeFor(purchase.partner_id, facts)])


def _locked_checkout(public_id: str) -> Checkout:
    """The checkout, locked until the transaction ends: reports of one checkout are taken one at a time."""
    checkout = db.session.scalar(select(Checkout).where(Checkout.public_id == public_id).with_for_update())
    if checkout is None:
        raise NotFound(f"There is no checkout {public_id}.", "checkout_id", code="unknown_checkout")
    return checkout


def _check_against_checkout(checkout: Checkout, data: PurchaseInput, domain: str, product: Product) -> None:
    """A report pays its checkout once, and only for what the customer chose there."""
    if checkout.status == CheckoutStatus.PAID:
        order = checkout.purchase.order_id if checkout.purchase else "another order"
        raise Unprocessable(
            f"Checkout {checkout.public_id} is already paid, by order {order}.",
            "checkout_id",
            code="checkout_already_paid",
        )
    # Paid in time counts even when reported a little later; paid after its 24 hours does not.
    if checkout.status == CheckoutStatus.EXPIRED or checkout.expires_at <= data.purchased_at:
        raise Gone(
            f"Checkout {checkout.public_id} expired on {formatting.datetime(checkout.expires_at)} unpaid; "
            "the customer must start again.",
            "checkout_id",
            code="checkout_expired",
        )
    mismatches = [
        ("customer_domain", domain, checkout.customer_domain),
        ("product", product.id, checkout.product_id),
        ("seats", data.seats, checkout.seats),
        ("channel", data.channel, Channel.DIRECT),
        ("amount", data.amount, checkout.price),
    ]
    if data.referral_code and data.referral_code.strip():
        mismatches.append(("referral_code", _canonical_code(data.referral_code), checkout.referral_code))
    for field, reported, chosen in mismatches:
        if reported != chosen:
            shown = {
                "product": checkout.product.sku,
                "customer_domain": checkout.customer_domain,
                "amount": f"{checkout.price.to_decimal()} {checkout.price.currency}",
            }.get(field, chosen)
            raise Unprocessable(
                f"{field} differs from the checkout's ({shown}): a checkout is paid for what the customer chose.",
                field,
                code="checkout_mismatch",
            )


def _canonical_code(text: str) -> str | None:
    try:
        return parse_code(text)
    except CodeError:
        return text.strip()


def _queue_receipt(checkout: Checkout, purchase: Purchase) -> None:
    try:
        queue_email(
            to=checkout.customer_email,
            template="checkout_receipt",
            context={
                "purchase": purchase,
                "checkout": checkout,
                "domain": display_domain(purchase.customer_domain),
                "receipt_url": external_url("checkout.returned", checkout_id=checkout.public_id),
            },
        )
    except ValueError:  # an address our mail server cannot take: the purchase stands, the page shows the receipt
        return


def _accrue(purchase: Purchase) -> None:
    direct = purchase.channel == Channel.DIRECT
    day = purchase.purchased_at.date()
    hold = timedelta(days=program_terms().commission_hold_days)
    db.session.add(
        LedgerEntry(
            partner_id=purchase.partner_id,
            kind=LedgerKind.ACCRUAL,
            payable=direct,
            amount=purchase.commission,
            purchase=purchase,
            effective_on=day,
            payable_on=day + hold if direct else day,
            description=(
                f"Commission on order {purchase.order_id}"
                if direct
                else f"Discount taken on order {purchase.order_id}, bought through you"
            )
            + f" ({display_domain(purchase.customer_domain)})",
        )
    )


@dataclass(frozen=True)
class RecordedRefund:
    refund: Refund
    created: bool


def _existing_refund(order_id: str, refund_id: str, request_hash: str) -> Refund | None:
    existing = db.session.scalar(
        select(Refund).where(Refund.refund_id == refund_id).execution_options(populate_existing=True)
    )
    if existing is not None and (existing.request_hash != request_hash or existing.purchase.order_id != order_id):
        raise Conflict(
            f"Refund {refund_id} was already recorded with different details.", "refund_id", code="refund_id_conflict"
        )
    return existing


@transactional
def record_refund(
    order_id: str, refund_id: str, amount: Money, refunded_at: datetime, request_hash: str
) -> RecordedRefund:
    existing = _existing_refund(order_id, refund_id, request_hash)
    if existing is not None:
        return RecordedRefund(existing, created=False)
    # Lock the purchase: concurrent refunds of one purchase are taken one at a time (SQLite's
    # write transactions already are), so together they can never exceed it.
    purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id).with_for_update())
    if purchase is None:
        raise NotFound(f"There is no purchase with order_id {order_id}.", "order_id", code="unknown_order")
    # Looked up again now that the purchase is locked: a retry sent at the same moment as the
    # first report waited for it here, and is a replay, not a second refund.
    existing = _existing_refund(order_id, refund_id, request_hash)
    if existing is not None:
        return RecordedRefund(existing, created=False)
    if amount.currency != purchase.amount.currency:
        raise BillingError(f"The purchase was in {purchase.amount.currency}.", "currency", code="currency_mismatch")
    if amount.minor <= 0:
        raise BillingError('amount is a positive decimal such as "10.00".', "amount", code="invalid_amount")
    if refunded_at < purchase.purchased_at:
        raise BillingError("A refund cannot be dated before its purchase.", "refunded_at", code="invalid_refunded_at")
    currency = purchase.amount.currency
    refunded_before, reversed_before = db.session.execute(
        select(
            func.coalesce(func.sum(Refund.amount_minor), 0),
            func.coalesce(func.sum(Refund.commission_reversal_minor), 0),
        ).where(Refund.purchase_id == purchase.id)
    ).one()
    commission = purchase.commission or Money(0, currency)
    try:
        reversal = reversal_for(
            amount=purchase.amount,
            commission=commission,
            refunded_before=Money(int(refunded_before), currency),
            reversed_before=Money(int(reversed_before), currency),
            refund=amount,
        )
    except RefundTooLarge as error:
        raise Unprocessable(str(error), "amount", code="refund_exceeds_purchase") from None
    refund = Refund(
        refund_id=refund_id,
        purchase_id=purchase.id,
        partner_id=purchase.partner_id,
        request_hash=request_hash,
        amount=amount,
        refunded_at=refunded_at,
        commission_reversal=reversal if purchase.commission is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(refund)
    except IntegrityError:
        existing = db.session.scalar(select(Refund).where(Refund.refund_id == refund_id))
        if existing is None or existing.request_hash != request_hash:
            raise Conflict(
                f"Refund {refund_id} was already recorded with different details.",
                "refund_id",
                code="refund_id_conflict",
            ) from None
        return RecordedRefund(existing, created=False)
    if purchase.commission is not None and reversal.minor:
        accrual = db.session.scalar(
            select(LedgerEntry).where(LedgerEntry.purchase_id == purchase.id, LedgerEntry.kind == LedgerKind.ACCRUAL)
        )
        db.session.add(
            LedgerEntry(
                partner_id=purchase.partner_id,
                kind=LedgerKind.REVERSAL,
                payable=accrual.payable if accrual else purchase.channel == Channel.DIRECT,
                amount=-reversal,
                purchase_id=purchase.id,
                refund_id=refund.id,
                effective_on=refunded_at.astimezone(UTC).date(),
                # A refund during the hold reduces that commission, not money already payable.
                payable_on=max(refunded_at.astimezone(UTC).date(), accrual.payable_on if accrual else date.min),
                description=f"Refund {refund_id} of order {purchase.order_id}",
            )
        )
    if purchase.partner_id is not None:
        facts = {
            "order_id": purchase.order_id,
            "refund_id": refund_id,
            "domain": display_domain(purchase.customer_domain),
            "amount": money_fact(amount),
            "reversed": money_fact(reversal) if purchase.commission is not None and reversal.minor else None,
            "earning_kind": _earning_kind(purchase),
        }
        raise_notices(NoticeKind.REFUND, [NoticeFor(purchase.partner_id, facts)])
    return RecordedRefund(refund, created=True)


def refund_totals(purchase: Purchase) -> tuple[Money, Money]:
    """What has been refunded of a purchase, and how much commission was reversed."""
    currency = purchase.amount.currency
    refunded = sum((r.amount.minor for r in purchase.refunds), 0)
    reversed_ = sum((r.commission_reversal.minor for r in purchase.refunds if r.commission_reversal), 0)
    return Money(refunded, currency), Money(reversed_, currency)


def balance(partner_id: int) -> Money:
    """What CloudCodes owes the partner: the sum of its payable entries, payouts included, and including
    commissions still in their hold (the earnings page shows "payable now" and "pending" apart)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.partner_id == partner_id, LedgerEntry.payable.is_(True)
        )
    )
    return Money(int(total or 0), program_terms().currency)


def percent_text(value: Decimal | None) -> str | None:
    """A rate as the API writes it ("30", "12.5"); people read ``cloudcodes.formatting.percent``."""
    return None if value is None else format_percent(value)
