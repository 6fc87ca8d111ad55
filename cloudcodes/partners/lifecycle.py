"""A partner's lifecycle in the console: its channel manager, notes, owner e-mail corrections, "view as".

Each action checks who may do it (``may_manage``: the partner's manager or an admin; moving all of a
manager's partners is for admins), changes the records, records an audit event with ``before`` and
``after`` and owns its transaction (``@transactional``). Refusals are ``LifecycleError`` with the form
field at fault; someone acting first is ``ChangedMeanwhile``; the wrong staff member is a
``PermissionError`` (the views answer 403).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import Role, User
from cloudcodes.auth.services import AccountError, end_all_sessions, normalise_email
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.console_models import EmailChange, PartnerNote
from cloudcodes.partners.models import MemberRole, Partner, PartnerMembership
from cloudcodes.partners.services import may_manage
from cloudcodes.services import ChangedMeanwhile, ServiceError, transactional
from cloudcodes.urls import external_url

EMAIL_CHANGE_LIFETIME = timedelta(days=7)
NOTE_MAX_LENGTH = 5000


class LifecycleError(ServiceError):
    """A console action on a partner that cannot be done; ``field`` names the form field at fault."""


class NotAllowed(PermissionError):
    """A staff member acting on a partner that is not theirs (or an admin-only action without being one)."""


def _guard(by: User, partner: Partner) -> None:
    if not may_manage(by, partner):
        raise NotAllowed("Only the partner's channel sales manager (or an admin) can do this.")


def _require_admin(by: User) -> None:
    if by.role != Role.ADMIN or not by.active:
        raise NotAllowed("Only an administrator can move every partner of a manager.")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _manager_state(user: User | None) -> dict[str, object]:
    return {"manager_id": user.id if user else None, "manager": user.email if user else None}


# --- The channel manager ----------------------------------------------------------------------


def manager_choices() -> list[User]:
    """The staff a partner can be handed to: active channel sales managers, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.MANAGER, User.active.is_(True))
            .order_by(func.lower(User.full_name), User.email, User.id)
        )
    )


def _active_manager(manager_id: int | None, field: str) -> User:
    manager = db.session.get(User, manager_id) if manager_id else None
    if manager is None or manager.role != Role.MANAGER or not manager.active:
        raise LifecycleError("Choose an active channel sales manager.", field)
    return manager


def _owners(partner: Partner) -> list[User]:
    return [m.user for m in partner.memberships if m.role == MemberRole.OWNER and m.user.active]


def _tell_owners_of_manager(partner: Partner, manager: User) -> None:
    for owner in _owners(partner):
        queue_email(
            to=owner.email,
            to_name=owner.full_name,
            template="partner_manager_changed",
            reply_to=manager.email,
            context={"user": owner, "partner": partner, "manager": manager},
        )


def _move(partner: Partner, manager: User, by: User, how: str) -> None:
    before = _manager_state(partner.channel_manager)
    partner.channel_manager = manager
    record(
        "partner.manager_changed",
        actor=by,
        target=partner,
        details={"before": before, "after": _manager_state(manager), "how": how},
    )
    _tell_owners_of_manager(partner, manager)


@transactional
def change_manager(partner: Partner, manager_id: int | None, *, by: User) -> User:
    """Hand ``partner`` to another active channel sales manager; its owners are told by e-mail."""
    _guard(by, partner)
    manager = _active_manager(manager_id, "manager")
    if partner.channel_manager_id == manager.id:
        raise LifecycleError(f"{manager.display_name} already manages {partner.name}; choose someone else.", "manager")
    _move(partner, manager, by, "one")
    return manager


@transactional
def move_all_partners(from_manager: User, to_manager_id: int | None, *, by: User) -> int:
    """Every partner of ``from_manager`` to another manager: one audit event and one notice per partner."""
    _require_admin(by)
    manager = _active_manager(to_manager_id, "manager")
    if manager.id == from_manager.id:
        raise LifecycleError("Choose another manager than the one the partners have now.", "manager")
    partners = db.session.scalars(
        select(Partner).where(Partner.channel_manager_id == from_manager.id).order_by(Partner.id).with_for_update()
    ).all()
    if not partners:
        raise ChangedMeanwhile(f"{from_manager.display_name} manages no partner (any more): nothing to move.")
    for partner in partners:
        _move(partner, manager, by, "all")
    return len(partners)


# --- Notes ------------------------------------------------------------------------------------


def notes_of(partner: Partner) -> list[PartnerNote]:
    return list(
        db.session.scalars(
            select(PartnerNote)
            .where(PartnerNote.partner_id == partner.id)
            .order_by(PartnerNote.created_at.desc(), PartnerNote.id.desc())
        )
    )


@transactional
def add_note(partner: Partner, body: str, *, by: User) -> PartnerNote:
    """A dated note on the partner (append-only; staff only ever see it)."""
    _guard(by, partner)
    body = (body or "").strip()
    if not body:
        raise LifecycleError("Write the note first.", "body")
    if len(body) > NOTE_MAX_LENGTH:
        raise LifecycleError(f"Keep a note under {NOTE_MAX_LENGTH:,} characters.", "body")
    note = PartnerNote(partner_id=partner.id, author_id=by.id, body=body, created_at=clock.now())
    db.session.add(note)
    db.session.flush()
    record("partner.note_added", actor=by, target=partner, details={"before": None, "after": {"note_id": note.id}})
    return note


# --- Correcting a member's e-mail address -----------------------------------------------------


