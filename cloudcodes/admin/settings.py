"""Admins set the program's numbers (``/admin/settings``) and write the public FAQ (``/admin/faq``).

Thin views: the form, then the service (``update_program_terms``, ``cloudcodes.public.faq_admin``),
which validates, names the field it refuses and commits; then a flash and a 303. Admins only:
channel managers get 403.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.content import render_markdown
from cloudcodes.extensions import db
from cloudcodes.program.forms import ProgramSettingsForm, describe, display, shown_json, snapshot
from cloudcodes.program.models import ProgramSettings
from cloudcodes.program.services import SETTINGS_ID, SettingsError, program_terms, update_program_terms
from cloudcodes.program.terms import ProgramTerms
from cloudcodes.public.faq_admin import (
    FaqError,
    available_placeholders,
    create_entry,
    delete_entry,
    move_entry,
    ordered_entries,
    update_entry,
)
from cloudcodes.public.forms import DeleteFaqForm, FaqForm, MoveFaqForm
from cloudcodes.public.models import FaqEntry

SAVED = "The program settings are saved; they apply from now on and never change past commissions."


def _user() -> User:
    return cast(User, current_user._get_current_object())  # type: ignore[attr-defined]


# --- Program settings ---------------------------------------------------------------------------


def _render_settings(
    form: ProgramSettingsForm, terms: ProgramTerms, status: int = 200, *, stale: bool = False
) -> ResponseReturnValue:
    form.add_spare_tier_row()
    form.label_tier_rows()
    return render_template("admin/settings.html", form=form, terms=terms, stale=stale), status


def _render_conflicts(
    typed: ProgramSettingsForm, terms: ProgramTerms, changes: dict[str, Any], conflicts: dict[str, Any]
) -> ResponseReturnValue:
    """Another admin saved meanwhile and changed a setting this one changed too: nothing is saved.

    The form comes back with the settings in force now, this admin's own changes typed over them, and
    a note on each setting both changed, so that saving again is a deliberate choice.
    """
    form = ProgramSettingsForm.showing(dataclasses.replace(terms, **changes))
    form.shown_values.data = shown_json(terms)  # what is in force, not what was typed
    form.confirm.data = typed.confirm.data
    for name, value in conflicts.items():
        message = f"Another admin has just changed this to {display(name, value)}; save again to replace it with yours."
        if name == "volume_tiers":
            form.tier_errors.append(message)
        else:
            field = getattr(form, name)
            field.errors = [*field.errors, message]  # a form never validated has a tuple here
    return _render_settings(form, terms, 409, stale=True)


@blueprint.route("/settings", methods=["GET", "POST"])
@admin_only
def settings() -> ResponseReturnValue:
    terms = program_terms()
    if request.method == "GET":
        return _render_settings(ProgramSettingsForm.showing(terms), terms)
    form = ProgramSettingsForm(currency=terms.currency)
    if not form.validate():
        return _render_settings(form, terms, 400)
    changes, conflicts = form.edits(terms)
    if conflicts:
        return _render_conflicts(form, terms, changes, conflicts)
    if not changes:
        flash("Nothing changed: the program settings are as they were.", "info")
        return redirect(url_for("admin.settings"), 303)
    if not form.confirm.data:
        form.confirm.errors.append("Tick the box to apply the changes.")
        return _render_settings(form, terms, 400)
    before = snapshot(terms)
    # Recorded first so that it commits with the settings, in the service's one transaction.
    record(
        "program.settings_changed",
        actor=_user(),
        target=db.session.get(ProgramSettings, SETTINGS_ID),
        details={name: {"before": before[name], "after": describe(name, value)} for name, value in changes.items()},
    )
    try:
        update_program_terms(**changes)
    except SettingsError as error:
        db.session.rollback()
        if error.field == "volume_tiers":
            form.tier_errors.append(str(error))
        else:
            getattr(form, error.field).errors.append(str(error))
        return _render_settings(form, terms, 400)
    flash(SAVED, "success")
    return redirect(url_for("admin.settings"), 303)


# --- FAQ ------------------------------------------------------------------------------------------


def _entry_or_404(entry_id: int) -> FaqEntry:
    entry = db.session.get(FaqEntry, entry_id)
    if entry is None:
        abort(404)
    return entry


def _placeholder_help() -> str:
    values = available_placeholders()
    listed = "; ".join(f"[[{name}]] (now {value})" for name, value in values.items())
    return f"Markdown: **bold**, *italic*, [links](/program), lists. Placeholders show the live settings: {listed}."


def _render_edit(
    form: FaqForm, entry: FaqEntry | None = None, status: int = 200, delete_form: DeleteFaqForm | None = None
) -> ResponseReturnValue:
    form.answer_markdown.description = _placeholder_help()
    preview = render_markdown(entry.answer_markdown, program_terms()) if entry is not None else None
    return render_template(
        "admin/faq/edit.html",
        form=form,
        entry=entry,
        preview=preview,
        delete_form=delete_form or DeleteFaqForm(prefix="delete"),
    ), status


def _saved_message(entry: FaqEntry, what: str) -> str:
    where = "published on the FAQ" if entry.published else "not published (only staff see it)"
    return f"The question is {what}; it is {where}."


@blueprint.get("/faq")
@admin_only
def faq() -> ResponseReturnValue:
    return render_template("admin/faq/list.html", entries=ordered_entries(), move_form=MoveFaqForm())


@blueprint.route("/faq/new", methods=["GET", "POST"])
@admin_only
def faq_new() -> ResponseReturnValue:
    form = FaqForm()
    if not form.validate_on_submit():
        return _render_edit(form, status=400 if form.is_submitted() else 200)
    try:
        entry = create_entry(form.to_input(), by=_user())
    except FaqError as error:
        db.session.rollback()
        getattr(form, error.field or "question").errors.append(str(error))
        return _render_edit(form, status=400)
    flash(_saved_message(entry, "saved"), "success")
    return redirect(url_for("admin.faq_edit", entry_id=entry.id), 303)


@blueprint.route("/faq/<int:entry_id>/edit", methods=["GET", "POST"])
@admin_only
def faq_edit(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    form = FaqForm(obj=entry)
    if not form.validate_on_submit():
        return _render_edit(form, entry, 400 if form.is_submitted() else 200)
    try:
        changes = update_entry(entry, form.to_input(), by=_user())
    except FaqError as error:
        db.session.rollback()
        getattr(form, error.field or "question").errors.append(str(error))
        return _render_edit(form, _entry_or_404(entry_id), 400)
    if changes:
        flash(_saved_message(entry, "saved"), "success")
    else:
        flash("Nothing changed: the question is as it was.", "info")
    return redirect(url_for("admin.faq_edit", entry_id=entry.id), 303)


@blueprint.post("/faq/<int:entry_id>/move")
@admin_only
def faq_move(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    form = MoveFaqForm()
    if not form.validate_on_submit():
        flash("The question was not moved: the page had expired. Try again.", "warning")
        return redirect(url_for("admin.faq"), 303)
    try:
        move_entry(entry, form.direction.data, by=_user())
    except FaqError as error:
        db.session.rollback()
        flash(str(error), "warning")
    else:
        flash(f"Moved {form.direction.data}: {entry.question}", "success")
    return redirect(url_for("admin.faq", _anchor=f"faq-{entry_id}"), 303)


@blueprint.post("/faq/<int:entry_id>/delete")
@admin_only
def faq_delete(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    delete_form = DeleteFaqForm(prefix="delete")
    if not delete_form.validate_on_submit():
        return _render_edit(FaqForm(formdata=None, obj=entry), entry, 400, delete_form=delete_form)
    question = entry.question
    delete_entry(entry, by=_user())
    flash(f"The question “{question}” is deleted.", "success")
    return redirect(url_for("admin.faq"), 303)
