import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory
from tests.support.mail import run_mail_job
from tests.support.web import csrf_token, login, next_totp, setup_two_factor, submit


@pytest.fixture
def partner(app):
    with app.app_context():
        user = UserFactory(email="olivia@acme.example")
        return user.email


@pytest.fixture
def manager(app):
    with app.app_context():
        return StaffFactory(email="max@cloudcodes.example").email


def audit_actions(app):
    with app.app_context():
        return [e.action for e in _db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_passwords_are_stored_as_argon2id_with_owasp_parameters(app, runner):
    result = runner.invoke(
        args=["users", "create", "--email", "Admin@CloudCodes.example", "--role", "admin"],
        input="a long and unusual passphrase\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == "admin@cloudcodes.example"))
        assert user.role == "admin"
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert "a long and unusual passphrase" not in user.password_hash


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short pass", "at least 12 characters"), ("password1234", "most common passwords")],
)
def test_users_create_refuses_weak_passwords_and_says_why(runner, password, reason):
    result = runner.invoke(
        args=["users", "create", "--email", "m@cloudcodes.example", "--role", "manager"], input=password + "\n"
    )
    assert result.exit_code != 0
    assert reason in result.output


def test_users_create_refuses_a_duplicate_address(runner, manager):
    result = runner.invoke(
        args=["users", "create", "--email", manager, "--role", "manager"], input="another fine passphrase\n"
    )
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_login_and_logout(client, app, partner):
    response = login(client, partner)
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    response = submit(client, "/logout", {})
    assert response.status_code == 303
    assert client.get("/dashboard/").status_code == 302
    assert audit_actions(app)[-2:] == ["auth.login", "auth.logout"]


def test_wrong_password_and_unknown_address_get_the_same_answer(client, app, partner):
    wrong = login(client, partner, "not the right password")
    unknown = login(client, "nobody@acme.example", "not the right password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid e-mail or password." in wrong.get_data(as_text=True)
    assert "Invalid e-mail or password." in unknown.get_data(as_text=True)
    assert audit_actions(app).count("auth.login_failed") == 2


def test_the_sixth_login_in_a_minute_is_refused_with_429(client, partner):
    for _ in range(5):
        assert login(client, partner, "wrong password here").status_code == 401
    response = login(client, partner, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert "wait" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_login_attempts_are_limited_per_account_across_addresses(app, partner):
    for n in range(5):
        client = app.test_client()
        assert (
            login(client, partner, "wrong password here", environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code
            == 401
        )
    response = login(app.test_client(), partner, environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert response.status_code == 429


def test_a_session_cookie_from_before_logout_no_longer_logs_in(app, partner):
    browser, thief = app.test_client(), app.test_client()
    login(browser, partner)
    stolen = browser.get_cookie("session").value
    thief.set_cookie("session", stolen)
    assert thief.get("/dashboard/").status_code == 200
    submit(browser, "/logout", {})
    assert thief.get("/dashboard/").status_code == 302


def test_logging_out_ends_this_browser_only(app, partner):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, partner)
    login(phone, partner)
    response = submit(laptop, "/logout", {}, follow_redirects=True)
    assert "You have logged out of this browser." in response.get_data(as_text=True)
    assert laptop.get("/dashboard/").status_code == 302
    assert phone.get("/dashboard/").status_code == 200, "the other device stays logged in"


def test_log_out_everywhere_on_the_account_page_ends_every_session(app, partner):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, partner, headers={"User-Agent": "Laptop browser"})
    login(phone, partner, headers={"User-Agent": "Phone browser"})
    page = laptop.get("/account").get_data(as_text=True)
    assert "Laptop browser" in page and "Phone browser" in page
    assert page.count("This browser") == 1
    response = laptop.post("/account/log-out-everywhere", data={"everywhere-csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert laptop.get("/dashboard/").status_code == 302
    assert phone.get("/dashboard/").status_code == 302
    assert audit_actions(app)[-1] == "auth.logout_everywhere"


def test_a_password_change_ends_other_sessions_but_keeps_this_one(app, partner):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, partner)
    login(phone, partner)
    response = submit(
        laptop,
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
        page="/account",
    )
    assert response.status_code == 303
    assert laptop.get("/dashboard/").status_code == 200
    assert phone.get("/dashboard/").status_code == 302
    assert login(app.test_client(), partner, "a brand new passphrase").status_code == 303


def test_a_password_change_with_a_wrong_current_password_changes_nothing(app, client, partner):
    login(client, partner)
    response = submit(
        client,
        "/account/password",
        {
            "current_password": "wrong current one",
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
        page="/account",
    )
    assert response.status_code == 400
    assert "current password is not correct" in response.get_data(as_text=True)
    assert login(app.test_client(), partner).status_code == 303


def test_disabling_an_account_ends_its_sessions(app, client, partner):
    from cloudcodes.auth.services import find_user, set_active

    login(client, partner)
    with app.app_context():
        set_active(find_user(partner), False)
        _db.session.commit()
    assert client.get("/dashboard/").status_code == 302
    assert login(app.test_client(), partner).status_code == 401


def test_the_session_changes_at_login(client, partner):
    client.get("/login")
    before = client.get_cookie("session").value
    login(client, partner)
    assert client.get_cookie("session").value != before


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_only_redirects_inside_the_site(client, partner, target):
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": csrf_token(html), "email": partner, "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/dashboard/"


def test_next_inside_the_site_is_followed(client, partner):
    response = client.get("/account")
    assert response.status_code == 302 and "next=" in response.headers["Location"]
    html = client.get("/login?next=/account").get_data(as_text=True)
    response = client.post(
        "/login?next=/account", data={"csrf_token": csrf_token(html), "email": partner, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/account"


def reset_link(app, email):
    with app.app_context():
        message = _db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc())
        )
        return message, re.search(r"(https?://\S+/reset-password/\S+)", message.text_body).group(1)


def test_forgot_password_answers_the_same_for_unknown_addresses(app, client, partner):
    known = submit(client, "/forgot-password", {"email": partner}, follow_redirects=True)
    unknown = submit(client, "/forgot-password", {"email": "nobody@acme.example"}, follow_redirects=True)
    text = "If an account exists for that address"
    assert text in known.get_data(as_text=True) and text in unknown.get_data(as_text=True)
    messages = run_mail_job(app)
    assert [message["To"].addresses[0].addr_spec for message in messages] == [partner]
    assert "/reset-password/" in messages[0].get_body(("plain",)).get_content()


def test_forgot_password_does_the_same_work_for_unknown_addresses(app, client, partner, count_queries):
    """Timing told which accounts exist; the same statements for every address leave nothing to time."""

    def statements_for(email: str) -> list[str]:
        html = client.get("/forgot-password").get_data(as_text=True)
        with count_queries() as counter:
            response = client.post("/forgot-password", data={"csrf_token": csrf_token(html), "email": email})
        assert response.status_code == 303
        return counter.statements

    known = statements_for(partner)
    unknown = statements_for("nobody@acme.example")
    assert known == unknown
    assert len(known) == 1 and known[0].lstrip().upper().startswith("INSERT INTO PASSWORD_RESET_REQUESTS")
    with app.app_context():
        assert _db.session.scalars(select(OutboxMessage)).all() == [], "nothing is looked up or sent in the request"


def test_a_reset_link_uses_the_site_url_and_works_once(app, partner):
    browser, other = app.test_client(), app.test_client()
    login(other, partner)
    # A forged Host header must not end up in the link.
    html = browser.get("/forgot-password", base_url="http://evil.example").get_data(as_text=True)
    response = browser.post(
        "/forgot-password", base_url="http://evil.example", data={"csrf_token": csrf_token(html), "email": partner}
    )
    assert response.status_code == 303
    run_mail_job(app)
    message, link = reset_link(app, partner)
    assert link.startswith(app.config["SITE_URL"] + "/reset-password/")
    assert "evil.example" not in message.text_body + message.html_body
    path = link.removeprefix(app.config["SITE_URL"])
    response = submit(
        browser, path, {"new_password": "my recovered passphrase", "confirm_password": "my recovered passphrase"}
    )
    assert response.status_code == 303
    assert other.get("/dashboard/").status_code == 302  # other sessions ended
    assert browser.get(path).status_code == 410  # single use
    assert login(browser, partner, "my recovered passphrase").status_code == 303


def test_a_reset_link_expires_after_an_hour(app, client, partner):
    submit(client, "/forgot-password", {"email": partner})
    run_mail_job(app)
    _, link = reset_link(app, partner)
    path = link.removeprefix(app.config["SITE_URL"])
    with time_machine.travel(clock.now() + timedelta(minutes=59)):
        assert client.get(path).status_code == 200
    with time_machine.travel(clock.now() + timedelta(minutes=61)):
        response = client.get(path)
        assert response.status_code == 410
        assert "no longer works" in response.get_data(as_text=True)


def test_staff_without_two_factor_cannot_reach_any_console_page(client, manager):
    response = login(client, manager)
    assert response.headers["Location"] == "/account/two-factor"
    for path in ("/admin/", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/two-factor"


def test_the_console_is_hidden_from_partners_and_asks_visitors_to_log_in(app, client, partner):
    assert client.get("/admin/").headers["Location"].startswith("/login?next=/admin/")
    login(client, partner)
    assert client.get("/admin/").status_code == 404


def test_staff_set_up_two_factor_then_need_a_code_at_every_login(app, manager):
    client = app.test_client()
    login(client, manager)
    secret, codes = setup_two_factor(client)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/audit").status_code == 403  # managers do not see the audit log

    fresh = app.test_client()
    response = login(fresh, manager)
    assert response.headers["Location"] == "/login/two-factor"
    assert fresh.get("/admin/").status_code == 302  # not logged in until the code is given
    wrong = submit(fresh, "/login/two-factor", {"code": "000000"})
    assert "not right" in wrong.get_data(as_text=True)
    ok = submit(fresh, "/login/two-factor", {"code": next_totp(secret)})
    assert ok.headers["Location"] == "/admin/"
    assert fresh.get("/admin/").status_code == 200

    # A code is accepted once; a recovery code too.
    again = app.test_client()
    login(again, manager)
    assert "not right" in submit(again, "/login/two-factor", {"code": next_totp(secret)}).get_data(as_text=True)
    assert submit(again, "/login/two-factor", {"code": codes[0].upper()}).status_code == 303
    once_more = app.test_client()
    login(once_more, manager)
    assert "not right" in submit(once_more, "/login/two-factor", {"code": codes[0]}).get_data(as_text=True)
    assert "auth.two_factor_enabled" in audit_actions(app)


def test_partners_may_turn_two_factor_on_and_off(app, client, partner):
    login(client, partner)
    setup_two_factor(client)
    assert "On</span>" in client.get("/account").get_data(as_text=True)
    response = submit(client, "/account/two-factor/disable", {"disable-password": DEFAULT_PASSWORD}, page="/account")
    assert response.status_code == 303
    page = client.get("/account").get_data(as_text=True)
    assert "Off</span>" in page
    assert login(app.test_client(), partner).headers["Location"] == "/dashboard/"


def test_every_response_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers
    assert "Content-Security-Policy" in client.get("/no-such-page").headers


def test_hsts_is_sent_when_the_site_runs_on_https(database_url):
    from tests.conftest import make_test_app

    app = make_test_app(database_url, HTTPS=True)
    response = app.test_client().get("/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    with app.app_context():
        _db.engine.dispose()


def test_a_form_post_without_csrf_token_gets_a_clear_400(client, partner):
    response = client.post("/login", data={"email": partner, "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert "nothing was saved" in response.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302


def test_demo_seed_creates_one_account_per_role_and_prints_the_logins(runner, app):
    first = runner.invoke(args=["demo", "seed"])
    second = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    for email in ("admin@cloudcodes.example", "manager@cloudcodes.example", "owner@acme-cloud.example"):
        assert email in second.output
    with app.app_context():
        roles = sorted(user.role for user in _db.session.scalars(select(User)))
        assert roles == ["admin", "manager", "partner", "partner", "partner"]  # + two demo partners' owners


def test_demo_staff_log_in_with_the_code_printed_by_demo_code(database_url):
    from tests.conftest import make_test_app

    app = make_test_app(database_url, ENV="development")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    client = app.test_client()
    assert (
        login(client, "admin@cloudcodes.example", "demo-admin-password-2026").headers["Location"] == "/login/two-factor"
    )
    code = runner.invoke(args=["demo", "code", "admin@cloudcodes.example"]).output.strip()
    assert submit(client, "/login/two-factor", {"code": code}).headers["Location"] == "/admin/"
    assert client.get("/admin/audit").status_code == 200
    with app.app_context():
        _db.engine.dispose()


def test_demo_code_refuses_outside_development(runner):
    runner.invoke(args=["demo", "seed"])
    result = runner.invoke(args=["demo", "code", "admin@cloudcodes.example"])
    assert result.exit_code != 0
    assert "only with CLOUDCODES_ENV=development" in result.output
