"""Accounts: creating them, checking passwords, ending sessions, resets and two-factor."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import LoginSession, PasswordResetRequest, PasswordResetToken, RecoveryCode, Role, User
from cloudcodes.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import delivery_starting, queue_email
from cloudcodes.services import ServiceError, transactional
from cloudcodes.urls import external_url

RESET_TOKEN_LIFETIME = timedelta(hours=1)
INVITATION_LIFETIME = timedelta(days=7)
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "CloudCodes Partners"


class AccountError(ServiceError):
    """A request about an account that cannot be done; ``field`` names the form field at fault."""


def normalise_email(email: str) -> str:
    """The address as stored and compared: syntax checked, the domain in its ASCII (IDNA) form, lower case.

    ``ana@Bücher-Söhne.de`` and ``ana@xn--bcher-shne-q9a1j.de`` are one account: one canonical form,
    whichever way it is typed (``formatting.email_address`` shows it as people write it).
    """
    try:
        result = validate_email(email.strip(), check_deliverability=False)
        return (result.ascii_email or result.normalized).lower()
    except EmailNotValidError as error:
        raise AccountError(f"Enter a valid e-mail address: {error}", field="email") from None


def find_user(email: str) -> User | None:
    try:
        address = normalise_email(email)
    except AccountError:
        return None
    return db.session.scalar(select(User).where(User.email == address))


@transactional
def create_user(email: str, password: str | None, role: Role, full_name: str = "") -> User:
    address = normalise_email(email)
    if password is not None:
        problem = password_problem(password, address)
        if problem:
            raise AccountError(problem, field="password")
    user = User(
        email=address,
        full_name=full_name.strip(),
        role=Role(role),
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=clock.now() if password is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise AccountError("An account with this e-mail address already exists.", field="email") from None
    record("user.created", target=user, details={"role": user.role})
    return user


@transactional
def authenticate(email: str, password: str) -> User | None:
    """The user these credentials belong to, or None; the same work is done for unknown addresses."""
    user = find_user(email)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not user.active or not password_ok:
        record("auth.login_failed", target=user, actor_email=email.strip().lower()[:254])
        return None
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


def end_all_sessions(user: User) -> None:
    """Every login cookie of the user stops working (its id carries the old version)."""
    user.session_version += 1
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )


@transactional
def open_login_session(user: User, user_agent: str) -> str:
    """A new login session for one browser; returns the token its cookie carries (``user.login_token``)."""
    token = secrets.token_urlsafe(24)
    clean_agent = "".join(char for char in user_agent if char.isprintable())[:200]
    login_session = LoginSession(user_id=user.id, token_hash=_token_hash(token), user_agent=clean_agent)
    db.session.add(login_session)
    db.session.flush()
    user.login_token = token  # type: ignore[attr-defined] - read by User.get_id for the cookie
    user.login_session_id = login_session.id  # type: ignore[attr-defined]
    return token


# Every logged-in request sends it: built once (building it costs more than running it).
_LIVE_LOGIN_SESSION = (
    select(User, LoginSession.id)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        User.active.is_(True),
        User.session_version == bindparam("session_version"),
        LoginSession.token_hash == bindparam("token_hash"),
        LoginSession.ended_at.is_(None),
    )
)


def live_login_session(user_id: int, session_version: int, token: str) -> User | None:
    """The user of a cookie, in one query: active, at the cookie's session version, its session not ended."""
    row = db.session.execute(
        _LIVE_LOGIN_SESSION,
        {"user_id": user_id, "session_version": session_version, "token_hash": _token_hash(token)},
    ).first()
    if row is None:
        return None
    user, login_session_id = row
    user.login_token = token  # type: ignore[attr-defined]
    user.login_session_id = login_session_id  # type: ignore[attr-defined]
    return user


def login_sessions(user: User) -> list[LoginSession]:
    """The user's browsers still logged in, newest first."""
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
            .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
        )
    )


