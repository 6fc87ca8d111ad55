"""``POST /api/v1/purchases`` and ``POST /api/v1/purchases/{order_id}/refunds``: what the billing system reports.

The views read the JSON through the request models (``cloudcodes.api.schemas``: every field, its
type and its form, strictly), then hand a small value to the billing service, which owns
attribution, the commission, the ledger and the transaction. Every answer is built from what is
stored, so a replay answers as the first time did.

Decisions, also stated in the OpenAPI document:

- A field the API does not know is refused (400, ``unknown_field``, naming it).
- Amounts are JSON strings ("1234.50"), never numbers, with at most the currency's decimals.
- Times are RFC 3339 date-times (ISO 8601 with seconds and a zone: ``Z`` or ``+01:00``); a time
  without a zone is refused, and so is one more than a day ahead of the server's clock.
- The request fingerprint of a purchase is that of the parsed body (key order and spacing do not
  matter); a refund's adds the order it is for.
"""

from __future__ import annotations

import re

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from cloudcodes.api import blueprint, schemas
from cloudcodes.api.bodies import json_body, read_body
from cloudcodes.api.errors import ApiError
from cloudcodes.api.schemas import amount_text, time_text
from cloudcodes.billing.models import Channel, Purchase, PurchaseSource, Refund
from cloudcodes.billing.services import (
    BillingError,
    PurchaseInput,
    fingerprint,
    percent_text,
    record_purchase,
    record_refund,
    refund_totals,
)
from cloudcodes.extensions import db, limiter
from cloudcodes.money import Money

# Per client address, for each of the two endpoints. A billing system reports purchases as they
# happen; this only stops a runaway client. Tests and deployments may set API_WRITE_LIMIT.
WRITE_LIMIT = "600/minute"


def write_limit() -> str:
    return str(current_app.config.get("API_WRITE_LIMIT") or WRITE_LIMIT)


# --- The answers --------------------------------------------------------------------------------


def purchase_body(purchase: Purchase) -> schemas.Purchase:
    """The purchase as stored. Only ``refunded`` moves later: it is what has been refunded so far."""
    refunded, _ = refund_totals(purchase)
    partner = purchase.partner
    commission = None
    if purchase.commission is not None:
        commission = schemas.Commission.model_construct(
            amount=amount_text(purchase.commission),
            currency=purchase.commission.currency,
            level=purchase.level,
            margin_pct=percent_text(purchase.margin_pct),
            volume_points=percent_text(purchase.volume_points),
            payable=purchase.channel == Channel.DIRECT,
        )
    attribution = schemas.Attribution.model_construct(
        partner=None
        if partner is None
        else schemas.AttributedPartner.model_construct(id=partner.id, name=partner.name),
        rule=purchase.attribution,
        reason=purchase.attribution_note,
        code_check=purchase.code_check,
    )
    return schemas.Purchase.model_construct(
        order_id=purchase.order_id,
        customer_domain=purchase.customer_domain,
        product=purchase.product.sku,
        seats=purchase.seats,
        amount=amount_text(purchase.amount),
        currency=purchase.amount.currency,
        channel=purchase.channel,
        purchased_at=time_text(purchase.purchased_at),
        attribution=attribution,
        commission=commission,
        refunded=amount_text(refunded),
    )


def _as_committed(purchase: Purchase, *, created: bool) -> Purchase:
    """The purchase read again after its commit (which expired it), with everything its body shows, in
    one statement instead of one per relation; a purchase just created has no refunds to read."""
    purchase_id = inspect(purchase).identity[0]  # known without a query, unlike purchase.id now
    query = (
        select(Purchase)
        .where(Purchase.id == purchase_id)
        .options(joinedload(Purchase.partner), joinedload(Purchase.product))
    )
    if created:
        stored = db.session.scalars(query).one()
        set_committed_value(stored, "refunds", [])
        return stored
    return db.session.scalars(query.options(selectinload(Purchase.refunds))).one()


def refund_body(refund: Refund) -> schemas.Refund:
    """The refund as stored, with the totals as they stood once it was taken, so a replay answers the same."""
    purchase = refund.purchase
    currency = purchase.amount.currency
    refunded_minor = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.purchase_id == purchase.id, Refund.id <= refund.id
        )
    )
    refunded = Money(int(refunded_minor or 0), currency)
    return schemas.Refund.model_construct(
        refund_id=refund.refund_id,
        order_id=purchase.order_id,
        amount=amount_text(refund.amount),
        currency=refund.amount.currency,
        refunded_at=time_text(refund.refunded_at),
        commission_reversal=None if refund.commission_reversal is None else amount_text(refund.commission_reversal),
        refunded_total=amount_text(refunded),
        remaining=amount_text(purchase.amount - refunded),
    )


def _answer(body: schemas.ResponseBody, created: bool) -> ResponseReturnValue:
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = 201 if created else 200
    return response


def _billing_error(error: BillingError) -> ApiError:
    return ApiError(error.status, error.code, str(error), error.field)


# --- The endpoints ------------------------------------------------------------------------------


@blueprint.post("/purchases")
@limiter.limit(write_limit)
def create_purchase() -> ResponseReturnValue:
    body = json_body()
    reported = read_body(schemas.PurchaseRequest, body)
    data = PurchaseInput(
        order_id=reported.order_id,
        customer_domain=reported.customer_domain,
        product_sku=reported.product,
        seats=reported.seats,
        amount=reported.amount,
        channel=reported.channel,
        purchased_at=reported.purchased_at,
        referral_code=reported.referral_code,
        source=PurchaseSource.API,
        checkout_id=reported.checkout_id,
    )
    try:
        recorded = record_purchase(data, fingerprint(body))
    except BillingError as error:
        raise _billing_error(error) from None
    return _answer(purchase_body(_as_committed(recorded.purchase, created=recorded.created)), recorded.created)


@blueprint.post("/purchases/<path:order_id>/refunds")
@limiter.limit(write_limit)
def create_refund(order_id: str) -> ResponseReturnValue:
    body = json_body()
    reported = read_body(schemas.RefundRequest, body)
    # An order_id that could never have been recorded is not looked up (nor sent to the database as is).
    purchase = (
        db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
        if re.fullmatch(schemas.ID_PATTERN, order_id)
        else None
    )
    if purchase is None:
        raise ApiError(404, "unknown_order", f"There is no purchase with order_id {order_id[:100]!r}.", "order_id")
    currency = purchase.amount.currency
    if reported.currency is not None and reported.currency != currency:
        raise ApiError(
            400,
            "currency_mismatch",
            f"Order {purchase.order_id} was paid in {currency}; refund it in {currency}.",
            "currency",
        )
    amount = read_body(schemas.AmountInCurrency, {"currency": currency, "amount": reported.amount}).amount
    try:
        recorded = record_refund(
            order_id, reported.refund_id, amount, reported.refunded_at, fingerprint({"order_id": order_id, **body})
        )
    except BillingError as error:
        raise _billing_error(error) from None
    return _answer(refund_body(recorded.refund), recorded.created)
