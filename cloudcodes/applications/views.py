from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from cloudcodes.applications.forms import FORMS, AnswerForm, WithdrawForm
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.services import (
    ApplicationError,
    DuplicateApplication,
    UnmetRequirements,
    answer_question,
    application_for_token,
    status_token,
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


def counts_as_application(response: Response) -> bool:
    # Only applications actually sent use up the allowance; a form sent back with errors does not.
    return response.status_code == 303


@blueprint.route("/<level>", methods=["GET", "POST"])
@limiter.limit("5/hour", methods=["POST"], deduct_when=counts_as_application)
def apply(level: str) -> ResponseReturnValue:
    form_class = FORMS.get(level)
    if form_class is None:
        abort(404)
    terms = program_terms()
    form = form_class()
    duplicate = None
    if form.validate_on_submit():
        if form.is_spam():
            # Bots get the same thank-you page and nothing is stored or sent.
            return redirect(url_for("applications.received", token="thank-you"), 303)  # noqa: S106 - not a secret
        try:
            application = submit_application(form.to_input(terms.currency), client_address())
        except UnmetRequirements as unmet:
            for field, message in unmet.unmet.items():
                getattr(form, field).errors.append(message)
        except DuplicateApplication as error:
            duplicate = str(error)
        except ApplicationError as error:
            form.form_errors.append(str(error))
        else:
            return redirect(url_for("applications.received", token=status_token(application)), 303)
    status = 200 if request.method == "GET" else (409 if duplicate else 400)
    return render_template("applications/apply.html", form=form, level=level, terms=terms, duplicate=duplicate), status


@blueprint.get("/received/<token>")
def received(token: str) -> ResponseReturnValue:
    application = application_for_token(token)
    return render_template("applications/received.html", application=application, token=token)


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
