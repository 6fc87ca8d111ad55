"""``GET /api/v1/checkouts/{id}``: what the customer chose on /redeem, for the billing system's payment page."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from cloudcodes.api import blueprint, schemas
from cloudcodes.api.errors import ApiError
from cloudcodes.api.schemas import amount_text, time_text
from cloudcodes.billing.checkout import checkout_by_id
from cloudcodes.billing.models import Checkout, CheckoutStatus
from cloudcodes.extensions import limiter

CHECKOUT_LIMIT = "120/minute"  # per client address; the payment page reads each checkout a few times


def checkout_body(checkout: Checkout) -> schemas.Checkout:
    return schemas.Checkout.model_construct(
        checkout_id=checkout.public_id,
        status=str(checkout.status),
        customer_domain=checkout.customer_domain,
        referral_code=checkout.referral_code,
        product=checkout.product.sku,
        seats=checkout.seats,
        amount=amount_text(checkout.price),
        currency=checkout.price.currency,
        customer_email=checkout.customer_email,
        expires_at=time_text(checkout.expires_at),
        order_id=checkout.purchase.order_id if checkout.purchase else None,
    )


@blueprint.get("/checkouts/<checkout_id>")
@limiter.limit(CHECKOUT_LIMIT)
def checkout(checkout_id: str) -> ResponseReturnValue:
    found = checkout_by_id(checkout_id)
    if found is None:
        raise ApiError(404, "unknown_checkout", f"There is no checkout {checkout_id[:60]!r}.", "checkout_id")
    if found.status != CheckoutStatus.PAID and not found.is_open():
        raise ApiError(
            410, "checkout_expired", f"Checkout {found.public_id} expired unpaid; the customer must start again."
        )
    return jsonify(checkout_body(found).model_dump(mode="json"))
