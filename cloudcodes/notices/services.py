"""Raising notices for a partner's users, their choices per kind, the daily digest and the reminders.

``raise_notices`` joins the caller's transaction: the purchase, the refund, the closed month or the
level change and its notices (and the mails they queue) are committed together or not at all. It
sends a fixed number of statements for any number of partners (their members and the members'
choices are read once), so closing a month for every partner stays set-based.

The digest claims a user's unsent digest notices with one ``UPDATE ... WHERE sent_at IS NULL
RETURNING id`` before it writes the mail: of two runs at the same moment (two workers, or the job
and an operator's command), the second finds nothing left to claim, so no notice is mailed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update

from cloudcodes import clock
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.notices.messages import PAGE_OF_KIND, subject, summary
from cloudcodes.notices.models import Notice, NoticePreference
from cloudcodes.notices.rules import (
    DEFAULT_DELIVERY,
    REMINDER_DAYS,
    Delivery,
    NoticeKind,
    may_receive,
    reminder_due,
)
from cloudcodes.partners.models import PartnerMembership
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import DomainRegistration, RegistrationStatus
from cloudcodes.services import transactional
from cloudcodes.urls import external_url

DIGEST_LINES_SHOWN = 50  # per digest; the dashboard has the rest


@dataclass(frozen=True)
class NoticeFor:
    """One event to tell a partner's users about: what it says, and for a reminder, which one it is."""

    partner_id: int
    facts: dict[str, Any]
    registration_id: int | None = None
    days_before: int | None = None


# Queues the mail of a notice delivered at once; a kind with a letter of its own passes its own.
Letter = Callable[[Notice, User], None]


def account_url() -> str:
    return external_url("auth.account") + "#notices"


def mail_notice(notice: Notice, user: User) -> None:
    """The mail of one notice, sent at once: its subject, its sentence and a link to the page it is about."""
    queue_email(
        to=user.email,
        to_name=user.full_name,
        template="notice",
        context={
            "user": user,
            "subject": subject(notice.kind, notice.facts),
            "summary": summary(notice.kind, notice.facts),
            "page_url": external_url(PAGE_OF_KIND[notice.kind]),
            "account_url": account_url(),
        },
    )


def raise_notices(
    kind: NoticeKind,
    events: Sequence[NoticeFor],
    *,
    letter: Letter = mail_notice,
    already: frozenset[tuple[int, int, int]] = frozenset(),
) -> list[Notice]:
    """Tell each event's partner's users who may hear of ``kind``, each as they chose.

    ``already`` holds the (registration, days before, user) of reminders sent before: skipped.
    """
    if not events:
        return []
    partner_ids = {event.partner_id for event in events}
    # Each member with the delivery chosen for this kind (none chosen: the kind's default), in one statement.
    members = db.session.execute(
        select(PartnerMembership.partner_id, PartnerMembership.role, User, NoticePreference.delivery)
        .join(User, User.id == PartnerMembership.user_id)
        .outerjoin(NoticePreference, and_(NoticePreference.user_id == User.id, NoticePreference.kind == kind))
        .where(PartnerMembership.partner_id.in_(partner_ids), User.active.is_(True))
        .order_by(PartnerMembership.partner_id, User.id)
    ).all()
    told = [(partner_id, user) for partner_id, role, user, _ in members if may_receive(role, kind)]
    chosen = {user.id: Delivery(delivery) for _, _, user, delivery in members if delivery is not None}
    now = clock.now()
    notices: list[Notice] = []
    for event in events:
        for partner_id, user in told:
            if partner_id != event.partner_id:
                continue
            if event.registration_id is not None and (event.registration_id, event.days_before, user.id) in already:
                continue
            delivery = chosen.get(user.id, DEFAULT_DELIVERY[kind])
            if delivery == Delivery.OFF:
                continue
            notice = Notice(
                user_id=user.id,
                partner_id=partner_id,
                kind=kind,
                delivery=delivery,
                facts=event.facts,
                registration_id=event.registration_id,
                days_before=event.days_before,
                created_at=now,
                sent_at=now if delivery == Delivery.IMMEDIATELY else None,
            )
            if delivery == Delivery.IMMEDIATELY:
                letter(notice, user)
            notices.append(notice)
    db.session.add_all(notices)
    return notices


# --- Each user's choices ------------------------------------------------------------------------


def preferences_of(user: User) -> dict[NoticeKind, Delivery]:
    """Every kind with the user's choice, or its default."""
    rows = db.session.execute(
        select(NoticePreference.kind, NoticePreference.delivery).where(NoticePreference.user_id == user.id)
    ).all()
    chosen = {NoticeKind(kind): Delivery(delivery) for kind, delivery in rows}
    return {kind: chosen.get(kind, DEFAULT_DELIVERY[kind]) for kind in NoticeKind}


