"""The customer's checkout, ``/redeem``: what to buy, a confirmation with the price and who referred the
customer, then the billing system's payment page, and the return page with the receipt.

Thin views over ``cloudcodes.billing.checkout``. No login: the customer is not a user of the portal.
Nothing here records a purchase: "Continue to payment" stores a checkout and sends the customer to
the billing system, which takes the money and reports the purchase over the signed API. Quotes and
checkouts are rate limited per client address, code checks more tightly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded

from cloudcodes import clock
from cloudcodes.api import webhook_secrets
from cloudcodes.api.signatures import sign
from cloudcodes.billing.checkout import (
    CheckoutError,
    Quote,
    active_products,
    checkout_by_id,
    make_quote,
    open_checkout,
    receipt_address,
)
from cloudcodes.billing.forms import CheckoutForm, ConfirmForm
from cloudcodes.billing.models import Checkout, CheckoutStatus
from cloudcodes.errors import seconds_until_reset
from cloudcodes.extensions import limiter
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.services import ServiceError
from cloudcodes.urls import external_url

blueprint = Blueprint("checkout", __name__, url_prefix="/redeem")

CODE_CHECK_LIMIT = "10/minute"  # per client address, for quotes with a code
CHECKOUT_LIMIT = "20/minute;200/day"  # per client address, for every quote and checkout
WITHOUT_CODE = "without_code"  # the name of the "Buy without a code" button
FIELDS = ("domain", "code", "product", "seats", "email")
PENDING_REFRESH_SECONDS = 5


def buys_without_code() -> bool:
    return bool(request.form.get(WITHOUT_CODE)) or not (request.form.get("code") or "").strip()


def _shown_domain(raw: str) -> str:
    """A domain from a link as the customer reads it (``bücher.de``, not ``xn--bcher-kva.de``)."""
    try:
        return display_domain(normalise_domain(raw))
    except DomainError:
        return raw


def _prefill(values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: (values.get(name) or "").strip()[:300] for name in FIELDS}
    if data["domain"]:
        data["domain"] = _shown_domain(data["domain"])
    try:
        data["seats"] = int(data["seats"]) if data["seats"] else None
    except ValueError:
        data["seats"] = None
    return data


def render_start(form: CheckoutForm, status: int = 200, problem: str | None = None) -> ResponseReturnValue:
    code_refused = bool(form.code.errors) and bool((form.code.data or "").strip())
    return render_template("checkout/start.html", form=form, problem=problem, code_refused=code_refused), status


def refused(form: CheckoutForm, error: ServiceError) -> ResponseReturnValue:
    """The first form again, with the service's message next to the field it names (or above the form)."""
    if error.field in FIELDS:
        getattr(form, error.field).errors = [error.message]
        return render_start(form, 400)
    return render_start(form, 400, error.message)


@blueprint.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded) -> ResponseReturnValue:
    """Too many tries from this address: the form again, as it was typed, with when to try again."""
    wait = max(seconds_until_reset(), 1)
    form = CheckoutForm(active_products(), formdata=None, data=_prefill(request.form))
    message = (
        f"Too many tries from your network in a short time. What you typed is kept below: "
        f"wait {wait // 60 + 1} minutes and send it again."
        if wait >= 90
        else f"Too many tries from your network in a short time. What you typed is kept below: "
        f"wait {wait} seconds and send it again."
    )
    response = make_response(render_start(form, 429, message))
    response.headers["Retry-After"] = str(wait)
    return response


@blueprint.get("/")
def start() -> ResponseReturnValue:
    # Partners' messages link here with ?code=...&domain=...; "Change" comes back with all of them.
    form = CheckoutForm(active_products(), formdata=None, data=_prefill(request.args))
    return render_start(form)


@blueprint.post("/")
@limiter.limit(CHECKOUT_LIMIT)
@limiter.limit(CODE_CHECK_LIMIT, exempt_when=buys_without_code)
def quote() -> ResponseReturnValue:
    form = CheckoutForm(active_products())
    if request.form.get(WITHOUT_CODE):
        form.code.data = ""
        form.code.raw_data = [""]
    if not form.validate_on_submit():
        return render_start(form, 400)
    try:
        quoted = make_quote(form.domain.data or "", form.code.data or None, form.product.data or "", form.seats.data)
        email = receipt_address(form.email.data or "")
    except CheckoutError as error:
        return refused(form, error)
    return render_template(
        "checkout/confirm.html",
        quote=quoted,
        email=email,
        form=_confirm_form(quoted, email),
        shown_domain=display_domain(quoted.domain),
    )


def _confirm_form(quoted: Quote, email: str) -> ConfirmForm:
    return ConfirmForm(
        formdata=None,
        data={
            "token": quoted.token(email),
            "domain": display_domain(quoted.domain),
            "code": quoted.code or "",
            "product": quoted.product.sku,
            "seats": str(quoted.seats),
            "email": email,
        },
    )


def payment_url(checkout: Checkout) -> str:
    """The billing system's payment page for ``checkout``, with the return address, signed.

    The signature (the API's scheme, over ``<checkout id>.<return URL>``) lets the payment page
    trust that the return address is this portal's.
    """
    secrets = webhook_secrets()
    if not secrets:
        abort(503, "Payments are not set up on this server yet (no webhook secret). Please try again later.")
    base = current_payment_page()
    return_url = external_url("checkout.returned", checkout_id=checkout.public_id)
    signed = f"{checkout.public_id}.{return_url}".encode()
    query = urlencode(
        {
            "checkout_id": checkout.public_id,
            "return_url": return_url,
            "signature": sign(secrets[0], int(clock.now().timestamp()), signed),
        }
    )
    return f"{base}{'&' if '?' in base else '?'}{query}"


def current_payment_page() -> str:
    return current_app.config.get("BILLING_PAYMENT_URL") or external_url("test_payment.pay")


@blueprint.post("/confirm", endpoint="confirm")
@limiter.limit(CHECKOUT_LIMIT)
def continue_to_payment() -> ResponseReturnValue:
    form = ConfirmForm()
    # The first form again, as the confirmation carried it, for when something has changed meanwhile.
    start_form = CheckoutForm(active_products(), formdata=None, data=_prefill(request.form))
    if not form.validate_on_submit():
        return render_start(start_form, 400, "This confirmation is not valid. Start again.")
    try:
        checkout = open_checkout(form.token.data or "")
    except CheckoutError as error:
        return refused(start_form, error)
    return redirect(payment_url(checkout), 303)


@blueprint.get("/return/<checkout_id>")
def returned(checkout_id: str) -> ResponseReturnValue:
    """Where the billing system sends the customer back: the receipt, or "being confirmed" until the report."""
    checkout = checkout_by_id(checkout_id)
    if checkout is None:
        abort(404)
    purchase = checkout.purchase
    if checkout.status == CheckoutStatus.PAID and purchase is not None:
        html = render_template(
            "checkout/receipt.html", purchase=purchase, domain=display_domain(purchase.customer_domain)
        )
        status = 200
    elif checkout.is_open():
        html = render_template(
            "checkout/pending.html",
            checkout=checkout,
            domain=display_domain(checkout.customer_domain),
            refresh=PENDING_REFRESH_SECONDS,
        )
        status = 200
    else:
        html = render_template("checkout/expired.html", checkout=checkout, start_url=url_for("checkout.start"))
        status = 410
    response = make_response(html, status)
    # The address is the customer's key to the receipt: not kept by shared caches, not indexed.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