@transactional
def log_out_this_browser(user: User) -> None:
    """The user logged out here: this browser's session ends; others stay logged in."""
    token = getattr(user, "login_token", "")
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == _token_hash(token), LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
    record("auth.logout", actor=user, target=user)


@transactional
def record_login(user: User, *, two_factor: bool) -> None:
    user.last_login_at = clock.now()
    record("auth.login", actor=user, target=user, details={"two_factor": two_factor})


@transactional
def log_out_everywhere(user: User) -> None:
    """Every session of the account ends, on every device."""
    end_all_sessions(user)
    record("auth.logout_everywhere", actor=user, target=user)


@transactional
def request_password_reset(email: str) -> None:
    """Note a "forgot password" request for the mail job: the same single write whatever the address.

    Nothing here depends on whether the address has an account, so neither the answer nor its
    timing tells (``send_requested_password_resets`` looks the account up, out of the request).
    """
    db.session.add(PasswordResetRequest(email=email.strip()[:254], requested_at=clock.now()))


@transactional
def send_requested_password_resets(limit: int = 100) -> int:
    """E-mail a one-hour reset link for each waiting request whose address has an active account.

    Run by the outbox job before it delivers, so the link leaves in the same run. Each request is
    used once and then deleted, whether or not an account was found; returns how many were sent.
    """
    waiting = db.session.scalars(
        select(PasswordResetRequest).order_by(PasswordResetRequest.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for request in waiting:
        db.session.delete(request)
        user = find_user(request.email)
        if user is None or not user.active:
            continue
        token = issue_password_token(user)
        queue_email(
            to=user.email,
            to_name=user.full_name,
            template="password_reset",
            context={"user": user, "reset_url": external_url("auth.reset_password", token=token)},
        )
        record("auth.password_reset_requested", actor=user, target=user)
        sent += 1
    return sent


@delivery_starting.connect
def _send_reset_links_before_delivery(sender: object, *, limit: int) -> None:
    send_requested_password_resets(limit)


@transactional
def change_password(user: User, current_password: str | None, new_password: str) -> None:
    if current_password is not None and not verify_password(user.password_hash, current_password):
        raise AccountError("Your current password is not correct.", field="current_password")
    problem = password_problem(new_password, user.email)
    if problem:
        raise AccountError(problem, field="new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = clock.now()
    end_all_sessions(user)
    record("auth.password_changed", actor=user, target=user)


@transactional
def set_active(user: User, active: bool, *, by: User | None = None) -> None:
    user.active = active
    if not active:
        end_all_sessions(user)
        # Links sent before must not come back to life when the account is enabled again.
        now = clock.now()
        for token in db.session.scalars(
            select(PasswordResetToken).where(
                PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)
            )
        ):
            token.used_at = now
    record("user.enabled" if active else "user.disabled", actor=by, target=user)


# --- Reset and invitation links -----------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_password_token(user: User, purpose: str = "reset") -> str:
    """A new single-use link token; only its hash is stored. Earlier unused tokens are withdrawn."""
    now = clock.now()
    for old in db.session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
    ):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    lifetime = INVITATION_LIFETIME if purpose == "invitation" else RESET_TOKEN_LIFETIME
    db.session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=_token_hash(token), purpose=purpose, created_at=now, expires_at=now + lifetime
        )
    )
    return token


def valid_password_token(token: str) -> PasswordResetToken | None:
    row = db.session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= clock.now() or not row.user.active:
        return None
    return row


@transactional
def reset_password(token: str, new_password: str) -> User:
    """Use a reset link once: set the password and end every session of the user."""
    row = valid_password_token(token)
    if row is None:
        raise AccountError("This link has expired or has already been used. Ask for a new one.")
    user = row.user
    change_password(user, None, new_password)
    # Only one request can mark the token used: a second, concurrent one updates no row.
    used = db.session.execute(
        PasswordResetToken.__table__.update()
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=clock.now())
    )
    if used.rowcount != 1:
        raise AccountError("This link has expired or has already been used. Ask for a new one.")
    record("auth.password_reset", actor=user, target=user, details={"purpose": row.purpose})
    return user


