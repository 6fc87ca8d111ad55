"""Recording who did what. Events join the caller's transaction, so a rolled-back change leaves none."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db


def record(
    action: str,
    *,
    actor: Any = None,
    target: Any = None,
    details: dict[str, Any] | None = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """Add an audit event; ``target`` is a model instance (type and id are taken from it)."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None) or actor_email,
        target_type=getattr(target, "__tablename__", None),
        target_id=str(target.id) if target is not None and getattr(target, "id", None) is not None else None,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details or {},
    )
    db.session.add(event)
    return event
