"""What the partner's console page shows of its lifecycle: the forms and records of its include files.

``admin/partners.py`` renders the page and adds this context; ``admin/partner_lifecycle.py`` has the
actions. A submitted form comes back under its ``key`` to be shown again with its errors.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm

from cloudcodes.admin.forms.lifecycle import (
    AdjustmentForm,
    CancelEmailChangeForm,
    ChangeManagerForm,
    EmailChangeForm,
    MoveAllPartnersForm,
    NoteForm,
    ViewAsForm,
)
from cloudcodes.auth.models import User
from cloudcodes.billing.adjustments import adjustments_of, partner_currency
from cloudcodes.partners.lifecycle import manager_choices, notes_of, pending_email_changes
from cloudcodes.partners.models import Partner


def lifecycle_context(partner: Partner, key: tuple[str, int | None] | None, form: FlaskForm | None) -> dict[str, Any]:
    def pick(wanted: tuple[str, int | None], blank: FlaskForm) -> FlaskForm:
        return form if form is not None and key == wanted else blank

    manager_form = pick(("manager", None), ChangeManagerForm(prefix="manager", formdata=None))
    manager_form.use_managers(manager_choices(), leave_out=partner.channel_manager_id)  # type: ignore[attr-defined]
    currency = partner_currency(partner)
    adjustment_form = pick(("adjustment", None), AdjustmentForm(prefix="adjustment", formdata=None))
    adjustment_form.use_currency(currency)  # type: ignore[attr-defined]
    pending = pending_email_changes(partner)
    return {
        "manager_form": manager_form,
        "notes": notes_of(partner),
        "note_form": pick(("note", None), NoteForm(prefix="note", formdata=None)),
        "pending_email_changes": pending,
        "email_forms": {
            m.id: pick(("email", m.id), EmailChangeForm(prefix=f"email-{m.id}", formdata=None))
            for m in partner.memberships
        },
        "cancel_email_forms": {
            change.id: pick(
                ("cancel-email", change.id), CancelEmailChangeForm(prefix=f"cancel-{change.id}", formdata=None)
            )
            for change in pending.values()
        },
        "view_as_form": ViewAsForm(prefix="view-as", formdata=None),
        "adjustment_form": adjustment_form,
        "adjustments": adjustments_of(partner),
        "ledger_currency": currency,
    }


def move_partners_form(person: User) -> MoveAllPartnersForm:
    """The staff page's form moving every partner of ``person`` to another manager."""
    form = MoveAllPartnersForm(prefix="move", formdata=None)
    form.use_managers(manager_choices(), leave_out=person.id)
    return form