@transactional
def save_preferences(user: User, choices: dict[NoticeKind, Delivery]) -> list[NoticeKind]:
    """Record ``choices`` (the kinds the user may hear of); the kinds whose choice changed."""
    stored = {
        preference.kind: preference
        for preference in db.session.scalars(select(NoticePreference).where(NoticePreference.user_id == user.id))
    }
    current = preferences_of(user)
    changed = [kind for kind, delivery in choices.items() if current[kind] != delivery]
    for kind, delivery in choices.items():
        if kind in stored:
            stored[kind].delivery = delivery
        else:
            db.session.add(NoticePreference(user_id=user.id, kind=kind, delivery=delivery))
    if changed:
        record(
            "notices.preferences_changed",
            actor=user,
            target=user,
            details={kind.value: choices[kind].value for kind in changed},
        )
    return changed


# --- The daily digest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestReport:
    mails: int
    notices: int


def send_digests(now: datetime | None = None) -> DigestReport:
    """One mail to each user with notices waiting for the digest, holding all of them."""
    now = now or clock.now()
    waiting = db.session.scalars(
        select(Notice.user_id).where(Notice.delivery == Delivery.DIGEST, Notice.sent_at.is_(None)).distinct()
    ).all()
    db.session.rollback()  # end the read: each user's digest is a transaction of its own
    mails = notices = 0
    for user_id in waiting:
        claimed = _send_digest(user_id, now)
        if claimed:
            mails += 1
            notices += claimed
    return DigestReport(mails=mails, notices=notices)


@transactional
def _send_digest(user_id: int, now: datetime) -> int:
    claimed = list(
        db.session.scalars(
            update(Notice)
            .where(Notice.user_id == user_id, Notice.delivery == Delivery.DIGEST, Notice.sent_at.is_(None))
            .values(sent_at=now)
            .returning(Notice.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return 0
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return 0  # claimed, so never sent: the account was switched off meanwhile
    rows = db.session.scalars(select(Notice).where(Notice.id.in_(claimed)).order_by(Notice.created_at, Notice.id)).all()
    groups: dict[NoticeKind, list[str]] = {}
    for notice in rows:
        groups.setdefault(notice.kind, []).append(summary(notice.kind, notice.facts))
    shown = 0
    sections = []
    for kind in NoticeKind:
        lines = groups.get(kind, [])
        if not lines:
            continue
        room = max(DIGEST_LINES_SHOWN - shown, 0)
        sections.append({"kind": kind, "lines": lines[:room], "more": max(len(lines) - room, 0)})
        shown += min(len(lines), room)
    queue_email(
        to=user.email,
        to_name=user.full_name,
        template="notice_digest",
        context={
            "user": user,
            "count": len(rows),
            "sections": sections,
            "dashboard_url": external_url("dashboard.index"),
            "account_url": account_url(),
        },
    )
    return len(rows)


# --- Registrations ending -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderReport:
    registrations: int
    notices: int


@transactional
def send_reminders(today: date | None = None) -> ReminderReport:
    """Remind the partners of registrations ending in 14 and in 3 days (each reminder once)."""
    today = today or clock.today()
    # Everything ending after today and within the earliest reminder's window.
    ending = db.session.execute(
        select(
            DomainRegistration.id,
            DomainRegistration.partner_id,
            DomainRegistration.domain,
            DomainRegistration.expires_at,
        ).where(
            DomainRegistration.status == RegistrationStatus.ACTIVE,
            DomainRegistration.converted_at.is_(None),
            DomainRegistration.expires_at >= start_of_day(today + timedelta(days=1)),
            DomainRegistration.expires_at < start_of_day(today + timedelta(days=max(REMINDER_DAYS) + 1)),
        )
    ).all()
    events = []
    for registration_id, partner_id, domain, expires_at in ending:
        ends_on = expires_at.date()
        days_left = (ends_on - today).days
        due = reminder_due(days_left)
        if due is None:
            continue
        facts = {"domain": display_domain(domain), "ends_on": ends_on.isoformat(), "days_left": days_left}
        events.append(NoticeFor(partner_id, facts, registration_id=registration_id, days_before=due))
    sent_before = db.session.execute(
        select(Notice.registration_id, Notice.days_before, Notice.user_id).where(
            Notice.registration_id.in_([event.registration_id for event in events])
        )
    ).all()
    already = frozenset((int(r), int(d), int(u)) for r, d, u in sent_before)
    notices = raise_notices(NoticeKind.REGISTRATION_ENDING, events, already=already)
    return ReminderReport(registrations=len({n.registration_id for n in notices}), notices=len(notices))


# --- The dashboard ------------------------------------------------------------------------------


def latest_notices(user_id: int, partner_id: int, limit: int) -> list[Notice]:
    """The user's latest notices of this partner, newest first."""
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.user_id == user_id, Notice.partner_id == partner_id)
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )
