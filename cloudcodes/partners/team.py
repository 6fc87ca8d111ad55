"""A partner's team, managed by its owners: invitations, roles and removals.

Every function here checks the rule, changes the team, records an audit event with the state
before and after, and owns its transaction (``@transactional``); a refusal is a ``TeamError`` (with
the form field at fault, when there is one) or ``TeamChanged`` when someone else acted first.

One rule keeps a partner manageable: it always keeps an ACTIVE owner (an owner who has set a
password; one whose invitation is still pending does not count). The partner's row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write transactions begin ``IMMEDIATE``) before the
owners are counted, and the acting owner and the member acted on are read again under that lock,
so two owners removing or demoting each other at the same moment leave one owner.

A removed member's account is disabled (every session and link ends at once) and the membership
row is deleted: a user belongs to at most one partner (``partner_memberships.user_id`` is unique),
so keeping a "removed" row would stop the person from joining another partner later, and the audit
log keeps the history (who, which role, the training date). Inviting the address again, here or at
another partner, turns the disabled account back into a pending invitation (no password, no
two-factor, no sessions), so the person starts again from the invitation link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import PasswordResetToken, Role, User
from cloudcodes.auth.services import (
    INVITATION_LIFETIME,
    clear_two_factor,
    create_user,
    issue_password_token,
    normalise_email,
    set_active,
)
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.access import may_manage_team
from cloudcodes.partners.models import MemberRole, Partner, PartnerMembership
from cloudcodes.services import ChangedMeanwhile, ServiceError, transactional
from cloudcodes.urls import external_url

NAME_MAX_LENGTH = 120
INVITATION_DAYS = INVITATION_LIFETIME.days
LAST_OWNER = "Make another member an owner first."

ROLE_LABELS = {
    MemberRole.OWNER: "Owner",
    MemberRole.SALES: "Sales",
    MemberRole.TECHNICAL: "Technical",
}
ROLE_WITH_ARTICLE = {
    MemberRole.OWNER: "an owner",
    MemberRole.SALES: "a sales member",
    MemberRole.TECHNICAL: "a technical member",
}
ROLE_DESCRIPTIONS = {
    MemberRole.OWNER: "everything, including the team, the company and payout details",
    MemberRole.SALES: "customer domains, referral codes, purchases and earnings",
    MemberRole.TECHNICAL: "customer domains and referral codes (no money figures)",
}


class TeamError(ServiceError):
    """A team change the rules refuse; ``field`` names the form field at fault."""


class TeamChanged(ChangedMeanwhile):
    """The member was removed, or the invitation accepted or withdrawn, by someone else a moment ago."""


# --- Reading the team --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberStatus:
    state: str  # active, pending, expired, disabled
    expires_at: datetime | None = None

    @property
    def label(self) -> str:
        return {
            "active": "Active",
            "pending": "Invitation pending",
            "expired": "Invitation expired",
            "disabled": "Account disabled",
        }[self.state]

    @property
    def pending(self) -> bool:
        return self.state in ("pending", "expired")


def is_active_member(membership: PartnerMembership) -> bool:
    """Has set a password and the account is enabled (a pending invitation is not active yet)."""
    return membership.user.active and membership.user.password_hash is not None


def _invitation_expiries(user_ids: list[int]) -> dict[int, datetime]:
    """When each user's latest unused invitation link expires (one query for all of them)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(PasswordResetToken.user_id, func.max(PasswordResetToken.expires_at))
        .where(
            PasswordResetToken.user_id.in_(user_ids),
            PasswordResetToken.purpose == "invitation",
            PasswordResetToken.used_at.is_(None),
        )
        .group_by(PasswordResetToken.user_id)
    )
    return dict(rows.all())


def _status(user: User, expires_at: datetime | None) -> MemberStatus:
    if not user.active:
        return MemberStatus("disabled")
    if user.password_hash is not None:
        return MemberStatus("active")
    if expires_at is None or expires_at <= clock.now():
        return MemberStatus("expired", expires_at)
    return MemberStatus("pending", expires_at)


def status_of(membership: PartnerMembership) -> MemberStatus:
    return statuses_of([membership])[membership.id]


def statuses_of(memberships: list[PartnerMembership]) -> dict[int, MemberStatus]:
    """Each membership's status, by its id; the invitations' expiries in one query."""
    pending = [m.user_id for m in memberships if m.user.active and m.user.password_hash is None]
    expiries = _invitation_expiries(pending)
    return {m.id: _status(m.user, expiries.get(m.user_id)) for m in memberships}


