"""Applying, and the reviewer's work: each action is one transaction, refused if the state moved on."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.applications.models import ApplicationMessage, AuthorKind, PartnerApplication
from cloudcodes.applications.rules import ApplicationInput, company_key, unmet_requirements
from cloudcodes.applications.states import Action, State, TransitionRefused, next_state
from cloudcodes.audit.services import record
from cloudcodes.auth.models import Role, User
from cloudcodes.auth.services import find_user, issue_password_token, normalise_email
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.models import MemberRole, RequirementKind
from cloudcodes.partners.services import add_member, add_requirement, create_partner
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import LEVEL_NAMES, PREMIER, RESELLER, Level
from cloudcodes.services import ChangedMeanwhile, ServiceError, transactional
from cloudcodes.urls import external_url

STATUS_SALT = "application-status"
# The status link of an open application is e-mailed again at most this often, whoever asks.
STATUS_LINK_RESEND_AFTER = timedelta(hours=24)
OPEN_STATE_VALUES = [state.value for state in State if state.is_open]
CHANGED_MEANWHILE = "Someone else changed this application a moment ago. Reload the page to see where it stands."


class ApplicationError(ServiceError):
    pass


class ApplicationChanged(ApplicationError, ChangedMeanwhile):
    """The application is no longer in a state that allows the move (someone acted first)."""


class UnmetRequirements(ApplicationError):
    def __init__(self, unmet: dict[str, str]) -> None:
        super().__init__("The application does not meet the program's requirements yet.")
        self.unmet = unmet


class DuplicateApplication(ApplicationError):
    """An open application exists for this company or address; nothing new was stored.

    Its status link goes to the address on that application (at most once a day), never to whoever
    tried again. What the applicant is shown must not tell the two cases apart: the message says
    nothing of the existing application, and the page answers as for a new one.
    """

    def __init__(self, existing: PartnerApplication) -> None:
        super().__init__("An application for this company or e-mail address is already open.")
        self.existing = existing


# --- Status links ---------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=STATUS_SALT)


def status_token(application: PartnerApplication) -> str:
    return _serializer().dumps({"a": application.id, "n": application.status_nonce})


def status_url(application: PartnerApplication) -> str:
    return external_url("applications.status", token=status_token(application))


def application_for_token(token: str) -> PartnerApplication | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    application = db.session.get(PartnerApplication, data.get("a"))
    if application is None or not secrets.compare_digest(application.status_nonce, str(data.get("n"))):
        return None
    return application


def _mail_applicant(application: PartnerApplication, template: str, **context: Any) -> None:
    queue_email(
        to=application.contact_email,
        to_name=application.contact_name,
        template=template,
        context={"application": application, "status_url": status_url(application), **context},
    )


# --- Applying ---------------------------------------------------------------------------------------


def open_application_for(company: str, email: str) -> PartnerApplication | None:
    return db.session.scalar(
        select(PartnerApplication)
        .where(
            PartnerApplication.state.in_(OPEN_STATE_VALUES),
            or_(PartnerApplication.company_key == company, PartnerApplication.contact_email == email),
        )
        .limit(1)
    )


def submit_application(data: ApplicationInput, client_address: str | None) -> PartnerApplication:
    unmet = unmet_requirements(data, program_terms())
    if unmet:
        raise UnmetRequirements(unmet)
    application, duplicate = _store_application(data, client_address)
    if duplicate:
        # Raised once the status link's e-mail (if one was due) to the existing applicant is committed.
        raise DuplicateApplication(application)
    return application


@transactional
def _store_application(data: ApplicationInput, client_address: str | None) -> tuple[PartnerApplication, bool]:
    """The new application, or the open one of the same company or address, and whether it was open already.

    An open one gets its status link mailed again, to the address on it, at most once a day.
    """
    key = company_key(data.company_name)
    email = data.contact_email.lower()
    existing = open_application_for(key, email)
    if existing is None:
        application = PartnerApplication(
            level_requested=data.level,
            status_nonce=secrets.token_hex(16),
            company_key=key,
            client_address=client_address,
            status_link_sent_at=clock.now(),  # the confirmation carries it
            **{name: value for name, value in vars(data).items() if name != "level"} | {"contact_email": email},
        )
        try:
            with db.session.begin_nested():
                db.session.add(application)
        except IntegrityError:
            # Sent twice at the same moment: the partial unique index let only one in.
            existing = open_application_for(key, email)
            if existing is None:
                raise
    if existing is not None:
        resent = _resend_status_link(existing)
        record("application.applied_again", target=existing, details={"status_link_sent": resent})
        return existing, True
    _mail_applicant(application, "application_received")
    record("application.submitted", target=application, details={"level": data.level, "company": data.company_name})
    return application, False


def _resend_status_link(application: PartnerApplication) -> bool:
    """E-mail the status link to the address on the application, unless it went there in the last day.

    A compare-and-set on ``status_link_sent_at``: of several tries at the same moment, one sends.
    """
    now = clock.now()
    result = db.session.execute(
        update(PartnerApplication)
        .where(
            PartnerApplication.id == application.id,
            or_(
                PartnerApplication.status_link_sent_at.is_(None),
                PartnerApplication.status_link_sent_at <= now - STATUS_LINK_RESEND_AFTER,
            ),
        )
        # Not a change to the application: its updated_at stays.
        .values(status_link_sent_at=now, updated_at=PartnerApplication.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.expire(application, ["status_link_sent_at"])
    _mail_applicant(application, "application_status_link")
    return True


# --- Moving between states ------------------------------------------------------------------------


def _move(application: PartnerApplication, action: Action, **values: Any) -> State:
    """Compare-and-set on the state, so of two people acting at once only one succeeds."""
    current = application.state
    try:
        new = next_state(action, current)
    except TransitionRefused as refused:
        raise ApplicationChanged(str(refused)) from None
    result = db.session.execute(
        update(PartnerApplication)
        .where(PartnerApplication.id == application.id, PartnerApplication.state == current)
        .values(state=new, updated_at=clock.now(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ApplicationChanged(CHANGED_MEANWHILE)
    db.session.expire(application)
    return new


def managers() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.MANAGER, User.active.is_(True)).order_by(User.full_name)
        )
    )


@transactional
def assign_manager(application: PartnerApplication, manager: User, *, by: User) -> None:
    if manager.role != Role.MANAGER or not manager.active:
        raise ApplicationError("Choose an active channel sales manager.", field="manager")
    if not application.state.is_open:
        raise ApplicationChanged(f"This application is {application.state.label.lower()}; it cannot be assigned.")
    if application.state == State.SUBMITTED:
        _move(application, Action.START_REVIEW, assigned_manager_id=manager.id)
    else:
        # Reassigning keeps the state, but only while the application is still open (compare-and-set).
        result = db.session.execute(
            update(PartnerApplication)
            .where(PartnerApplication.id == application.id, PartnerApplication.state.in_(OPEN_STATE_VALUES))
            .values(assigned_manager_id=manager.id, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise ApplicationChanged(CHANGED_MEANWHILE)
        db.session.expire(application)
    record("application.assigned", actor=by, target=application, details={"manager": manager.email})


@transactional
def ask_question(application: PartnerApplication, question: str, *, by: User) -> None:
    question = question.strip()
    if not question:
        raise ApplicationError("Write the question for the applicant.", field="question")
    # A manager who asks first takes the application, so the answer reaches someone.
    takes_it = application.assigned_manager_id is None and by.role == Role.MANAGER
    _move(application, Action.ASK, **({"assigned_manager_id": by.id} if takes_it else {}))
    db.session.add(
        ApplicationMessage(application_id=application.id, author_kind=AuthorKind.STAFF, author_id=by.id, body=question)
    )
    _mail_applicant(application, "application_question", question=question, reviewer=by)
    record("application.question_asked", actor=by, target=application)


@transactional
def answer_question(application: PartnerApplication, answer: str) -> None:
    answer = answer.strip()
    if not answer:
        raise ApplicationError("Write your answer.", field="answer")
    _move(application, Action.ANSWER)
    db.session.add(ApplicationMessage(application_id=application.id, author_kind=AuthorKind.APPLICANT, body=answer))
    manager = application.assigned_manager or _last_asker(application)
    if manager is not None:
        queue_email(
            to=manager.email,
            to_name=manager.full_name,
            template="application_answered",
            context={
                "application": application,
                "answer": answer,
                "review_url": external_url("admin.application_detail", application_id=application.id),
            },
        )
    record("application.answered", target=application, actor_email=application.contact_email)


def _last_asker(application: PartnerApplication) -> User | None:
    askers = [m.author for m in application.messages if m.author_kind == AuthorKind.STAFF and m.author is not None]
    return askers[-1] if askers else None


@transactional
def withdraw(application: PartnerApplication) -> None:
    _move(application, Action.WITHDRAW, decided_at=clock.now())
    record("application.withdrawn", target=application, actor_email=application.contact_email)


@transactional
def reject(application: PartnerApplication, reason: str, *, by: User) -> None:
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Give the reason: the applicant receives it by e-mail.", field="reason")
    _move(application, Action.REJECT, decided_at=clock.now(), decided_by_id=by.id, decision_note=reason)
    _mail_applicant(application, "application_rejected", reason=reason)
    record("application.rejected", actor=by, target=application, details={"reason": reason})


@transactional
def approve(application: PartnerApplication, *, level: str, manager: User | None, note: str, by: User) -> Any:
    """Create the partner, its owner (invited by e-mail), its first level, manager and declared requirements."""
    if level not in (RESELLER, PREMIER):
        raise ApplicationError("Choose the level to approve.", field="level")
    level = Level(level)
    if level == PREMIER and application.level_requested != PREMIER:
        raise ApplicationError(
            "This is a Reseller application: it has none of the Premier commitments, so it can only be approved "
            "as Reseller.",
            field="level",
        )
    note = note.strip()
    if level != application.level_requested and not note:
        raise ApplicationError("Say in the note why a Premier application is approved as Reseller.", field="note")
    manager = manager or application.assigned_manager
    if manager is None or manager.role != Role.MANAGER or not manager.active:
        raise ApplicationError("Choose the partner's channel sales manager.", field="manager")
    if find_user(application.contact_email) is not None:
        raise ApplicationError(
            f"{application.contact_email} already has an account here, so it cannot own a new partner. "
            "Ask the applicant for another contact address."
        )

    _move(
        application,
        Action.APPROVE,
        decided_at=clock.now(),
        decided_by_id=by.id,
        approved_level=level,
        decision_note=note or None,
        assigned_manager_id=manager.id,
    )
    try:
        # In a savepoint: when a constraint refuses, the transaction stays usable to say which one.
        with db.session.begin_nested():
            partner = create_partner(
                name=application.company_name,
                website=application.website,
                country=application.country,
                phone=application.contact_phone,
                workspace_reseller_id=application.workspace_reseller_id,
                level=level,
                channel_manager=manager,
                application_id=application.id,
                created_by=by,
                note=note,
            )
            owner = User(
                email=normalise_email(application.contact_email), full_name=application.contact_name, role=Role.PARTNER
            )
            db.session.add(owner)
            add_member(partner, owner, MemberRole.OWNER)
            _declare_requirements(partner, application)
    except IntegrityError:
        # The owner's address (users.email) or the application's one partner (partners.application_id)
        # was taken by a request that committed first.
        if find_user(application.contact_email) is not None:
            raise ApplicationError(f"{application.contact_email} got an account a moment ago; approve again.") from None
        raise ApplicationChanged(CHANGED_MEANWHILE) from None
    token = issue_password_token(owner, purpose="invitation")
    queue_email(
        to=owner.email,
        to_name=owner.full_name,
        template="partner_invitation",
        from_name=manager.full_name or None,
        reply_to=manager.email,
        context={
            "partner": partner,
            "owner": owner,
            "level_name": LEVEL_NAMES[level],
            "margin": program_terms().margin_pct(level),
            "manager": manager,
            "invitation_url": external_url("auth.reset_password", token=token),
            "expires_in_days": 7,
        },
    )
    record("application.approved", actor=by, target=application, details={"level": level, "partner": partner.name})
    record("partner.created", actor=by, target=partner, details={"level": level, "manager": manager.email})
    return partner


def _declare_requirements(partner: Any, application: PartnerApplication) -> None:
    # Stored texts, read later by others: in the house style, not the approving manager's browser's.
    with formatting.default_locale():
        _declare(partner, application)


def _declare(partner: Any, application: PartnerApplication) -> None:
    year = clock.today().year
    add_requirement(partner, RequirementKind.WORKSPACE_RESELLER, application.workspace_reseller_id)
    sales, technical = application.sales_team_size, application.technical_team_size
    add_requirement(partner, RequirementKind.SALES_TEAM, formatting.plural(sales, "person", "people"))
    add_requirement(partner, RequirementKind.TECHNICAL_TEAM, formatting.plural(technical, "person", "people"))
    if application.level_requested != PREMIER:
        return
    add_requirement(
        partner, RequirementKind.TRAINED_SALES_STAFF, f"{application.trained_sales_staff} planned", year=year
    )
    revenue = formatting.money(application.committed_revenue) if application.committed_revenue else ""
    add_requirement(partner, RequirementKind.JOINT_BUSINESS_PLAN, f"Revenue commitment {revenue}", year=year)
    add_requirement(partner, RequirementKind.WEBSITE_PRODUCT_PAGE, application.product_page_url or "", year=year)
    add_requirement(partner, RequirementKind.JOINT_MARKETING_CAMPAIGN, application.marketing_campaign or "", year=year)


def age_cutoff(days: int) -> Any:
    return clock.now() - timedelta(days=days)
