"""A test payment page (``/dev/billing/pay``) that plays the billing system, outside production only.

It does what the real billing system does, through the portal's real API and nothing else: it
checks the signed link it was sent, reads the checkout (``GET /api/v1/checkouts/{id}``, signed),
and on "Pay (test)" reports the purchase (``POST /api/v1/purchases`` with ``checkout_id``, signed),
then sends the customer back to the return address. No money moves, and the page says so.
The app factory registers it only when ``CLOUDCODES_ENV`` is development or test.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from wtforms import HiddenField

from cloudcodes import clock
from cloudcodes.api import webhook_secrets
from cloudcodes.api.signatures import HEADER, SignatureError, sign, verify
from cloudcodes.billing.checkout import CHECKOUT_LIFETIME
from cloudcodes.extensions import db
from cloudcodes.forms import PortalForm

blueprint = Blueprint("test_payment", __name__, url_prefix="/dev/billing")
LINK_LIFETIME = int(CHECKOUT_LIFETIME.total_seconds())


class PayForm(PortalForm):
    checkout_id = HiddenField()
    return_url = HiddenField()
    signature = HiddenField()


def _signed_link(values: Any) -> tuple[str, str, str]:
    """The checkout id and return address of a link the portal signed, or 400 for any other link."""
    checkout_id = str(values.get("checkout_id") or "")
    return_url = str(values.get("return_url") or "")
    signature = str(values.get("signature") or "")
    now = int(clock.now().timestamp())
    try:
        # Good for as long as a checkout can be open: a customer may take their time on this page.
        verify(signature, f"{checkout_id}.{return_url}".encode(), webhook_secrets(), now, tolerance=LINK_LIFETIME)
    except SignatureError:
        abort(400, "This payment link was not signed by the portal, or is older than its checkout can be.")
    return checkout_id, return_url, signature


def _call_api(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """A signed request to the portal's API, exactly as the billing system sends one."""
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {HEADER: sign(webhook_secrets()[0], int(clock.now().timestamp()), raw)}
    if body is not None:
        headers["Content-Type"] = "application/json"
    # The billing system is another program with its own connection: this request holds none open
    # (on SQLite an open transaction would hold the write lock the API needs).
    db.session.close()
    response = current_app.test_client().open(path, method=method, data=raw, headers=headers)
    return response.status_code, response.get_json(silent=True) or {}


def _checkout(checkout_id: str) -> dict[str, Any]:
    status, body = _call_api("GET", f"/api/v1/checkouts/{checkout_id}")
    if status != 200:
        abort(status if status in (404, 410) else 502, (body.get("error") or {}).get("message", ""))
    return body


@blueprint.get("/pay")
def pay() -> ResponseReturnValue:
    checkout_id, return_url, signature = _signed_link(request.args)
    checkout = _checkout(checkout_id)
    form = PayForm(formdata=None, checkout_id=checkout_id, return_url=return_url, signature=signature)
    return render_template("payment_page/pay.html", checkout=checkout, form=form, return_url=return_url)


@blueprint.post("/pay")
def pay_test() -> ResponseReturnValue:
    form = PayForm()
    if not form.validate_on_submit():
        abort(400)
    checkout_id, return_url, _ = _signed_link(request.form)
    checkout = _checkout(checkout_id)
    status, body = _call_api(
        "POST",
        "/api/v1/purchases",
        {
            "order_id": f"TEST-{secrets.token_hex(8).upper()}",
            "checkout_id": checkout_id,
            "customer_domain": checkout["customer_domain"],
            "product": checkout["product"],
            "seats": checkout["seats"],
            "amount": checkout["amount"],
            "currency": checkout["currency"],
            "channel": "direct",
            "purchased_at": clock.now().isoformat(),
        },
    )
    if status not in (200, 201):
        abort(422, (body.get("error") or {}).get("message", "The purchase was refused."))
    return redirect(return_url, 303)
