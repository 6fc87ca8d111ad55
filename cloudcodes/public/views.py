from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from cloudcodes.auth.forms import EmptyForm
from cloudcodes.extensions import limiter
from cloudcodes.jobs.health import job_problems
from cloudcodes.program.services import program_terms
from cloudcodes.public.services import faq_page, schema_version
from cloudcodes.referrals.proof import ProofError, confirm, read_confirmation

blueprint = Blueprint("public", __name__)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    return render_template("public/home.html", terms=program_terms())


@blueprint.get("/faq")
def faq() -> ResponseReturnValue:
    page = faq_page()
    # The FAQ ends by pointing to the contact address: the box below says so only when the last answer does not.
    return render_template(
        "public/faq.html", questions=page.questions, terms=program_terms(), show_contact_box=not page.ends_with_contact
    )


@blueprint.get("/program")
def program() -> ResponseReturnValue:
    return render_template("public/program.html", terms=program_terms())


@blueprint.get("/contact")
def contact() -> ResponseReturnValue:
    return render_template("public/contact.html", terms=program_terms())


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the site can serve: ``ok``, or ``degraded`` with the reasons when the jobs are not running."""
    version = schema_version()
    if version is None:
        return jsonify(status="unavailable", database="unreachable"), 503
    problems = job_problems()
    if problems:
        return jsonify(status="degraded", database="ok", schema=version, reasons=problems), 200
    return jsonify(status="ok", database="ok", schema=version), 200


# --- A customer confirming a partner's registration ---------------------------------------------


@blueprint.route("/confirm-registration/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour")
def confirm_registration(token: str) -> ResponseReturnValue:
    """The link a partner had mailed to the customer: a page with one button (so a mail scanner that
    follows links confirms nothing), and the confirmation itself."""
    form = EmptyForm()
    try:
        found = read_confirmation(token)
    except ProofError as error:
        return render_template("public/confirm_registration.html", error=error.message, form=form), error.status
    if request.method == "POST" and form.validate_on_submit():
        try:
            found = confirm(token)
        except ProofError as error:
            return render_template("public/confirm_registration.html", error=error.message, form=form), error.status
        return render_template("public/confirm_registration.html", confirmed=found, form=form)
    return render_template("public/confirm_registration.html", pending=found, form=form)
