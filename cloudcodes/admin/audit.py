"""The audit log (``/admin/audit``, admins only): every event, filtered, each linked to its record.

An event names its record by table and id; the links are found for a whole page at once (one
query per kind of record on the page, whatever the number of events). A record that no longer
exists, or that has no page in the console, is named without a link. Details are shown whole.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import String, cast, func, or_, select

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.audit import AuditFilterForm, target_label
from cloudcodes.admin.lists import Column, ListSpec, csv_export, listing
from cloudcodes.applications.models import ApplicationMessage, PartnerApplication
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import STAFF_ROLES, User
from cloudcodes.billing.models import LedgerEntry, PayoutStatement
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner, PartnerMembership
from cloudcodes.public.models import FaqEntry
from cloudcodes.referrals.models import DomainRegistration, ReferralCode

PER_PAGE = 50

# Records with a page of their own: the model, the page and the name of its id in the URL.
_PAGES: dict[str, tuple[Any, str, str]] = {
    "partners": (Partner, "admin.partner_detail", "partner_id"),
    "partner_applications": (PartnerApplication, "admin.application_detail", "application_id"),
    "domain_registrations": (DomainRegistration, "admin.domain_detail", "registration_id"),
    "payout_statements": (PayoutStatement, "admin.payout_detail", "statement_id"),
    "faq_entries": (FaqEntry, "admin.faq_edit", "entry_id"),
}
# Records shown on a console page of their kind, not one of their own.
_LIST_PAGES = {"outbox_messages": "admin.mail", "job_runs": "admin.jobs", "program_settings": "admin.settings"}


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    record: str  # "Partner #3"
    link: str | None


def _partner_links(pairs: Iterable[tuple[int, int | None]]) -> dict[int, str]:
    return {
        target: url_for("admin.partner_detail", partner_id=partner) for target, partner in pairs if partner is not None
    }


def _resolve(target_type: str, ids: set[int]) -> dict[int, str]:
    """The console page of each of these records of one kind: one query, or none."""
    if target_type in _PAGES:
        model, endpoint, argument = _PAGES[target_type]
        found = db.session.scalars(select(model.id).where(model.id.in_(ids)))
        return {target: url_for(endpoint, **{argument: target}) for target in found}
    if target_type in _LIST_PAGES:
        return dict.fromkeys(ids, url_for(_LIST_PAGES[target_type]))
    if target_type == "users":
        links: dict[int, str] = {}
        rows = db.session.execute(
            select(User.id, User.role, PartnerMembership.partner_id)
            .outerjoin(PartnerMembership, PartnerMembership.user_id == User.id)
            .where(User.id.in_(ids))
        )
        for user_id, role, partner_id in rows:
            if role in STAFF_ROLES:
                links[user_id] = url_for("admin.staff_detail", user_id=user_id)
            elif partner_id is not None:
                links[user_id] = url_for("admin.partner_detail", partner_id=partner_id)
        return links
    if target_type == "referral_codes":
        rows = db.session.execute(select(ReferralCode.id, ReferralCode.registration_id).where(ReferralCode.id.in_(ids)))
        return {code: url_for("admin.domain_detail", registration_id=registration) for code, registration in rows}
    if target_type == "ledger_entries":
        links = {}
        rows = db.session.execute(
            select(LedgerEntry.id, LedgerEntry.statement_id, LedgerEntry.partner_id).where(LedgerEntry.id.in_(ids))
        )
        for entry, statement, partner in rows:
            links[entry] = (
                url_for("admin.payout_detail", statement_id=statement)
                if statement is not None
                else url_for("admin.partner_detail", partner_id=partner)
            )
        return links
    if target_type == "application_messages":
        rows = db.session.execute(
            select(ApplicationMessage.id, ApplicationMessage.application_id).where(ApplicationMessage.id.in_(ids))
        )
        return {message: url_for("admin.application_detail", application_id=app_id) for message, app_id in rows}
    # Any other record of a partner (a member, a requirement, a note...): the partner's page.
    model = next(
        (mapper.class_ for mapper in db.Model.registry.mappers if mapper.local_table.name == target_type), None
    )
    if model is not None and "partner_id" in model.__table__.c and "id" in model.__table__.c:
        table = model.__table__
        return _partner_links(db.session.execute(select(table.c.id, table.c.partner_id).where(table.c.id.in_(ids))))
    return {}


def _audit_rows(events: list[AuditEvent]) -> list[AuditRow]:
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.target_type and event.target_id and event.target_id.isascii() and event.target_id.isdigit():
            wanted[event.target_type].add(int(event.target_id))
    links = {
        (target_type, target): link
        for target_type, ids in wanted.items()
        for target, link in _resolve(target_type, ids).items()
    }
    rows = []
    for event in events:
        record = f"{target_label(event.target_type)} #{event.target_id}" if event.target_type else ""
        link = None
        if event.target_type and event.target_id and event.target_id.isascii() and event.target_id.isdigit():
            link = links.get((event.target_type, int(event.target_id)))
        rows.append(AuditRow(event, record, link))
    return rows


def as_json(value: Any) -> str:
    """A details value as readable JSON (indented, its accents as they are), for the page and the CSV."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _search(text: str) -> Any:
    term = text.lower()
    return or_(
        AuditEvent.action.contains(term, autoescape=True),
        func.lower(AuditEvent.actor_email).contains(term, autoescape=True),
        AuditEvent.target_id == text,
        func.lower(cast(AuditEvent.details, String)).contains(term, autoescape=True),
    )


def _audit_spec() -> ListSpec:
    return ListSpec(
        endpoint="admin.audit_log",
        csv_endpoint="admin.audit_csv",
        noun="event",
        form=AuditFilterForm,
        query=lambda: select(AuditEvent),
        columns=[
            Column("when", "When (UTC)", lambda row: row.event.occurred_at, AuditEvent.occurred_at),
            Column("who", "Who", lambda row: row.event.actor_email or "", func.coalesce(AuditEvent.actor_email, "")),
            Column("action", "Action", lambda row: row.event.action, AuditEvent.action),
            Column("record", "Record", lambda row: row.record),
            Column("from", "From", lambda row: row.event.ip_address or ""),
            Column("details", "Details", lambda row: as_json(row.event.details) if row.event.details else ""),
        ],
        filters={
            "action": lambda action: (
                AuditEvent.action.startswith(action.strip(), autoescape=True) if action and action.strip() else None
            ),
            "who": lambda who: (
                func.lower(AuditEvent.actor_email).contains(who.strip().lower(), autoescape=True)
                if who and who.strip()
                else None
            ),
            "target": lambda target: AuditEvent.target_type == target if target else None,
            "since": lambda day: AuditEvent.occurred_at >= _midnight(day) if day else None,
            "until": lambda day: AuditEvent.occurred_at < _midnight(day + timedelta(days=1)) if day else None,
        },
        search=_search,
        tiebreak=[AuditEvent.id],
        default_sort=lambda values: ("when", True),
        prepare=_audit_rows,
        per_page=PER_PAGE,
        filename="audit-log",
        submit_label="Filter",
    )


@blueprint.get("/audit")
@admin_only
def audit_log() -> ResponseReturnValue:
    return render_template("admin/audit.html", listing=listing(_audit_spec()), as_json=as_json)


@blueprint.get("/audit.csv")
@admin_only
def audit_csv() -> ResponseReturnValue:
    return csv_export(_audit_spec())
