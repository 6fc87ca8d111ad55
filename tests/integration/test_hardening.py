"""Findings of the outside security and reliability review, each held by a test that failed before its fix."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.auth.models import Role, User
from cloudcodes.auth.services import create_user, find_user
from cloudcodes.extensions import db as _db
from cloudcodes.formatting import email_address
from cloudcodes.mail.models import OutboxMessage
from tests.factories import DEFAULT_PASSWORD
from tests.support.mail import run_mail_job
from tests.support.web import csrf_token, login, make_staff, next_totp, submit

UNICODE_ADDRESS = "ana@Bücher-Söhne.de"
ASCII_ADDRESS = "ana@xn--bcher-shne-kcb9d.de"


def test_an_account_with_an_international_domain_logs_in_again_whichever_way_it_is_typed(app, client):
    """The review's owner at bücher-söhne.de logged in once, then never again, and got no reset e-mail."""
    with app.app_context():
        create_user(UNICODE_ADDRESS, DEFAULT_PASSWORD, Role.PARTNER, full_name="Ana")
        stored = _db.session.scalar(select(User.email))
        assert stored == ASCII_ADDRESS  # one canonical form: the domain in ASCII, lower case
        assert find_user("ANA@bücher-söhne.de").email == find_user(ASCII_ADDRESS).email == ASCII_ADDRESS
        assert email_address(stored) == "ana@bücher-söhne.de"  # shown as people write it

    for typed in (UNICODE_ADDRESS, ASCII_ADDRESS, "Ana@BÜCHER-SÖHNE.DE"):
        response = login(client, typed)
        assert response.status_code == 303, typed
        assert submit(client, "/logout", {}).status_code == 303

    response = submit(client, "/forgot-password", {"email": UNICODE_ADDRESS})
    assert response.status_code == 303
    run_mail_job(app)
    with app.app_context():
        [reset] = _db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset"))
        assert reset.to_address == ASCII_ADDRESS


# --- NUL and control characters: answered 400 at the edge, on both databases ---------------------

HOSTILE = ["\x00", "a\x00b", "\x1b[31m", "line\u2028break", "\x7f", "\x85"]


@pytest.mark.parametrize("text", HOSTILE)
def test_control_characters_in_a_form_are_refused_with_a_clear_page_not_a_500(app, client, text):
    for path, data in (
        ("/login", {"email": f"someone{text}@example.com", "password": "x"}),
        ("/forgot-password", {"email": f"someone{text}@example.com"}),
        ("/redeem/", {"domain": f"acme{text}.com", "product": "CC-ACCESS", "seats": "1", "email": "a@b.com"}),
    ):
        response = submit(client, path, data)
        assert response.status_code == 400, (path, response.status_code)
        assert "control character" in response.get_data(as_text=True)


@pytest.mark.parametrize("text", HOSTILE)
def test_control_characters_in_a_search_or_an_address_are_refused(app, client, text):
    for path, query in (
        ("/redeem/", {"domain": text}),
        ("/faq", {"q": text}),
        (f"/redeem/return/CHK-{text}", {}),
    ):
        response = client.get(path, query_string=query)
        assert response.status_code == 400, (path, response.status_code)


def test_a_partner_search_with_nul_answers_400(app, client):
    with app.app_context():
        create_user("searcher@example.com", DEFAULT_PASSWORD, Role.PARTNER)
    login(client, "searcher@example.com")
    assert client.get("/dashboard/referrals", query_string={"q": "\x00"}).status_code == 400
    assert client.get("/dashboard/referrals", query_string={"q": "bücher"}).status_code == 200


# --- The second factor: limited per account, and a pending login does not wait forever ----------


def _wrong_code(secret: str) -> str:
    right = {next_totp(secret), pyotp.TOTP(secret).now()}
    return next(code for code in ("000000", "111111", "222222") if code not in right)


def _code_form_token(client, **kwargs) -> str:
    return csrf_token(client.get("/login/two-factor", **kwargs).get_data(as_text=True))


