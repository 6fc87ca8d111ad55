"""Staff accounts (administrators and channel sales managers), managed by an administrator.

Every function here checks the rule, changes the account, records an audit event and owns its
transaction (``@transactional``): a refusal is an ``AccountError`` (with the form field at fault,
when there is one), and nothing of a refused request stays in the session.

Two rules keep the console manageable: an administrator never demotes or disables their own
account (another administrator must), and the last active administrator is never demoted or
disabled. The active administrators' rows are locked (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite write transactions begin ``IMMEDIATE``) before they are counted, so two administrators
demoting each other at the same moment cannot leave the console with none.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from cloudcodes import formatting
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.states import OPEN_STATES
from cloudcodes.audit.services import record
from cloudcodes.auth.models import STAFF_ROLES, Role, User
from cloudcodes.auth.services import (
    INVITATION_LIFETIME,
    AccountError,
    clear_two_factor,
    create_user,
    issue_password_token,
    normalise_email,
    set_active,
)
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.models import Partner
from cloudcodes.services import transactional
from cloudcodes.urls import external_url

NAME_MAX_LENGTH = 120
INVITATION_DAYS = INVITATION_LIFETIME.days

# --- Checks shared by the actions ---------------------------------------------------------------


def role_with_article(role: str | Role) -> str:
    """The role as it reads in a sentence: "an administrator" or "a channel sales manager"."""
    return "an administrator" if Role(role) == Role.ADMIN else "a channel sales manager"


def _staff_role(role: str | Role) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen not in STAFF_ROLES:
        raise AccountError("Choose administrator or channel sales manager.", field="role")
    return chosen  # type: ignore[return-value]


def _require_admin(by: User) -> None:
    if by is None or by.role != Role.ADMIN or not by.active:
        raise AccountError("Only an administrator can manage staff accounts.")


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise AccountError("This is not a staff account; partner users are managed by their partner's owner.")


def _locked_active_admin_ids() -> set[int]:
    """The active administrators, their rows locked until the transaction ends."""
    query = select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).with_for_update()
    return set(db.session.scalars(query))


def _keep_an_administrator(user: User, by: User, *, doing: str, field: str | None = None) -> None:
    """Refuse to take away ``user``'s administrator powers (``doing`` names how) when the rules forbid it."""
    admins = _locked_active_admin_ids()
    if by.id not in admins:  # demoted or disabled by someone else a moment ago
        raise AccountError("Only an administrator can manage staff accounts.")
    is_last = user.id in admins and len(admins) == 1
    if user.id == by.id:
        why = (
            "You are the last active administrator: make another staff member an administrator first, "
            "then ask them to do it."
            if is_last
            else "Ask another administrator to do it, so that nobody can lock themselves out by mistake."
        )
        # No field: the console does not offer these forms on your own page, so this is a message.
        raise AccountError(f"You cannot {doing} your own account. {why}")
    if is_last:
        raise AccountError(
            f"{user.display_name} is the last active administrator, so you cannot {doing} their account: "
            "the console would be left without anyone who can manage staff and settings. "
            "Make another staff member an administrator first.",
            field=field,
        )


def _clean_name(full_name: str) -> str:
    name = " ".join((full_name or "").split())
    if not name:
        raise AccountError("Enter the person's full name.", field="full_name")
    if len(name) > NAME_MAX_LENGTH:
        raise AccountError(f"Use at most {NAME_MAX_LENGTH} characters for the name.", field="full_name")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise AccountError("The name contains a control character; type it again.", field="full_name")
    return name


def _send_invitation(user: User, by: User) -> None:
    token = issue_password_token(user, purpose="invitation")
    role = user.role
    try:
        queue_email(
            to=user.email,
            to_name=user.full_name,
            template="staff_invitation",
            reply_to=by.email,
            context={
                "user": user,
                "invited_by": by,
                "role_label": role.label,
                "role_with_article": role_with_article(role),
                "invitation_url": external_url("auth.reset_password", token=token),
                "expires_in_days": INVITATION_DAYS,
            },
        )
    except ValueError as error:  # an address our mail server cannot take (e.g. non-ASCII before the @)
        raise AccountError(f"We cannot send an e-mail to this address: {error}", field="email") from None


# --- The actions ---------------------------------------------------------------------------------


