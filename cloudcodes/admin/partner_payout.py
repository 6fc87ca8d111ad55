"""The partner's payout details in the console: the section of its page, and the tax form's download.

Managers and admins see the payout status (masked), what is missing and the recent changes of the
company and payout details; only admins download the signed tax form (payouts are theirs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.audit.models import AuditEvent
from cloudcodes.dashboard.company import country_name, tax_form_download
from cloudcodes.extensions import db
from cloudcodes.partners import payout_rules as rules
from cloudcodes.partners.company import (
    masked,
    missing_payout_items,
    payout_details_of,
    recent_company_changes,
    tax_form_path,
)
from cloudcodes.partners.models import Partner, PartnerPayoutDetails

CHANGE_LABELS = {
    "partner.company_changed": "Company details",
    "partner.payout_details_changed": "Payout details",
    "partner.tax_form_uploaded": "Tax form",
}
FIELD_LABELS = {
    "name": "name",
    "website": "web site",
    "country": "country",
    "phone": "phone",
    "payee_legal_name": "payee",
    "payee_country": "payee's country",
    "method": "method",
    "iban": "IBAN",
    "bic": "BIC",
    "account_number": "account number",
    "routing_number": "routing number",
    "paypal_email": "PayPal e-mail",
    "tax_id": "tax ID",
    "kind": "form",
    "signed_on": "signed on",
}


@dataclass(frozen=True)
class Change:
    event: AuditEvent
    label: str
    lines: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, before, after)


@dataclass(frozen=True)
class PayoutPanel:
    details: PartnerPayoutDetails | None
    shown: dict[str, str]
    missing: list[str]
    has_tax_form: bool
    changes: list[Change]
    method_label: str | None
    country: str | None


def _change(event: AuditEvent) -> Change:
    before = (event.details or {}).get("before") or {}
    after = (event.details or {}).get("after") or {}
    names = [name for name in after if name != "bytes"] or list(before)
    lines = [(FIELD_LABELS.get(name, name), before.get(name), after.get(name)) for name in names]
    return Change(event=event, label=CHANGE_LABELS.get(event.action, event.action), lines=lines)


def payout_panel(partner: Partner) -> PayoutPanel:
    """What the partner page's payout section shows."""
    details = payout_details_of(partner)
    return PayoutPanel(
        details=details,
        shown=masked(details),
        missing=missing_payout_items(partner),
        has_tax_form=details is not None and tax_form_path(details) is not None,
        changes=[_change(event) for event in recent_company_changes(partner)],
        method_label=rules.METHOD_LABELS.get(details.method) if details and details.method else None,
        country=country_name(details.payee_country) if details and details.payee_country else None,
    )


@blueprint.get("/partners/<int:partner_id>/tax-form")
@admin_only
def partner_tax_form(partner_id: int) -> ResponseReturnValue:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        abort(404)
    return tax_form_download(payout_details_of(partner))