def pending_email_changes(partner: Partner) -> dict[int, EmailChange]:
    """The change waiting for confirmation of each member (by user id)."""
    now = clock.now()
    rows = db.session.scalars(
        select(EmailChange).where(
            EmailChange.partner_id == partner.id,
            EmailChange.confirmed_at.is_(None),
            EmailChange.cancelled_at.is_(None),
            EmailChange.expires_at > now,
        )
    )
    return {row.user_id: row for row in rows}


def _withdraw_pending(user: User) -> None:
    db.session.execute(
        update(EmailChange)
        .where(EmailChange.user_id == user.id, EmailChange.confirmed_at.is_(None), EmailChange.cancelled_at.is_(None))
        .values(cancelled_at=clock.now())
        .execution_options(synchronize_session=False)
    )


@transactional
def request_email_change(partner: Partner, membership: PartnerMembership, new_email: str, *, by: User) -> EmailChange:
    """Send a 7-day confirmation link to the new address; the address changes only when it is opened."""
    _guard(by, partner)
    if membership.partner_id != partner.id:
        raise NotAllowed("This member belongs to another partner.")
    user = membership.user
    try:
        address = normalise_email(new_email or "")
    except AccountError as error:
        raise LifecycleError(error.message, "email") from None
    if address == user.email:
        raise LifecycleError("This is already the member's address; enter the corrected one.", "email")
    if db.session.scalar(select(User.id).where(User.email == address)) is not None:
        raise LifecycleError("Another account already uses this address.", "email")
    _withdraw_pending(user)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    change = EmailChange(
        user_id=user.id,
        partner_id=partner.id,
        old_email=user.email,
        new_email=address,
        token_hash=_token_hash(token),
        requested_by_id=by.id,
        created_at=now,
        expires_at=now + EMAIL_CHANGE_LIFETIME,
    )
    try:
        with db.session.begin_nested():
            db.session.add(change)
    except IntegrityError:
        raise ChangedMeanwhile("Someone else asked for a change of this address at the same moment.") from None
    try:
        queue_email(
            to=address,
            to_name=user.full_name,
            template="email_change_confirm",
            reply_to=by.email,
            context={
                "user": user,
                "partner": partner,
                "new_email": address,
                "requested_by": by,
                "confirm_url": external_url("auth.confirm_email", token=token),
                "expires_in_days": EMAIL_CHANGE_LIFETIME.days,
            },
        )
    except ValueError as error:
        raise LifecycleError(f"We cannot send an e-mail to this address: {error}", "email") from None
    record(
        "user.email_change_requested",
        actor=by,
        target=user,
        details={
            "before": {"email": user.email},
            "after": {"email": address, "pending": True},
            "partner_id": partner.id,
        },
    )
    return change


@transactional
def cancel_email_change(partner: Partner, change_id: int, *, by: User) -> EmailChange:
    _guard(by, partner)
    change = db.session.get(EmailChange, change_id)
    if change is None or change.partner_id != partner.id:
        raise NotAllowed("This change belongs to another partner.")
    cancelled = db.session.execute(
        update(EmailChange)
        .where(EmailChange.id == change.id, EmailChange.confirmed_at.is_(None), EmailChange.cancelled_at.is_(None))
        .values(cancelled_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:
        raise ChangedMeanwhile("This change was already confirmed or cancelled.")
    db.session.expire(change)
    record(
        "user.email_change_cancelled",
        actor=by,
        target=change.user,
        details={
            "before": {"email": change.old_email, "pending": change.new_email},
            "after": {"email": change.old_email},
        },
    )
    return change


def valid_email_change(token: str) -> EmailChange | None:
    row = db.session.scalar(select(EmailChange).where(EmailChange.token_hash == _token_hash(token or "")))
    if row is None or not row.pending or not row.user.active:
        return None
    return row


INVALID_LINK = "This link has expired, was cancelled or has already been used. Ask your channel manager for a new one."


@transactional
def confirm_email_change(token: str) -> User:
    """Use the link once: the account's address becomes the new one and every session ends."""
    change = valid_email_change(token)
    if change is None:
        raise LifecycleError(INVALID_LINK)
    user = change.user
    if db.session.scalar(select(User.id).where(User.email == change.new_email, User.id != user.id)) is not None:
        raise LifecycleError("Another account now uses this address; ask your channel manager to correct it again.")
    used = db.session.execute(
        update(EmailChange)
        .where(EmailChange.id == change.id, EmailChange.confirmed_at.is_(None), EmailChange.cancelled_at.is_(None))
        .values(confirmed_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise LifecycleError(INVALID_LINK)
    old = user.email
    user.email = change.new_email
    try:
        db.session.flush()
    except IntegrityError:
        raise LifecycleError(
            "Another account now uses this address; ask your channel manager to correct it again."
        ) from None
    end_all_sessions(user)
    queue_email(
        to=old,
        to_name=user.full_name,
        template="email_changed_notice",
        context={"user": user, "old_email": old, "new_email": user.email},
    )
    record(
        "user.email_changed",
        actor=user,
        target=user,
        details={"before": {"email": old}, "after": {"email": user.email}, "change_id": change.id},
    )
    return user


# --- Viewing the dashboard as the partner -----------------------------------------------------


@transactional
def start_viewing_as(partner: Partner, *, by: User) -> None:
    """Audit that ``by`` opens ``partner``'s dashboard read-only (the view keeps the key in the session)."""
    _guard(by, partner)
    record("partner.viewed_as", actor=by, target=partner, details={"before": None, "after": {"viewing": partner.id}})


@transactional
def stop_viewing_as(partner_id: int, *, by: User) -> None:
    record(
        "partner.viewed_as_stopped",
        actor=by,
        details={"before": {"viewing": partner_id}, "after": None, "partner_id": partner_id},
    )
