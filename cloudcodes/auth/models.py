"""People who log in: staff (admins, channel sales managers) and partner users."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.db import enum_column, search_column
from cloudcodes.extensions import db


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"  # a channel sales manager
    PARTNER = "partner"  # a member of a partner organisation

    @property
    def label(self) -> str:
        return {"admin": "Administrator", "manager": "Channel sales manager", "partner": "Partner user"}[self.value]


STAFF_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


class User(db.Model):
    __tablename__ = "users"
    __search_fields__ = ("full_name", "email")
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("session_version > 0", name="session_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    search_text: Mapped[str] = search_column()
    # None until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = enum_column(Role, name="known_role", length=20)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login cookie's id: bumping it ends every session of the user.
    session_version: Mapped[int] = mapped_column(default=1)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    # The last TOTP time step accepted, so a code cannot be used twice.
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def two_factor_required(self) -> bool:
        return self.is_staff

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    # Flask-Login's interface.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # <user>:<session version>:<login session token>; the token is set on the object that logged in
        # or was loaded for this request (auth.views.load_user), and names this browser's session.
        return f"{self.id}:{self.session_version}:{getattr(self, 'login_token', '')}"


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class PasswordResetToken(db.Model):
    """A single-use password reset (or invitation) link; only the token's SHA-256 is kept."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20), default="reset")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class PasswordResetRequest(db.Model):
    """A "forgot password" request waiting for the mail job, whether or not the address has an account.

    The page only stores this row, so answering costs the same for every address and its timing
    tells nobody which accounts exist; the job looks the account up and sends the link.
    """

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)


class LoginSession(db.Model):
    """One logged-in browser: logging out ends it alone; "log out everywhere" ends them all.

    The cookie carries the token; only its SHA-256 is stored, so this table cannot be used to log in.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    ended_at: Mapped[datetime | None]