def test_wrong_second_factors_are_limited_per_account_whatever_the_address(app):
    """The review: 25 wrong codes for one pending login from 25 addresses all answered 200."""
    person = make_staff(app)
    clients = [app.test_client() for _ in range(3)]
    tokens = []
    for n, client in enumerate(clients):
        assert login(client, person.email, environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"}).status_code == 303
        tokens.append(_code_form_token(client))
    answers = []
    for attempt in range(6):
        client, token = clients[attempt % 3], tokens[attempt % 3]
        address = {"REMOTE_ADDR": f"192.0.2.{attempt % 3 + 1}"}
        data = {"csrf_token": token, "code": _wrong_code(person.secret)}
        answers.append(client.post("/login/two-factor", data=data, environ_base=address))
    assert [answer.status_code for answer in answers[:5]] == [200] * 5
    assert answers[5].status_code == 303 and answers[5].headers["Location"] == "/login"
    # That pending login is gone, and so is the account's allowance: even the right code waits now.
    fresh = app.test_client()
    assert login(fresh, person.email, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 303
    blocked = fresh.get("/login/two-factor")
    assert blocked.status_code == 303 and blocked.headers["Location"] == "/login"
    assert "Too many wrong codes" in fresh.get("/login").get_data(as_text=True)


def test_a_second_factor_in_other_digits_is_a_wrong_code_not_a_server_error(app, client):
    """Found by the form fuzzing: "١٢٣٤٥٦" passed str.isdigit and broke the constant-time comparison."""
    person = make_staff(app)
    assert login(client, person.email).status_code == 303
    response = client.post("/login/two-factor", data={"csrf_token": _code_form_token(client), "code": "١٢٣٤٥٦"})
    assert response.status_code == 200
    assert "That code is not right" in response.get_data(as_text=True)


def test_a_pending_login_expires_after_five_minutes(app, client):
    person = make_staff(app)
    assert login(client, person.email).status_code == 303
    token = _code_form_token(client)
    with time_machine.travel(clock.now() + timedelta(minutes=6), tick=False):
        data = {"csrf_token": token, "code": next_totp(person.secret)}
        response = client.post("/login/two-factor", data=data, follow_redirects=True)
    assert response.request.path == "/login"
    assert "Your login has expired" in response.get_data(as_text=True)


# --- The console's searches ignore accents and case --------------------------------------------


def test_the_console_search_finds_accented_names_typed_without_accents(app):
    from tests.factories import make_partner
    from tests.support.web import staff_client

    admin = make_staff(app, role="admin", full_name="Zoë Ørsted")
    with app.app_context():
        make_partner("Bücher & Söhne GmbH", owner_email="ana@buecher.example")
        make_partner("Straße Systems AG")
        make_partner("Acme Cloud Ltd")
    console = staff_client(app, admin)

    def listed(path: str) -> str:
        response = console.get(path)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    found = listed("/admin/partners?q=bucher")
    assert "Bücher &amp; Söhne GmbH" in found and "Acme Cloud" not in found
    assert "Straße Systems" in listed("/admin/partners?q=STRASSE")
    assert "Bücher &amp; Söhne GmbH" in listed("/admin/partners?q=B%C3%BCcher")  # typed with its accent, too
    assert "Zoë Ørsted" in listed("/admin/staff?q=zoe orsted")


# --- Line breaks in single-line fields: a field error, not a 500, in every form -------------------


def test_a_console_form_refuses_a_line_break_in_a_name_next_to_the_field(app):
    """The review found it at /apply; every form derives from cloudcodes.forms.PortalForm, the console's too."""
    import html
    import re

    from sqlalchemy import func

    from tests.support.web import staff_client

    admin = make_staff(app, role="admin")
    console = staff_client(app, admin)
    with app.app_context():
        users, mails = (_db.session.scalar(select(func.count()).select_from(m)) for m in (User, OutboxMessage))
    response = submit(
        console,
        "/admin/staff/invite",
        {"email": "nina@cloudcodes.example", "full_name": "Nina\r\nBcc: x@evil.example", "role": "manager"},
        page="/admin/staff",
    )
    assert response.status_code == 400
    error = re.search(r'<div id="full_name-error"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    assert error and html.unescape(error.group(1)).strip() == (
        "This must be on one line: remove the line breaks and tabs from it."
    )
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(User)) == users
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == mails
        assert find_user("nina@cloudcodes.example") is None
