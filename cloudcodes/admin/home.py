from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from cloudcodes.admin import blueprint
from cloudcodes.program.services import program_terms


@blueprint.get("/")
def index() -> ResponseReturnValue:
    return render_template("admin/index.html", terms=program_terms())
