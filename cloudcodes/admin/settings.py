"""Admins set the program's numbers (``/admin/settings``) and write the public FAQ (``/admin/faq``).

Thin views: the form, then the service (``update_program_terms``, ``cloudcodes.public.faq_admin``),
which validates, names the field it refuses and commits; then a flash and a 303. Admins only:
channel managers get 403.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.faq import DeleteFaqForm, FaqForm, MoveFaqForm
from cloudcodes.admin.forms.settings import ProgramSettingsForm, display, shown_json
from cloudcodes.content import render_markdown
from cloudcodes.extensions import db
from cloudcodes.program.services import program_terms, update_program_terms
from cloudcodes.program.terms import ProgramTerms
from cloudcodes.public.faq_admin import (
    available_placeholders,
    create_entry,
    delete_entry,
    move_entry,
    ordered_entries,
    update_entry,
)
from cloudcodes.public.models import FaqEntry
from cloudcodes.web import Done, current_staff, submit

SAVED = "The program settings are saved; they apply from now on and never change past commissions."


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

    def perform() -> str:
        update_program_terms(by=current_staff(), **changes)
        return SAVED

    return submit(
        form, perform, back=url_for("admin.settings"), show=lambda status: _render_settings(form, terms, status)
    )


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
    if request.method == "GET":
        return _render_edit(form)

    def perform() -> Done:
        entry = create_entry(form.to_input(), by=current_staff())
        return Done(_saved_message(entry, "saved"), to=url_for("admin.faq_edit", entry_id=entry.id))

    return submit(form, perform, back=url_for("admin.faq"), show=lambda status: _render_edit(form, status=status))


@blueprint.route("/faq/<int:entry_id>/edit", methods=["GET", "POST"])
@admin_only
def faq_edit(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    form = FaqForm(obj=entry)
    if request.method == "GET":
        return _render_edit(form, entry)

    def perform() -> Done:
        if update_entry(entry, form.to_input(), by=current_staff()):
            return Done(_saved_message(entry, "saved"))
        return Done("Nothing changed: the question is as it was.", category="info")

    return submit(
        form,
        perform,
        back=url_for("admin.faq_edit", entry_id=entry_id),
        show=lambda status: _render_edit(form, _entry_or_404(entry_id), status),
    )


@blueprint.post("/faq/<int:entry_id>/move")
@admin_only
def faq_move(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    form = MoveFaqForm()
    back = url_for("admin.faq", _anchor=f"faq-{entry_id}")
    if not form.validate_on_submit():
        flash("The question was not moved: the page had expired. Try again.", "warning")
        return redirect(url_for("admin.faq"), 303)

    def perform() -> str:
        move_entry(entry, form.direction.data, by=current_staff())
        return f"Moved {form.direction.data}: {entry.question}"

    return submit(form, perform, back=back, show=lambda status: redirect(back, 303), refusal="flash")


@blueprint.post("/faq/<int:entry_id>/delete")
@admin_only
def faq_delete(entry_id: int) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    delete_form = DeleteFaqForm(prefix="delete")
    question = entry.question

    def perform() -> str:
        delete_entry(entry, by=current_staff())
        return f"The question “{question}” is deleted."

    return submit(
        delete_form,
        perform,
        back=url_for("admin.faq"),
        show=lambda status: _render_edit(FaqForm(formdata=None, obj=entry), entry, status, delete_form=delete_form),
    )
