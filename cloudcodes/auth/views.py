from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse as parse_limit

from cloudcodes import clock
from cloudcodes.auth import forms, qr
from cloudcodes.auth.models import User
from cloudcodes.auth.services import (
    AccountError,
    authenticate,
    change_password,
    disable_two_factor,
    enable_two_factor,
    live_login_session,
    log_out_everywhere,
    log_out_this_browser,
    login_sessions,
    new_totp_secret,
    open_login_session,
    provisioning_uri,
    record_login,
    regenerate_recovery_codes,
    request_password_reset,
    reset_password,
    valid_password_token,
    verify_second_factor,
)
from cloudcodes.extensions import db, limiter, login_manager
from cloudcodes.notices.forms import NoticePreferencesForm, preferences_form
from cloudcodes.notices.rules import NoticeKind, may_receive
from cloudcodes.notices.services import preferences_of, save_preferences
from cloudcodes.partners.lifecycle import LifecycleError, confirm_email_change, valid_email_change
from cloudcodes.partners.services import membership_of
from cloudcodes.web import TWO_FACTOR_VERIFIED, signed_in_user, submit

blueprint = Blueprint("auth", __name__)

PENDING_LOGIN = "pending_login"
SETUP_SECRET = "totp_setup_secret"  # noqa: S105 - a session key, not a secret
GENERIC_LOGIN_ERROR = "Invalid e-mail or password."
PENDING_LOGIN_SECONDS = 5 * 60  # a password-verified login waits this long for its second factor
# Wrong second factors per account, from any address: past this, the pending login is dropped.
WRONG_SECOND_FACTORS = parse_limit("5 per 15 minutes")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The id in the cookie is ``<user id>:<session version>:<login session token>``.

    An old version (the password changed, "log out everywhere") or an ended session no longer loads.
    """
    user_part, version_part, token = [*user_id.split(":", 2), "", ""][:3]
    if not (user_part.isdigit() and version_part.isdigit() and token):
        return None
    return live_login_session(int(user_part), int(version_part), token)


def submitted_email() -> str:
    return "account:" + request.form.get("email", "").strip().lower()[:254]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, a scheme, or a protocol-relative URL."""
    if not target or "\\" in target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_for(user: User) -> str:
    return url_for("admin.index") if user.is_staff else url_for("dashboard.index")


def start_session(user: User, remember: bool, *, two_factor_verified: bool) -> None:
    """A fresh session (nothing carried over from before the login) for ``user``."""
    session.clear()
    open_login_session(user, request.headers.get("User-Agent", ""))
    login_user(user, remember=remember)
    session[TWO_FACTOR_VERIFIED] = two_factor_verified


