"""Admins run the level rules from the console (``/admin/qualification``), with a preview first.

The same runs as ``flask program qualify`` and ``flask program upgrades``: "Preview" runs them with
``dry_run=True`` and shows what would change, writing nothing; "Run it" (confirmed) writes the level
records and queues the notices. Both runs are idempotent, so running twice changes nothing more.
An annual run after January of its year is late: its preview says what that means and the run
needs a second box ticked. The upgrades preview also lists the upgrades already booked.
Channel managers have no access (``admin_only``): a run changes the levels of every partner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from cloudcodes import formatting
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.qualification import (
    AnnualQualificationForm,
    RunAnnualQualificationForm,
    RunUpgradesForm,
    UpgradesForm,
)
from cloudcodes.qualification.services import (
    ChangeLine,
    LateRun,
    QualificationError,
    booked_upgrades,
    late_annual_run,
    run_annual_qualification,
    run_upgrades,
)
from cloudcodes.web import current_staff

PREVIEW_LIMIT = 200  # lines shown on the page; the CLI's --dry-run lists them all
FLASH_LIMIT = 10  # lines flashed after a run (the flash lives in the session cookie)


@dataclass(frozen=True)
class Preview:
    kind: str  # "annual" or "upgrades"
    title: str
    lines: list[ChangeLine]
    run_form: FlaskForm
    limit: int = PREVIEW_LIMIT
    late: LateRun | None = None  # an annual run after January of its year
    booked: list[ChangeLine] = field(default_factory=list)  # upgrades already written, in force after as_of
    as_of: date | None = None  # the day a mid-year upgrades preview checks


def _render(
    status: int = 200,
    *,
    annual_form: AnnualQualificationForm | None = None,
    upgrades_form: UpgradesForm | None = None,
    preview: Preview | None = None,
) -> ResponseReturnValue:
    return render_template(
        "admin/qualification.html",
        annual_form=annual_form or AnnualQualificationForm(prefix="annual", formdata=None),
        upgrades_form=upgrades_form or UpgradesForm(prefix="upgrades", formdata=None),
        preview=preview,
    ), status


def _plural(count: int) -> str:
    return formatting.plural(count, "partner")


def _flash_run(title: str, lines: list[ChangeLine]) -> None:
    flash(f"{title}: {_plural(len(lines))} changed.", "success" if lines else "info")
    for line in lines[:FLASH_LIMIT]:
        flash(f"Changed {line.describe()}", "success")
    if len(lines) > FLASH_LIMIT:
        flash(f"…and {_plural(len(lines) - FLASH_LIMIT)} more; each change is in the audit log.", "info")


@blueprint.get("/qualification")
@admin_only
def qualification() -> ResponseReturnValue:
    return _render()


# --- The annual qualification ---------------------------------------------------------------------


def _annual_title(year: int) -> str:
    return f"Annual qualification for {year}"


def _annual_preview(year: int, run_form: RunAnnualQualificationForm | None = None) -> Preview:
    lines = run_annual_qualification(year, dry_run=True, by=current_staff())
    run_form = run_form or RunAnnualQualificationForm(prefix="run-annual", formdata=None, year=str(year))
    return Preview("annual", _annual_title(year), lines, run_form, late=late_annual_run(year))


def _annual_refused(year: object, error: QualificationError) -> ResponseReturnValue:
    form = AnnualQualificationForm(prefix="annual", formdata=None, year=year)
    form.year.errors = [str(error)]
    return _render(400, annual_form=form)


@blueprint.post("/qualification/annual/preview")
@admin_only
def qualification_annual_preview() -> ResponseReturnValue:
    form = AnnualQualificationForm(prefix="annual")
    if not form.validate_on_submit():
        return _render(400, annual_form=form)
    try:
        preview = _annual_preview(form.year.data)
    except QualificationError as error:
        return _annual_refused(form.year.data, error)
    return _render(annual_form=form, preview=preview)


@blueprint.post("/qualification/annual/run")
@admin_only
def qualification_annual_run() -> ResponseReturnValue:
    form = RunAnnualQualificationForm(prefix="run-annual")
    text = (form.year.data or "").strip()
    if not text.isdigit():
        return _annual_refused(text, QualificationError("Enter the year to qualify levels for, then preview it."))
    year = int(text)
    form.late = late_annual_run(year) is not None  # then the warning's box must be ticked as well
    try:
        if not form.validate_on_submit():
            annual_form = AnnualQualificationForm(prefix="annual", formdata=None, year=year)
            return _render(400, annual_form=annual_form, preview=_annual_preview(year, form))
        lines = run_annual_qualification(year, by=current_staff())
    except QualificationError as error:
        return _annual_refused(year, error)
    _flash_run(_annual_title(year), lines)
    return redirect(url_for("admin.qualification"), 303)


# --- Mid-year upgrades ----------------------------------------------------------------------------


def _upgrades_title(as_of: date) -> str:
    return f"Mid-year upgrades as of {formatting.date(as_of)}"


def _upgrades_preview(as_of: date, run_form: RunUpgradesForm | None = None) -> Preview:
    lines = run_upgrades(as_of, dry_run=True, by=current_staff())
    run_form = run_form or RunUpgradesForm(prefix="run-upgrades", formdata=None, as_of=as_of.isoformat())
    return Preview("upgrades", _upgrades_title(as_of), lines, run_form, booked=booked_upgrades(as_of), as_of=as_of)


def _upgrades_refused(as_of: date | None, error: QualificationError) -> ResponseReturnValue:
    form = UpgradesForm(prefix="upgrades", formdata=None, as_of=as_of)
    form.as_of.errors = [str(error)]
    return _render(400, upgrades_form=form)


@blueprint.post("/qualification/upgrades/preview")
@admin_only
def qualification_upgrades_preview() -> ResponseReturnValue:
    form = UpgradesForm(prefix="upgrades")
    if not form.validate_on_submit():
        return _render(400, upgrades_form=form)
    try:
        preview = _upgrades_preview(form.as_of.data)
    except QualificationError as error:
        return _upgrades_refused(form.as_of.data, error)
    return _render(upgrades_form=form, preview=preview)


@blueprint.post("/qualification/upgrades/run")
@admin_only
def qualification_upgrades_run() -> ResponseReturnValue:
    form = RunUpgradesForm(prefix="run-upgrades")
    try:
        as_of = date.fromisoformat((form.as_of.data or "").strip())
    except ValueError:
        return _upgrades_refused(
            None, QualificationError("Enter the day to check the requirements on, then preview it.")
        )
    try:
        if not form.validate_on_submit():
            upgrades_form = UpgradesForm(prefix="upgrades", formdata=None, as_of=as_of)
            return _render(400, upgrades_form=upgrades_form, preview=_upgrades_preview(as_of, form))
        lines = run_upgrades(as_of, by=current_staff())
    except QualificationError as error:
        return _upgrades_refused(as_of, error)
    _flash_run(_upgrades_title(as_of), lines)
    return redirect(url_for("admin.qualification"), 303)
