"""Driving the site like a browser: read CSRF tokens from pages, fill forms, log in."""

from __future__ import annotations

import re
import time

import pyotp

from tests.factories import DEFAULT_PASSWORD

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


def submit(client, path: str, data: dict, *, page: str | None = None, **kwargs):
    """GET ``page`` (default ``path``) for its token, then POST ``data`` to ``path``."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(html), **data}, **kwargs)


def next_totp(secret: str) -> str:
    """The code of the next 30-second step: accepted (one step of drift) and never used yet."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def login(client, email: str, password: str = DEFAULT_PASSWORD, *, totp_secret: str | None = None, **kwargs):
    response = submit(client, "/login", {"email": email, "password": password}, **kwargs)
    if totp_secret and response.status_code == 303 and response.headers["Location"].endswith("/login/two-factor"):
        response = submit(client, "/login/two-factor", {"code": next_totp(totp_secret)}, **kwargs)
    return response


def setup_two_factor(client) -> tuple[str, list[str]]:
    """Turn two-factor on for the logged-in user; returns the secret and the recovery codes."""
    html = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    response = client.post(
        "/account/two-factor", data={"csrf_token": csrf_token(html), "code": pyotp.TOTP(secret).now()}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = re.findall(r'<li class="col">([0-9a-f]{5}-[0-9a-f]{5})</li>', response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def make_staff(app, role="manager", **fields):
    """A staff account with two-factor on; returns its id, e-mail, name and TOTP secret."""
    from types import SimpleNamespace

    from cloudcodes import clock
    from tests.factories import StaffFactory

    secret = pyotp.random_base32()
    with app.app_context():
        user = StaffFactory(role=role, totp_secret=secret, totp_enabled_at=clock.now(), **fields)
        return SimpleNamespace(id=user.id, email=user.email, name=user.full_name, secret=secret)


def staff_client(app, person):
    """A test client logged in to the console as ``person`` (from make_staff)."""
    client = app.test_client()
    response = login(client, person.email, totp_secret=person.secret)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    return client
