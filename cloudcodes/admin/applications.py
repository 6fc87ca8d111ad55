"""Reviewing applications: the queue, one application's page, and the reviewer's actions.

Each action is a thin view: the form, then the service (which owns the transaction and refuses a
move the state does not allow), then a flash and a 303 back to the application. A refused move
(someone else acted first) is a warning, not an error: the page then shows where things stand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from cloudcodes import clock
from cloudcodes.admin import blueprint
from cloudcodes.admin.forms.applications import (
    ALL_STATES,
    OPEN,
    ApproveForm,
    AssignForm,
    QuestionForm,
    QueueFilterForm,
    RejectForm,
)
from cloudcodes.admin.lists import Column, ListSpec, csv_export, listing
from cloudcodes.applications.models import ApplicationMessage, PartnerApplication
from cloudcodes.applications.services import (
    ApplicationError,
    age_cutoff,
    approve,
    ask_question,
    assign_manager,
    managers,
    reject,
)
from cloudcodes.applications.states import OPEN_STATES, Action, State, allowed_actions
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner
from cloudcodes.program.terms import LEVEL_NAMES, PREMIER, RESELLER
from cloudcodes.search import fold
from cloudcodes.web import current_staff, submit

PER_PAGE = 25
OPEN_VALUES = [state.value for state in State if state in OPEN_STATES]


# --- The queue --------------------------------------------------------------------------------


def _oldest_first(state_filter: str) -> bool:
    """Open applications are listed oldest first; decided ones (or all) newest first."""
    return state_filter == OPEN or (state_filter != ALL_STATES and State(state_filter) in OPEN_STATES)


def _state_condition(state: str | None) -> Any:
    state = state or OPEN
    if state == OPEN:
        return PartnerApplication.state.in_(OPEN_VALUES)
    return None if state == ALL_STATES else PartnerApplication.state == state


def _manager_name(column: Any) -> Any:
    """The display name of the user ``column`` points at, as an expression to sort by ("" for nobody)."""
    name = func.coalesce(func.nullif(User.full_name, ""), User.email)
    return func.coalesce(select(name).where(User.id == column).scalar_subquery(), "")


def _queue_spec() -> ListSpec:
    return ListSpec(
        endpoint="admin.applications",
        csv_endpoint="admin.applications_csv",
        noun="application",
        form=QueueFilterForm,
        query=lambda: select(PartnerApplication).options(joinedload(PartnerApplication.assigned_manager)),
        columns=[
            Column("reference", "Reference", lambda a: a.reference, PartnerApplication.id),
            Column("company", "Company", lambda a: a.company_name, PartnerApplication.company_name),
            Column(
                "level",
                "Level requested",
                lambda a: LEVEL_NAMES.get(a.level_requested),
                PartnerApplication.level_requested,
            ),
            Column("state", "State", lambda a: a.state_enum.label, PartnerApplication.state),
            Column(
                "contact", "Contact", lambda a: f"{a.contact_name} <{a.contact_email}>", PartnerApplication.contact_name
            ),
            Column("submitted", "Submitted", lambda a: a.submitted_at, PartnerApplication.submitted_at),
            Column(
                "manager",
                "Assigned manager",
                lambda a: a.assigned_manager.display_name if a.assigned_manager else "",
                _manager_name(PartnerApplication.assigned_manager_id),
            ),
        ],
        filters={
            "level": lambda level: PartnerApplication.level_requested == level if level else None,
            "state": _state_condition,
            "age": lambda age: PartnerApplication.submitted_at <= age_cutoff(int(age)) if age else None,
            "mine": lambda mine: PartnerApplication.assigned_manager_id == current_user.id if mine else None,
        },
        search=lambda text: PartnerApplication.search_text.contains(fold(text), autoescape=True),
        tiebreak=[PartnerApplication.id],
        # Open applications wait for someone: the one waiting longest comes first.
        default_sort=lambda values: ("submitted", not _oldest_first(values.get("state") or OPEN)),
        per_page=PER_PAGE,
        filename="applications",
        submit_label="Show applications",
    )


@blueprint.get("/applications")
def applications() -> ResponseReturnValue:
    listed = listing(_queue_spec())
    return render_template(
        "admin/applications/list.html",
        listing=listed,
        form=listed.state.form,
        oldest_first=_oldest_first(listed.state.values.get("state") or OPEN),
        now=clock.now(),
        level_names=LEVEL_NAMES,
    )


@blueprint.get("/applications.csv")
def applications_csv() -> ResponseReturnValue:
    return csv_export(_queue_spec())


# --- One application --------------------------------------------------------------------------


def _application_or_404(application_id: int) -> PartnerApplication:
    application = db.session.scalar(
        select(PartnerApplication)
        .where(PartnerApplication.id == application_id)
        .options(
            joinedload(PartnerApplication.assigned_manager),
            joinedload(PartnerApplication.decided_by),
            selectinload(PartnerApplication.messages).joinedload(ApplicationMessage.author),
        )
    )
    if application is None:
        abort(404)
    return application


def _manager_choices() -> list[SelectChoice]:
    return [SelectChoice(str(manager.id), f"{manager.display_name} ({manager.email})") for manager in managers()]


def _level_choices(application: PartnerApplication) -> list[SelectChoice]:
    # A Reseller application has none of the Premier commitments, so Premier is not offered for it.
    levels = [PREMIER, RESELLER] if application.level_requested == PREMIER else [RESELLER]
    return [SelectChoice(level, LEVEL_NAMES[level]) for level in levels]


def _forms(application: PartnerApplication, **given: FlaskForm) -> dict[str, FlaskForm]:
    """The action forms of the page: blank ones, except a submitted form that is being shown again."""
    forms: dict[str, FlaskForm] = {
        "assign_form": given.get("assign_form")
        or AssignForm(prefix="assign", formdata=None, manager=application.assigned_manager_id),
        "question_form": given.get("question_form") or QuestionForm(prefix="ask", formdata=None),
        "approve_form": given.get("approve_form")
        or ApproveForm(
            prefix="approve",
            formdata=None,
            level=application.level_requested,
            manager=application.assigned_manager_id,
        ),
        "reject_form": given.get("reject_form") or RejectForm(prefix="reject", formdata=None),
    }
    choices = _manager_choices()
    forms["assign_form"].manager.choices = [SelectChoice("", "Choose a manager"), *choices]  # type: ignore[attr-defined]
    forms["approve_form"].manager.choices = [SelectChoice("", "Choose a manager"), *choices]  # type: ignore[attr-defined]
    forms["approve_form"].level.choices = _level_choices(application)  # type: ignore[attr-defined]
    if application.level_requested != PREMIER:
        forms["approve_form"].note.description = "Optional. Kept with the partner's first level record."  # type: ignore[attr-defined]
    return forms


def _render_detail(application: PartnerApplication, status: int = 200, **given: FlaskForm) -> ResponseReturnValue:
    state = application.state_enum
    partner = None
    if state == State.APPROVED:
        partner = db.session.scalar(select(Partner).where(Partner.application_id == application.id))
    actions = allowed_actions(state)
    return render_template(
        "admin/applications/detail.html",
        application=application,
        state=state,
        partner=partner,
        can_assign=state.is_open,
        can_ask=Action.ASK in actions,
        can_approve=Action.APPROVE in actions,
        can_reject=Action.REJECT in actions,
        level_names=LEVEL_NAMES,
        now=clock.now(),
        **_forms(application, **given),
    ), status


@blueprint.get("/applications/<int:application_id>")
def application_detail(application_id: int) -> ResponseReturnValue:
    return _render_detail(_application_or_404(application_id))


# --- The actions ------------------------------------------------------------------------------


def _act(
    application_id: int,
    form_name: str,
    form: FlaskForm,
    perform: Callable[[PartnerApplication], str],
) -> ResponseReturnValue:
    """Validate, perform (returns the success message), and answer the way every action does."""
    application = _application_or_404(application_id)
    return submit(
        form,
        lambda: perform(application),
        back=url_for("admin.application_detail", application_id=application.id),
        show=lambda status: _render_detail(_application_or_404(application_id), status, **{form_name: form}),
    )


def _chosen_manager(form: FlaskForm) -> User | None:
    """The user picked in the form's manager select; an id that is nobody is refused on the field."""
    manager_id = form.manager.data  # type: ignore[attr-defined]
    if manager_id is None:
        return None
    manager = db.session.get(User, manager_id)
    if manager is None:
        raise ApplicationError("Choose an active channel sales manager.", field="manager")
    return manager


