from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from cloudcodes.applications.forms import FORMS, AnswerForm, WithdrawForm
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.services import (
    ApplicationError,
    DuplicateApplication,
    UnmetRequirements,
    answer_question,
    application_for_token,
    submit_application,
    withdraw,
)
from cloudcodes.applications.states import Action, allowed_actions
from cloudcodes.extensions import client_address, limiter
from cloudcodes.program.services import program_terms
from cloudcodes.web import submit

blueprint = Blueprint("applications", __name__, url_prefix="/apply")


@blueprint.get("/")
def choose_level() -> ResponseReturnValue:
    return render_template("applications/choose.html", terms=program_terms())


@blueprint.route("/<level>", methods=["GET", "POST"])
# Every try counts, whatever its answer: one client cannot probe company names or addresses at length.
@limiter.limit("5/hour", methods=["POST"])
def apply(level: str) -> ResponseReturnValue:
    form_class = FORMS.get(level)
    if form_class is None:
        abort(404)
    terms = program_terms()
    form = form_class()
    if not form.is_submitted():
        return render_template("applications/apply.html", form=form, level=level, terms=terms)
    if not form.validate():
        # The program's rules too, on what could be read: everything to fix is shown in one round.
        form.show_unmet_requirements(terms.currency, terms)
        return render_template("applications/apply.html", form=form, level=level, terms=terms), 400
    if form.is_spam():
        # Bots get the same thank-you page and nothing is stored or sent.
        return redirect(url_for("applications.received"), 303)
    try:
        submit_application(form.to_input(terms.currency), client_address())
    except UnmetRequirements as unmet:
        form.place_unmet(unmet.unmet)
    except DuplicateApplication:
        # The same answer as for a new application: whether this company or address has one already
        # is no one's business but the applicant's, who gets the status link at the address on file.
        return redirect(url_for("applications.received"), 303)
    except ApplicationError as error:
        form.form_errors.append(str(error))
    else:
        return redirect(url_for("applications.received"), 303)
    return render_template("applications/apply.html", form=form, level=level, terms=terms), 400


@blueprint.get("/received")
@blueprint.get("/received/<token>")  # the address of this page before it stopped naming the application
def received(token: str | None = None) -> ResponseReturnValue:
    return render_template("applications/received.html")


@blueprint.get("/status/<token>")
def status(token: str) -> ResponseReturnValue:
    application = application_for_token(token)
    if application is None:
        abort(404)
    return render_status(application, token, AnswerForm(), WithdrawForm())


def render_status(
    application: PartnerApplication, token: str, answer_form: AnswerForm, withdraw_form: WithdrawForm, code: int = 200
) -> ResponseReturnValue:
    actions = allowed_actions(application.state)
    return render_template(
        "applications/status.html",
        application=application,
        token=token,
        answer_form=answer_form,
        withdraw_form=withdraw_form,
        can_answer=Action.ANSWER in actions,
        can_withdraw=Action.WITHDRAW in actions,
    ), code


@blueprint.post("/status/<token>/answer")
@limiter.limit("20/hour")
def answer(token: str) -> ResponseReturnValue:
    application = application_for_token(token)
    if application is None:
        abort(404)
    form = AnswerForm()

    def perform() -> str:
        answer_question(application, form.answer.data or "")
        return "Thank you: your answer is with your reviewer."

    return submit(
        form,
        perform,
        back=url_for("applications.status", token=token),
        show=lambda status: render_status(application, token, form, WithdrawForm(), status),
    )


@blueprint.post("/status/<token>/withdraw")
def withdraw_application(token: str) -> ResponseReturnValue:
    application = application_for_token(token)
    if application is None:
        abort(404)
    form = WithdrawForm()

    def perform() -> str:
        withdraw(application)
        return "Your application is withdrawn. You are welcome to apply again at any time."

    return submit(
        form,
        perform,
        back=url_for("applications.status", token=token),
        show=lambda status: render_status(application, token, AnswerForm(), form, status),
        refusal="flash",
    )