def team_of(partner: Partner) -> list[PartnerMembership]:
    """The partner's members, each with its account: owners first, then by name."""
    order = {MemberRole.OWNER: 0, MemberRole.SALES: 1, MemberRole.TECHNICAL: 2}
    memberships = db.session.scalars(
        select(PartnerMembership)
        .where(PartnerMembership.partner_id == partner.id)
        .options(joinedload(PartnerMembership.user))
    ).all()
    return sorted(memberships, key=lambda m: (order.get(m.role, 9), m.user.display_name.lower(), m.id))


def membership_in(partner: Partner, membership_id: int) -> PartnerMembership | None:
    """One of the partner's memberships (another partner's is not found)."""
    return db.session.scalar(
        select(PartnerMembership).where(
            PartnerMembership.id == membership_id, PartnerMembership.partner_id == partner.id
        )
    )


# --- Checks shared by the actions --------------------------------------------------------------


def _role(role: str | MemberRole) -> MemberRole:
    try:
        return MemberRole(role)
    except ValueError:
        raise TeamError("Choose owner, sales or technical.", field="role") from None


def _clean_name(full_name: str) -> str:
    name = " ".join((full_name or "").split())
    if not name:
        raise TeamError("Enter the person's full name.", field="full_name")
    if len(name) > NAME_MAX_LENGTH:
        raise TeamError(f"Use at most {NAME_MAX_LENGTH} characters for the name.", field="full_name")
    return name


