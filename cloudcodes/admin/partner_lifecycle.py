"""A partner's lifecycle in the console: its manager, notes, owner e-mail corrections, "view as", adjustments.

Thin views as in ``admin/partners.py``: the form, then the service (``cloudcodes.partners.lifecycle``,
``cloudcodes.billing.adjustments``: rules, audit, transaction), then a flash and a 303 back to the
partner. A staff member who may not act on the partner gets 403; a refusal is shown on its field.
"Move every partner of a manager" is on the staff member's page, for administrators.
"""

from __future__ import annotations

from flask import abort, has_request_context, redirect, session, url_for
from flask.typing import ResponseReturnValue

from cloudcodes import formatting
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.lifecycle import (
    AdjustmentForm,
    CancelEmailChangeForm,
    ChangeManagerForm,
    EmailChangeForm,
    MoveAllPartnersForm,
    NoteForm,
    StopViewingForm,
    ViewAsForm,
)
from cloudcodes.admin.partners import _act, _managed_partner_or_404, _membership_of
from cloudcodes.admin.staff import _act as _staff_act
from cloudcodes.admin.staff import _staff_or_404
from cloudcodes.billing.adjustments import adjust_ledger, partner_currency
from cloudcodes.partners.lifecycle import (
    add_note,
    cancel_email_change,
    change_manager,
    manager_choices,
    move_all_partners,
    request_email_change,
    start_viewing_as,
    stop_viewing_as,
)
from cloudcodes.web import VIEWING_AS, current_staff, viewed_partner


@blueprint.post("/partners/<int:partner_id>/manager")
def partner_change_manager(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    name = partner.name
    form = ChangeManagerForm(prefix="manager")
    form.use_managers(manager_choices(), leave_out=partner.channel_manager_id)

    def perform() -> list[str]:
        manager = change_manager(partner, form.manager.data, by=current_staff())
        return [f"{manager.display_name} is now {name}'s channel sales manager; its owners are told by e-mail."]

    return _act(partner, ("manager", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/notes")
def partner_add_note(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = NoteForm(prefix="note")

    def perform() -> list[str]:
        add_note(partner, form.body.data or "", by=current_staff())
        return ["Your note is added. Only staff see it."]

    return _act(partner, ("note", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/members/<int:membership_id>/email")
def partner_member_email(partner_id: int, membership_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    membership = _membership_of(partner, membership_id)
    form = EmailChangeForm(prefix=f"email-{membership_id}")

    def perform() -> list[str]:
        change = request_email_change(partner, membership, form.email.data or "", by=current_staff())
        return [
            f"A confirmation link is on its way to {formatting.email_address(change.new_email)}. "
            f"The login stays {formatting.email_address(change.old_email)} until the link is opened (within 7 days)."
        ]

    return _act(partner, ("email", membership_id), form, perform)


@blueprint.post("/partners/<int:partner_id>/email-changes/<int:change_id>/cancel")
def partner_cancel_email_change(partner_id: int, change_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = CancelEmailChangeForm(prefix=f"cancel-{change_id}")

    def perform() -> list[str]:
        change = cancel_email_change(partner, change_id, by=current_staff())
        return [f"The change to {formatting.email_address(change.new_email)} is cancelled; its link no longer works."]

    return _act(partner, ("cancel-email", change_id), form, perform, refusal="flash")


@blueprint.post("/partners/<int:partner_id>/adjustments")
def partner_adjustment(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = AdjustmentForm(prefix="adjustment")
    form.use_currency(partner_currency(partner))

    def perform() -> list[str]:
        entry = adjust_ledger(partner, form.amount.data or "", form.reason.data or "", by=current_staff())
        return [
            f"The adjustment of {formatting.money(entry.amount)} is in the ledger; "
            "it appears on the statement of the month it falls in, once that month is closed."
        ]

    return _act(partner, ("adjustment", None), form, perform)


# --- Viewing the dashboard as the partner -----------------------------------------------------


@blueprint.post("/partners/<int:partner_id>/view-as")
def partner_view_as(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = ViewAsForm(prefix="view-as")
    if not form.validate_on_submit():
        abort(400)
    start_viewing_as(partner, by=current_staff())
    session[VIEWING_AS] = partner.id
    return redirect(url_for("dashboard.index"), 303)


@blueprint.post("/view-as/stop")
def stop_viewing() -> ResponseReturnValue:
    form = StopViewingForm()
    if not form.validate_on_submit():
        abort(400)
    partner_id = session.pop(VIEWING_AS, None)
    if partner_id is None:
        return redirect(url_for("admin.index"), 303)
    stop_viewing_as(partner_id, by=current_staff())
    return redirect(url_for("admin.partner_detail", partner_id=partner_id), 303)


# --- All of a manager's partners at once ------------------------------------------------------


@blueprint.post("/staff/<int:user_id>/partners/move")
@admin_only
def staff_move_partners(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = MoveAllPartnersForm(prefix="move")
    form.use_managers(manager_choices(), leave_out=user.id)

    def perform() -> str:
        moved = move_all_partners(user, form.manager.data, by=current_staff())
        return f"{formatting.plural(moved, 'partner')} moved from {user.display_name}; their owners are told by e-mail."

    return _staff_act(user, form, "move_form", perform)


@blueprint.app_context_processor
def _viewing_as() -> dict[str, object]:
    """Every page knows whether staff are viewing a partner's dashboard: the banner, and forms disabled."""
    # Mail is rendered outside requests too (jobs, commands): no session there, so no banner.
    partner = viewed_partner() if has_request_context() and session.get(VIEWING_AS) is not None else None
    return {"viewing_as": partner}