# --- Two-factor authentication -----------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step a code belongs to (allowing one step of clock drift), or None."""
    totp = pyotp.TOTP(secret)
    step = totp.timecode(at)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _clean_code(code: str) -> str:
    # ASCII only: "١٢٣٤٥٦" is digits to str.isdigit, but no code is made of them.
    return "".join(ch for ch in code if ch.isascii() and ch.isalnum()).lower()


def _hash_recovery_code(code: str) -> str:
    return hashlib.sha256(_clean_code(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    user.recovery_codes.clear()
    codes = [f"{secrets.token_hex(5)[:5]}-{secrets.token_hex(5)[:5]}" for _ in range(RECOVERY_CODE_COUNT)]
    user.recovery_codes.extend(RecoveryCode(code_hash=_hash_recovery_code(code)) for code in codes)
    return codes


@transactional
def enable_two_factor(user: User, secret: str, code: str) -> list[str]:
    """Turn on two-factor once the user proves the app works; returns the recovery codes to show once."""
    step = _matching_step(secret, _clean_code(code), clock.now())
    if step is None:
        raise AccountError("That code does not match. Check the time on your phone and enter the newest code.", "code")
    user.totp_secret = secret
    user.totp_enabled_at = clock.now()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    end_all_sessions(user)
    record("auth.two_factor_enabled", actor=user, target=user)
    return codes


@transactional
def regenerate_recovery_codes(user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    record("auth.recovery_codes_regenerated", actor=user, target=user)
    return codes


def clear_two_factor(user: User) -> None:
    """Two-factor off: no secret, no recovery codes, and every session ends (they were verified with it)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes.clear()
    end_all_sessions(user)


@transactional
def disable_two_factor(user: User, password: str) -> None:
    if user.two_factor_required:
        raise AccountError("Staff accounts must keep two-factor authentication on.")
    if not verify_password(user.password_hash, password):
        raise AccountError("Your password is not correct.", field="password")
    clear_two_factor(user)
    record("auth.two_factor_disabled", actor=user, target=user)


@dataclass(frozen=True)
class SecondFactorResult:
    ok: bool
    used_recovery_code: bool = False
    recovery_codes_left: int = 0


def _take_step(user: User, step: int) -> bool:
    """Mark ``step`` used unless it (or a later one) already was: True for the one request that did."""
    taken = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(user, ["totp_last_step"])
    return taken == 1


def _take_recovery_code(recovery: RecoveryCode) -> bool:
    taken = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == recovery.id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(recovery, ["used_at"])
    return taken == 1


@transactional
def verify_second_factor(user: User, code: str) -> SecondFactorResult:
    """Check a TOTP code (each step used once) or a recovery code (each used once).

    Each is taken by a compare-and-set in the database, so of several logins sending the same code
    at the same moment exactly one gets in: the row count says which.
    """
    cleaned = _clean_code(code)
    if user.totp_secret and cleaned.isdigit() and len(cleaned) == 6:
        step = _matching_step(user.totp_secret, cleaned, clock.now())
        if step is not None and _take_step(user, step):
            return SecondFactorResult(ok=True)
        record("auth.two_factor_failed", actor=user, target=user)
        return SecondFactorResult(ok=False)
    wanted = _hash_recovery_code(code)
    for recovery in user.recovery_codes:
        if secrets.compare_digest(recovery.code_hash, wanted) and _take_recovery_code(recovery):
            record("auth.recovery_code_used", actor=user, target=user)
            left = db.session.scalar(
                select(func.count(RecoveryCode.id)).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
            return SecondFactorResult(ok=True, used_recovery_code=True, recovery_codes_left=left or 0)
    record("auth.two_factor_failed", actor=user, target=user)
    return SecondFactorResult(ok=False)