def _lock(partner: Partner, by: User) -> None:
    """Lock the partner's row, then check (under the lock) that ``by`` is still one of its active owners."""
    db.session.scalar(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    actor = db.session.scalar(
        select(PartnerMembership)
        .where(PartnerMembership.partner_id == partner.id, PartnerMembership.user_id == by.id)
        .execution_options(populate_existing=True)
    )
    if actor is not None:
        db.session.refresh(actor.user)
    if actor is None or not may_manage_team(actor.role) or not is_active_member(actor):
        raise TeamChanged("Only an owner of the partner can change its team, and you are no longer one.")


def _current(partner: Partner, membership: PartnerMembership) -> PartnerMembership:
    """The membership as it is now, read again under the partner's lock."""
    current = db.session.scalar(
        select(PartnerMembership)
        .where(PartnerMembership.id == membership.id, PartnerMembership.partner_id == partner.id)
        .execution_options(populate_existing=True)
    )
    if current is None:
        raise TeamChanged("This person is no longer on your team: someone removed them a moment ago.")
    db.session.refresh(current.user)
    return current


def _active_owner_ids(partner: Partner) -> set[int]:
    """The users of the partner's active owners (read under the partner's lock)."""
    return set(
        db.session.scalars(
            select(PartnerMembership.user_id)
            .join(User, User.id == PartnerMembership.user_id)
            .where(
                PartnerMembership.partner_id == partner.id,
                PartnerMembership.role == MemberRole.OWNER,
                User.active.is_(True),
                User.password_hash.is_not(None),
            )
        )
    )


def _keep_an_owner(
    partner: Partner, membership: PartnerMembership, by: User, *, doing: str, field: str | None = None
) -> None:
    owners = _active_owner_ids(partner)
    if membership.user_id in owners and owners == {membership.user_id}:
        if membership.user_id == by.id:
            raise TeamError(
                f"You are the last active owner of {partner.name}, so you cannot {doing} yourself. {LAST_OWNER}",
                field=field,
            )
        raise TeamError(
            f"{membership.user.display_name} is the last active owner of {partner.name}, so you cannot {doing} them. "
            f"{LAST_OWNER}",
            field=field,
        )


def _state(membership: PartnerMembership) -> dict[str, Any]:
    training = membership.sales_training_completed_on
    return {
        "email": membership.user.email,
        "name": membership.user.full_name,
        "role": str(membership.role),
        "status": status_of(membership).state,
        "sales_training_completed_on": training.isoformat() if training else None,
    }


def _record(action: str, membership: PartnerMembership, by: User, before: Any, after: Any) -> None:
    record(
        action,
        actor=by,
        target=membership.user,
        details={
            "partner_id": membership.partner_id,
            "partner": membership.partner.name,
            "before": before,
            "after": after,
        },
    )


def _send_invitation(membership: PartnerMembership, by: User) -> None:
    user = membership.user
    token = issue_password_token(user, purpose="invitation")
    try:
        queue_email(
            to=user.email,
            to_name=user.full_name,
            template="member_invitation",
            reply_to=by.email,
            context={
                "user": user,
                "partner": membership.partner,
                "invited_by": by,
                "role_label": ROLE_LABELS[membership.role],
                "role_with_article": ROLE_WITH_ARTICLE[membership.role],
                "role_description": ROLE_DESCRIPTIONS[membership.role],
                "invitation_url": external_url("auth.reset_password", token=token),
                "expires_in_days": INVITATION_DAYS,
            },
        )
    except ValueError as error:  # an address our mail server cannot take (e.g. non-ASCII before the @)
        raise TeamError(f"We cannot send an e-mail to this address: {error}", field="email") from None


# --- The actions --------------------------------------------------------------------------------


@transactional
def invite_member(
    partner: Partner, email: str, full_name: str, role: str | MemberRole, *, by: User
) -> PartnerMembership:
    """A new member without a password, and an e-mail with a 7-day link to choose one and log in."""
    _lock(partner, by)
    chosen = _role(role)
    name = _clean_name(full_name)
    try:
        address = normalise_email(email)
    except ServiceError as error:
        raise TeamError(error.message, field="email") from None
    user = db.session.scalar(select(User).where(User.email == address))
    if user is not None:
        membership = db.session.scalar(select(PartnerMembership).where(PartnerMembership.user_id == user.id))
        if membership is not None and membership.partner_id == partner.id:
            raise TeamError(f"{user.display_name} is already on your team.", field="email")
        if membership is not None or user.role != Role.PARTNER or user.active:
            raise TeamError(
                "An account with this e-mail address already exists, so it cannot be invited. "
                "Ask the person for another work address, or write to your channel sales manager.",
                field="email",
            )
        # Removed from a team earlier: the account becomes a fresh invitation (no password, no two-factor).
        user.full_name = name
        user.password_hash = None
        user.password_changed_at = None
        clear_two_factor(user)
        set_active(user, True, by=by)
    else:
        user = create_user(address, None, Role.PARTNER, full_name=name)  # a concurrent one hits the constraint
    membership = PartnerMembership(partner=partner, user=user, role=chosen)
    db.session.add(membership)
    db.session.flush()
    _send_invitation(membership, by)
    _record("member.invited", membership, by, None, _state(membership))
    return membership


@transactional
def resend_invitation(partner: Partner, membership: PartnerMembership, *, by: User) -> None:
    """A new invitation link; the earlier ones stop working."""
    _lock(partner, by)
    membership = _current(partner, membership)
    if not status_of(membership).pending:
        raise TeamChanged(f"{membership.user.display_name} has already accepted the invitation.")
    before = _state(membership)
    _send_invitation(membership, by)
    _record("member.invitation_resent", membership, by, before, _state(membership))


@transactional
def withdraw_invitation(partner: Partner, membership: PartnerMembership, *, by: User) -> str:
    """The invitation's link stops working and the person leaves the team list; returns their name."""
    _lock(partner, by)
    membership = _current(partner, membership)
    if not status_of(membership).pending:
        raise TeamChanged(
            f"{membership.user.display_name} has already accepted the invitation; remove them from the team instead."
        )
    before = _state(membership)
    name = membership.user.display_name
    set_active(membership.user, False, by=by)  # the links stop working
    _record("member.invitation_withdrawn", membership, by, before, None)
    db.session.delete(membership)
    return name


@transactional
def change_role(partner: Partner, membership: PartnerMembership, role: str | MemberRole, *, by: User) -> MemberRole:
    """Give a member another role; never takes the owner role from the last active owner."""
    _lock(partner, by)
    membership = _current(partner, membership)
    new_role = _role(role)
    if new_role == membership.role:
        raise TeamError(
            f"{membership.user.display_name} already has the {ROLE_LABELS[new_role].lower()} role.", field="role"
        )
    if membership.role == MemberRole.OWNER:
        _keep_an_owner(partner, membership, by, doing="take the owner role from", field="role")
    before = _state(membership)
    membership.role = new_role
    _record("member.role_changed", membership, by, before, _state(membership))
    return new_role


@transactional
def remove_member(partner: Partner, membership: PartnerMembership, *, by: User) -> str:
    """The member loses access at once (account disabled, sessions ended); returns their name."""
    _lock(partner, by)
    membership = _current(partner, membership)
    _keep_an_owner(partner, membership, by, doing="remove")
    before = _state(membership)
    name = membership.user.display_name
    set_active(membership.user, False, by=by)  # every session and link ends now
    _record("member.removed", membership, by, before, None)
    db.session.delete(membership)
    return name