@blueprint.post("/applications/<int:application_id>/assign")
def application_assign(application_id: int) -> ResponseReturnValue:
    form = AssignForm(prefix="assign")

    def perform(application: PartnerApplication) -> str:
        manager = _chosen_manager(form)
        if manager is None:  # the form requires a choice; this is only for the type checker
            raise ApplicationError("Choose an active channel sales manager.", field="manager")
        assign_manager(application, manager, by=current_staff())
        return f"{application.reference} is assigned to {manager.display_name}."

    return _act(application_id, "assign_form", form, perform)


@blueprint.post("/applications/<int:application_id>/ask")
def application_ask(application_id: int) -> ResponseReturnValue:
    form = QuestionForm(prefix="ask")

    def perform(application: PartnerApplication) -> str:
        ask_question(application, form.question.data or "", by=current_staff())
        return f"Your question was e-mailed to {application.contact_email}. The application waits on the applicant."

    return _act(application_id, "question_form", form, perform)


@blueprint.post("/applications/<int:application_id>/approve")
def application_approve(application_id: int) -> ResponseReturnValue:
    form = ApproveForm(prefix="approve")

    def perform(application: PartnerApplication) -> str:
        partner = approve(
            application,
            level=form.level.data or "",
            manager=_chosen_manager(form),
            note=form.note.data or "",
            by=current_staff(),
        )
        return (
            f"{application.reference} is approved: {partner.name} is a {LEVEL_NAMES[form.level.data]} partner. "
            f"Its owner, {application.contact_email}, was invited to set a password."
        )

    return _act(application_id, "approve_form", form, perform)


@blueprint.post("/applications/<int:application_id>/reject")
def application_reject(application_id: int) -> ResponseReturnValue:
    form = RejectForm(prefix="reject")

    def perform(application: PartnerApplication) -> str:
        reject(application, form.reason.data or "", by=current_staff())
        return f"{application.reference} is rejected. The reason was e-mailed to {application.contact_email}."

    return _act(application_id, "reject_form", form, perform)
