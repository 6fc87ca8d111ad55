"""The customer's checkout, ``/redeem``: what to buy, a confirmation with the price and the partner, a receipt.

Thin views over ``cloudcodes.billing.checkout``, which checks everything and records the purchase
once. No login: the customer is not a user of the portal. Code checks are rate limited per client
address; buying without a code never is.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from cloudcodes.billing.checkout import (
    CheckoutError,
    Quote,
    active_products,
    confirm,
    make_quote,
    purchase_for_receipt,
    receipt_token,
)
from cloudcodes.billing.forms import CheckoutForm, ConfirmForm
from cloudcodes.billing.models import PurchaseSource
from cloudcodes.extensions import limiter
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.services import ServiceError

blueprint = Blueprint("checkout", __name__, url_prefix="/redeem")

CODE_CHECK_LIMIT = "10/minute"  # per client address
WITHOUT_CODE = "without_code"  # the name of the "Buy without a code" button
FIELDS = ("domain", "code", "product", "seats")


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


@blueprint.get("/")
def start() -> ResponseReturnValue:
    # Partners' messages link here with ?code=...&domain=...; "Change" comes back with all four.
    form = CheckoutForm(active_products(), formdata=None, data=_prefill(request.args))
    return render_start(form)


@blueprint.post("/")
@limiter.limit(CODE_CHECK_LIMIT, methods=["POST"], exempt_when=buys_without_code)
def quote() -> ResponseReturnValue:
    form = CheckoutForm(active_products())
    if request.form.get(WITHOUT_CODE):
        form.code.data = ""
        form.code.raw_data = [""]
    if not form.validate_on_submit():
        return render_start(form, 400)
    try:
        quoted = make_quote(form.domain.data or "", form.code.data or None, form.product.data or "", form.seats.data)
    except CheckoutError as error:
        return refused(form, error)
    return render_template(
        "checkout/confirm.html", quote=quoted, form=_confirm_form(quoted), shown_domain=display_domain(quoted.domain)
    )


def _confirm_form(quoted: Quote) -> ConfirmForm:
    return ConfirmForm(
        formdata=None,
        data={
            "token": quoted.token(),
            "domain": display_domain(quoted.domain),
            "code": quoted.code or "",
            "product": quoted.product.sku,
            "seats": str(quoted.seats),
        },
    )


@blueprint.post("/confirm", endpoint="confirm")
def confirm_purchase() -> ResponseReturnValue:
    form = ConfirmForm()
    # The first form again, as the confirmation carried it, for when something has changed meanwhile.
    start_form = CheckoutForm(active_products(), formdata=None, data=_prefill(request.form))
    if not form.validate_on_submit():
        return render_start(start_form, 400, "This confirmation is not valid. Start again.")
    try:
        recorded = confirm(form.token.data or "")
    except CheckoutError as error:
        return refused(start_form, error)
    except ServiceError as error:  # the purchase itself was refused: nothing on the first form can fix it
        return render_start(start_form, 400, error.message)
    # Sent twice, the same token answers with the same purchase, so both land on the same receipt.
    return redirect(url_for("checkout.receipt", token=receipt_token(recorded.purchase)), 303)


@blueprint.get("/receipt/<token>")
def receipt(token: str) -> ResponseReturnValue:
    purchase = purchase_for_receipt(token)
    if purchase is None or purchase.source != PurchaseSource.CHECKOUT:
        abort(404)
    html = render_template("checkout/receipt.html", purchase=purchase, domain=display_domain(purchase.customer_domain))
    # The address is the customer's key to the receipt: not kept by shared caches, not indexed.
    return html, 200, {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