@transactional
def invite_staff(email: str, full_name: str, role: str | Role, *, by: User) -> User:
    """A new staff account without a password, and an e-mail with a 7-day link to choose one.

    At their first login (right after choosing the password) they are led to set up two-factor
    authentication before they can use the console.
    """
    _require_admin(by)
    chosen = _staff_role(role)
    name = _clean_name(full_name)
    address = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == address)) is not None:
        raise AccountError("An account with this e-mail address already exists.", field="email")
    user = create_user(address, None, chosen, full_name=name)  # a concurrent invitation still hits the constraint
    _send_invitation(user, by)
    record("staff.invited", actor=by, target=user, details={"email": user.email, "role": user.role})
    return user


@transactional
def resend_invitation(user: User, *, by: User) -> None:
    """A new invitation link (the earlier ones stop working) for an account that never set a password."""
    _require_admin(by)
    _require_staff(user)
    if user.password_hash is not None:
        raise AccountError(
            f"{user.display_name} has already chosen a password. If they forgot it, they can use "
            "“Forgot your password?” on the login page."
        )
    if not user.active:
        raise AccountError(f"{user.display_name}'s account is disabled: enable it before sending the invitation.")
    _send_invitation(user, by)
    record("staff.invitation_resent", actor=by, target=user)


@transactional
def change_role(user: User, role: str | Role, *, by: User) -> Role:
    """Make a staff member an administrator or a channel sales manager; returns the new role."""
    _require_admin(by)
    _require_staff(user)
    new_role = _staff_role(role)
    old_role = user.role
    if new_role == old_role:
        raise AccountError(f"{user.display_name} is already {role_with_article(new_role)}.", field="role")
    if old_role == Role.ADMIN:
        _keep_an_administrator(user, by, doing="remove the administrator role from", field="role")
    user.role = new_role
    record("staff.role_changed", actor=by, target=user, details={"from": old_role.value, "to": new_role.value})
    return new_role


@dataclass(frozen=True)
class Handover:
    """What a disabled staff member leaves behind: it now needs another channel sales manager."""

    partners: int
    open_applications: int

    @property
    def needed(self) -> bool:
        return bool(self.partners or self.open_applications)

    def describe(self) -> str:
        parts = []
        if self.partners:
            parts.append(formatting.plural(self.partners, "partner"))
        if self.open_applications:
            parts.append(formatting.plural(self.open_applications, "open application"))
        return " and ".join(parts)


def handover(user: User) -> Handover:
    """The partners a staff member manages and the open applications assigned to them."""
    partners = db.session.scalar(select(func.count()).select_from(Partner).where(Partner.channel_manager_id == user.id))
    applications = db.session.scalar(
        select(func.count())
        .select_from(PartnerApplication)
        .where(
            PartnerApplication.assigned_manager_id == user.id,
            PartnerApplication.state.in_([state.value for state in OPEN_STATES]),
        )
    )
    return Handover(partners=partners or 0, open_applications=applications or 0)


@transactional
def disable(user: User, *, by: User) -> Handover:
    """Disable the account and end its sessions; returns what now needs another manager."""
    _require_admin(by)
    _require_staff(user)
    if not user.active:
        raise AccountError(f"{user.display_name}'s account is already disabled.")
    if user.role == Role.ADMIN:  # which includes ``by`` themselves
        _keep_an_administrator(user, by, doing="disable")
    left = handover(user)
    set_active(user, False, by=by)
    record(
        "staff.disabled",
        actor=by,
        target=user,
        details={"partners": left.partners, "open_applications": left.open_applications},
    )
    return left


@transactional
def enable(user: User, *, by: User) -> None:
    _require_admin(by)
    _require_staff(user)
    if user.active:
        raise AccountError(f"{user.display_name}'s account is already enabled.")
    set_active(user, True, by=by)
    record("staff.enabled", actor=by, target=user)


@transactional
def reset_two_factor(user: User, *, by: User) -> None:
    """For a staff member who lost their phone: two-factor off, recovery codes gone, every session ended.

    They log in with their password and are led to set two-factor up again before they can use
    the console. Another administrator must do it for you: resetting your own would only lower
    your account's protection.
    """
    _require_admin(by)
    _require_staff(user)
    if user.id == by.id:
        raise AccountError(
            "You cannot reset your own two-factor authentication. Use one of your recovery codes to log in, "
            "or ask another administrator."
        )
    if not user.two_factor_enabled:
        raise AccountError(f"{user.display_name} has no two-factor authentication set up; nothing to reset.")
    clear_two_factor(user)
    record("staff.two_factor_reset", actor=by, target=user)
