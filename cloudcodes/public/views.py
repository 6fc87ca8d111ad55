from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from cloudcodes.content import render_markdown
from cloudcodes.jobs.health import job_problems
from cloudcodes.program.services import program_terms
from cloudcodes.public.services import published_faq, schema_version

blueprint = Blueprint("public", __name__)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    return render_template("public/home.html", terms=program_terms())


@blueprint.get("/faq")
def faq() -> ResponseReturnValue:
    terms = program_terms()
    entries = [(entry, render_markdown(entry.answer_markdown, terms)) for entry in published_faq()]
    # The FAQ ends by pointing to the contact address: the box below says so only when the last answer does not.
    ends_with_contact = bool(entries) and terms.contact_email in entries[-1][1]
    return render_template("public/faq.html", entries=entries, terms=terms, show_contact_box=not ends_with_contact)


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
