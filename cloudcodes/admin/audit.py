from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db

PER_PAGE = 50


@blueprint.get("/audit")
@admin_only
def audit_log() -> ResponseReturnValue:
    action = request.args.get("action", "").strip()
    who = request.args.get("who", "").strip().lower()
    query = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if who:
        query = query.where(AuditEvent.actor_email.contains(who, autoescape=True))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("admin/audit.html", page=page, action=action, who=who)
