"""Going through the customer's checkout like a browser: the form, the confirmation, the test payment page."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs, urlsplit

from tests.support.web import csrf_token

START = "/redeem/"
CONFIRM = "/redeem/confirm"
ORDER = {"domain": "acme.com", "product": "CC-ACCESS", "seats": "10", "email": "buyer@acme.com"}


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def quote(client, **fields):
    """Fill the checkout form (the order above, with ``fields`` changed; None leaves a field out)."""
    data = {**ORDER, **fields}
    data = {key: value for key, value in data.items() if value is not None}
    token = csrf_token(client.get(START).get_data(as_text=True))
    return client.post(START, data={"csrf_token": token, **data})


def form_data(response, action: str) -> dict[str, str]:
    """The fields of the page's form posting to ``action``, as the browser sends them back."""
    page = response.get_data(as_text=True)
    form = re.search(rf'<form method="post" action="{re.escape(action)}">(.*?)</form>', page, re.S)
    assert form, f"no form posting to {action}"
    data = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1)):
        name = re.search(r'\bname="([^"]+)"', tag).group(1)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        data[name] = html_lib.unescape(value.group(1)) if value else ""
    return data


def confirm_data(confirmation) -> dict[str, str]:
    return form_data(confirmation, CONFIRM)


def local(url: str) -> str:
    """The path and query of one of the site's own absolute addresses, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def checkout_id_of(payment_redirect) -> str:
    """The checkout id in "Continue to payment"'s redirect to the payment page."""
    assert payment_redirect.status_code == 303, text(payment_redirect)
    return parse_qs(urlsplit(payment_redirect.headers["Location"]).query)["checkout_id"][0]


def continue_to_payment(client, **fields):
    """Quote, then "Continue to payment": the 303 to the (test) payment page."""
    confirmation = quote(client, **fields)
    assert confirmation.status_code == 200, text(confirmation)
    return client.post(CONFIRM, data=confirm_data(confirmation))


def pay(client, payment_redirect):
    """On the test payment page, "Pay (test)": the answer (a 303 back to the return page when it went through)."""
    page = client.get(local(payment_redirect.headers["Location"]))
    assert page.status_code == 200, text(page)
    return client.post("/dev/billing/pay", data=form_data(page, "/dev/billing/pay"))


def buy(client, **fields):
    """The whole journey; returns the return page's path once paid."""
    paid = pay(client, continue_to_payment(client, **fields))
    assert paid.status_code == 303, text(paid)
    return local(paid.headers["Location"])
