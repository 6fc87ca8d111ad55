"""Admins see the e-mail the outbox gave up on and put a message back in the queue (``/admin/mail``).

A message fails when the mail server refuses it for good (no such recipient, message refused) or
after ``MAX_ATTEMPTS`` temporary failures. Admins only (``admin_only``): the list shows every user's
address and what the mail server said, and a retry sends a message again (a reset link, an invitation).
"""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue

from cloudcodes import formatting
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.mail import RetryMailForm
from cloudcodes.extensions import db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.mail.outbox import MAX_ATTEMPTS, failed_messages, retry_failed
from cloudcodes.web import current_staff, submit

PER_PAGE = 25


def _render_list(form: RetryMailForm | None = None, status: int = 200) -> ResponseReturnValue:
    page = db.paginate(failed_messages(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/mail.html", page=page, retry_form=form or RetryMailForm(formdata=None), max_attempts=MAX_ATTEMPTS
    ), status


@blueprint.get("/mail")
@admin_only
def mail() -> ResponseReturnValue:
    return _render_list()


@blueprint.post("/mail/<int:message_id>/retry")
@admin_only
def mail_retry(message_id: int) -> ResponseReturnValue:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    form = RetryMailForm()

    def perform() -> str:
        retry_failed(message_id, by=current_staff())
        return (
            f"The message “{message.subject}” to {formatting.email_address(message.to_address)} is back in the "
            "queue; it goes out with the next delivery of the outbox."
        )

    return submit(form, perform, back=url_for("admin.mail"), show=lambda status: _render_list(form, status))