def finish_login(user: User, remember: bool, next_url: str | None, *, two_factor_verified: bool) -> ResponseReturnValue:
    record_login(user, two_factor=two_factor_verified)
    start_session(user, remember, two_factor_verified=two_factor_verified)
    if user.two_factor_required and not user.two_factor_enabled:
        flash("Staff accounts need two-factor authentication. Set it up now to reach the console.", "warning")
        return redirect(url_for("auth.two_factor_setup"), 303)
    flash(f"Welcome, {user.display_name}.", "success")
    return redirect(safe_next(next_url) or home_for(user), 303)


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit("5/minute;20/hour", methods=["POST"])
@limiter.limit("5/minute;20/hour", key_func=submitted_email, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = forms.LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            form.form_errors.append(GENERIC_LOGIN_ERROR)
        elif user.two_factor_enabled:
            session.clear()
            session[PENDING_LOGIN] = {
                "at": clock.now().timestamp(),
                "user": user.id,
                "version": user.session_version,
                "remember": bool(form.remember.data),
                "next": safe_next(next_url),
            }
            return redirect(url_for("auth.login_two_factor"), 303)
        else:
            return finish_login(user, bool(form.remember.data), next_url, two_factor_verified=False)
    status = 200 if request.method == "GET" or not form.form_errors else 401
    return render_template("auth/login.html", form=form, next_url=safe_next(next_url)), status


@blueprint.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit("5/minute;20/hour", methods=["POST"])
def login_two_factor() -> ResponseReturnValue:
    pending = session.get(PENDING_LOGIN)
    user = db.session.get(User, pending["user"]) if pending else None
    started = float(pending.get("at", 0)) if pending else 0.0
    if (
        user is None
        or not user.active
        or user.session_version != pending["version"]
        or clock.now().timestamp() - started > PENDING_LOGIN_SECONDS
    ):
        session.pop(PENDING_LOGIN, None)
        flash("Your login has expired. Please log in again.", "warning")
        return redirect(url_for("auth.login"), 303)
    if not _wrong_codes_allowed(user, count_one=False):
        return _too_many_wrong_codes()
    form = forms.SecondFactorForm()
    if form.validate_on_submit():
        result = verify_second_factor(user, form.code.data or "")
        if not result.ok and not _wrong_codes_allowed(user, count_one=True):
            return _too_many_wrong_codes()
        if result.ok:
            if result.used_recovery_code:
                flash(
                    f"You used a recovery code; {result.recovery_codes_left} are left. "
                    "Make new ones from your account page if you are running low.",
                    "warning",
                )
            return finish_login(user, pending["remember"], pending["next"], two_factor_verified=True)
        form.code.errors = ["That code is not right, or was already used. Enter the newest code from your app."]
    return render_template("auth/login_two_factor.html", form=form)


def _wrong_codes_allowed(user: User, *, count_one: bool) -> bool:
    """Whether the account may still get a code wrong (``count_one``: and count this wrong one).

    With rate limits switched off (``RATELIMIT_ENABLED``) the limiter has no storage: every attempt is
    allowed, as every decorated limit is then.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    check = limiter.limiter.hit if count_one else limiter.limiter.test
    return check(WRONG_SECOND_FACTORS, "second-factor", str(user.id))


def _too_many_wrong_codes() -> ResponseReturnValue:
    """Counted per account, whatever the address or browser: the password must be entered again."""
    session.pop(PENDING_LOGIN, None)
    flash(
        "Too many wrong codes for this account. For its security, log in again with your password "
        "in a few minutes, then enter the newest code from your app.",
        "danger",
    )
    return redirect(url_for("auth.login"), 303)


@blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = forms.EmptyForm()
    if request.method == "GET":
        return render_template("auth/logout.html", form=form)
    if not form.validate_on_submit():
        abort(400)
    log_out_this_browser(signed_in_user())
    logout_user()
    session.clear()
    flash("You have logged out of this browser.", "success")
    return redirect(url_for("public.home"), 303)


@blueprint.post("/account/log-out-everywhere")
@login_required
def log_out_everywhere_view() -> ResponseReturnValue:
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    log_out_everywhere(signed_in_user())
    logout_user()
    session.clear()
    flash("You have logged out everywhere: every session of your account, on every device, has ended.", "success")
    return redirect(url_for("auth.login"), 303)


# --- The account page ---------------------------------------------------------------------------


def relogin(user: User) -> None:
    """Keep this browser logged in after the session version moved on."""
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    start_session(user, remember, two_factor_verified=user.two_factor_enabled)


@blueprint.get("/account")
@login_required
def account() -> ResponseReturnValue:
    return _account_page(forms.ChangePasswordForm())


@blueprint.post("/account/password")
@login_required
def account_password() -> ResponseReturnValue:
    form = forms.ChangePasswordForm()
    user = signed_in_user()

    def perform() -> str:
        change_password(user, form.current_password.data, form.new_password.data or "")
        relogin(user)
        return "Your password has been changed. Every other session of your account has ended."

    return submit(form, perform, back=url_for("auth.account"), show=lambda status: _account_page(form, status))


def _notice_form(user: User, **form_args: Any) -> NoticePreferencesForm | None:
    """The "E-mail notices" form of a partner member: the kinds its role may hear of."""
    membership = None if user.is_staff else membership_of(user)
    if membership is None:
        return None
    kinds = [kind for kind in NoticeKind if may_receive(membership.role, kind)]
    return preferences_form(kinds, preferences_of(user), **form_args)


@blueprint.post("/account/notices")
@login_required
def account_notices() -> ResponseReturnValue:
    user = signed_in_user()
    form = _notice_form(user)
    if form is None:
        abort(404)

    def perform() -> str:
        changed = save_preferences(user, form.choices())
        if not changed:
            return "Your e-mail notices are as they were: nothing changed."
        return "Your e-mail notices are saved."

    return submit(
        form,
        perform,
        back=url_for("auth.account", _anchor="notices"),
        show=lambda status: _account_page(forms.ChangePasswordForm(formdata=None), status, notice_form=form),
    )


def _account_page(
    password_form: forms.ChangePasswordForm,
    status: int = 200,
    *,
    notice_form: NoticePreferencesForm | None = None,
) -> ResponseReturnValue:
    user = signed_in_user()
    return render_template(
        "auth/account.html",
        password_form=password_form,
        notice_form=notice_form or _notice_form(user, formdata=None),
        disable_form=forms.PasswordConfirmForm(prefix="disable"),
        regenerate_form=forms.EmptyForm(prefix="regenerate"),
        everywhere_form=forms.EmptyForm(prefix="everywhere"),
        login_sessions=login_sessions(signed_in_user()),
        this_login_session=getattr(signed_in_user(), "login_session_id", None),
    ), status


@blueprint.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> ResponseReturnValue:
    user = signed_in_user()
    if user.two_factor_enabled:
        flash("Two-factor authentication is already on.", "info")
        return redirect(url_for("auth.account"))
    secret = session.get(SETUP_SECRET) or new_totp_secret()
    session[SETUP_SECRET] = secret
    form = forms.EnableTwoFactorForm()
    if form.validate_on_submit():
        try:
            codes = enable_two_factor(user, secret, form.code.data or "")
        except AccountError as error:
            form.code.errors = [str(error)]
        else:
            session.pop(SETUP_SECRET, None)
            relogin(user)
            flash("Two-factor authentication is on.", "success")
            return render_template("auth/recovery_codes.html", codes=codes, next_url=home_for(user))
    uri = provisioning_uri(user, secret)
    return render_template("auth/two_factor_setup.html", form=form, secret=secret, qr_data_uri=qr.svg_data_uri(uri))


@blueprint.post("/account/two-factor/recovery-codes")
@login_required
def two_factor_recovery_codes() -> ResponseReturnValue:
    form = forms.EmptyForm(prefix="regenerate")
    user = signed_in_user()
    if not form.validate_on_submit() or not user.two_factor_enabled:
        abort(400)
    codes = regenerate_recovery_codes(user)
    flash("New recovery codes made; the old ones no longer work.", "success")
    return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("auth.account"))


@blueprint.post("/account/two-factor/disable")
@login_required
def two_factor_disable() -> ResponseReturnValue:
    form = forms.PasswordConfirmForm(prefix="disable")
    user = signed_in_user()
    if form.validate_on_submit():
        try:
            disable_two_factor(user, form.password.data or "")
        except AccountError as error:
            flash(str(error), "danger")
        else:
            relogin(user)
            flash("Two-factor authentication is off.", "success")
    else:
        flash("Enter your password to turn two-factor authentication off.", "danger")
    return redirect(url_for("auth.account"), 303)


# --- Forgotten passwords and invitations ---------------------------------------------------------


@blueprint.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("5/hour", methods=["POST"])
@limiter.limit("5/hour", key_func=submitted_email, methods=["POST"])
def forgot_password() -> ResponseReturnValue:
    form = forms.ForgotPasswordForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data or "")
        # The same answer whether or not the address has an account.
        flash(
            "If an account exists for that address, we have sent it a link to choose a new password. "
            "The link works once, for one hour.",
            "info",
        )
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/forgot_password.html", form=form)


@blueprint.route("/reset-password/<token>", methods=["GET", "POST"], endpoint="reset_password")
@limiter.limit("10/hour", methods=["POST"])
def reset_password_view(token: str) -> ResponseReturnValue:
    row = valid_password_token(token)
    if row is None:
        return render_template("auth/reset_invalid.html"), 410
    invitation = row.purpose == "invitation"
    form = forms.ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = reset_password(token, form.new_password.data or "")
        except AccountError as error:
            form.new_password.errors.append(str(error))
        else:
            logout_user()
            session.clear()
            if invitation:
                # The invitation link proved the address: the new partner user goes straight in.
                return finish_login(user, False, None, two_factor_verified=False)
            flash("Your password is set. Log in with it now.", "success")
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset_password.html", form=form, invitation=invitation, email=row.user.email)


# --- Confirming a corrected e-mail address (asked for by the partner's channel manager) ---------


@blueprint.route("/account/confirm-email/<token>", methods=["GET", "POST"], endpoint="confirm_email")
@limiter.limit("10/hour", methods=["POST"])
def confirm_email_view(token: str) -> ResponseReturnValue:
    """The link in the mail to the new address: a page with one button, so a mail scanner opening it changes nothing."""
    change = valid_email_change(token)
    if change is None:
        return render_template("auth/confirm_email.html", change=None, form=None), 410
    form = forms.EmptyForm()
    if form.validate_on_submit():
        try:
            confirm_email_change(token)
        except LifecycleError as error:
            flash(error.message, "warning")
            return render_template("auth/confirm_email.html", change=None, form=None), 410
        logout_user()
        session.clear()
        flash("Your e-mail address is changed. Log in with the new address and your usual password.", "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/confirm_email.html", change=change, form=form)
