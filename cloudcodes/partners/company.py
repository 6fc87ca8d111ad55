"""A partner's company details and payout details, changed by its owners on ``/dashboard/company``.

Services own the transaction and the rules (``partners.payout_rules`` says what is valid). Every
change is audited with what it was before and after; bank numbers and tax IDs appear in the audit
log only masked, and in the database only encrypted (``cloudcodes.crypto``). The signed tax form is
a PDF kept under the instance folder (``<instance>/tax-forms/``, never under ``static/``) with a
random name, and served only through the views that check who asks.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import column, select, table, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, crypto
from cloudcodes.audit.models import AuditEvent
from cloudcodes.audit.services import record as audit
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.partners import payout_rules as rules
from cloudcodes.partners.models import Partner, PartnerPayoutDetails
from cloudcodes.services import ServiceError, after_commit, transactional

TAX_FORM_MAX_BYTES = 5 * 1024 * 1024
TAX_FORM_FOLDER = "tax-forms"
COMPANY_CHANGED = "partner.company_changed"
PAYOUT_CHANGED = "partner.payout_details_changed"
TAX_FORM_UPLOADED = "partner.tax_form_uploaded"
COMPANY_FIELDS = ("name", "website", "country", "phone")


class CompanyError(ServiceError):
    """A company or payout detail that cannot be saved; ``field`` names the form field at fault."""


# --- Company details --------------------------------------------------------------------------


@transactional
def update_company(partner: Partner, *, by: User, **values: str) -> bool:
    """Change the company's name, web site, country and phone; False when nothing changed."""
    before = {name: getattr(partner, name) for name in COMPANY_FIELDS}
    after = {name: (values.get(name, before[name]) or "").strip() for name in COMPANY_FIELDS}
    if not after["name"]:
        raise CompanyError("Enter the company's name.", "name")
    changed = {name for name in COMPANY_FIELDS if after[name] != before[name]}
    if not changed:
        return False
    for name in changed:
        setattr(partner, name, after[name])
    audit(
        COMPANY_CHANGED,
        actor=by,
        target=partner,
        details={
            "before": {name: before[name] for name in sorted(changed)},
            "after": {name: after[name] for name in sorted(changed)},
        },
    )
    return True


def recent_company_changes(partner: Partner, limit: int = 10) -> list[AuditEvent]:
    """The latest changes of the company and payout details, newest first, for the manager's page."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.target_type == Partner.__tablename__,
                AuditEvent.target_id == str(partner.id),
                AuditEvent.action.in_([COMPANY_CHANGED, PAYOUT_CHANGED, TAX_FORM_UPLOADED]),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


# --- Payout details ---------------------------------------------------------------------------


def payout_details_of(partner: Partner | int, *, for_update: bool = False) -> PartnerPayoutDetails | None:
    partner_id = partner if isinstance(partner, int) else partner.id
    query = select(PartnerPayoutDetails).where(PartnerPayoutDetails.partner_id == partner_id)
    if for_update:  # two owners saving at once take turns (SQLite's write transactions already do)
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _details_to_change(partner: Partner) -> PartnerPayoutDetails:
    """The partner's row, locked; made (empty) when there is none yet, even by two owners at the same moment."""
    details = payout_details_of(partner, for_update=True)
    if details is not None:
        return details
    try:
        with db.session.begin_nested():
            db.session.add(PartnerPayoutDetails(partner_id=partner.id, payee_legal_name="", payee_country=""))
    except IntegrityError:  # the other owner's row came first (its transaction has committed): change that one
        pass
    details = payout_details_of(partner, for_update=True)
    assert details is not None
    return details


def missing_payout_items(partner: Partner | int) -> list[str]:
    """What the partner's payout details still lack (empty: a statement may be paid)."""
    return rules.missing_items(payout_details_of(partner), clock.today())


@dataclass(frozen=True)
class PayoutInput:
    """What the payout form holds. A blank number keeps the one stored (it is never shown back)."""

    payee_legal_name: str
    payee_country: str
    method: str
    iban: str = ""
    bic: str = ""
    account_number: str = ""
    routing_number: str = ""
    paypal_email: str = ""
    tax_id: str = ""
    country_name: str | None = None


def masked(details: PartnerPayoutDetails | None) -> dict[str, str]:
    """What may be shown of the stored details: names, codes and e-mail as they are, numbers masked."""
    if details is None:
        return {}
    shown = {
        "payee_legal_name": details.payee_legal_name,
        "payee_country": details.payee_country,
        "method": str(details.method or ""),
        "iban": rules.mask_iban(details.iban),
        "bic": details.bic or "",
        "account_number": rules.mask_number(details.account_number),
        "routing_number": details.routing_number or "",
        "paypal_email": details.paypal_email or "",
        "tax_id": rules.mask_number(details.tax_id),
    }
    return {name: value for name, value in shown.items() if value}


def _checked(check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except rules.InvalidDetail as error:
        raise CompanyError(error.message, error.field) from None


def _typed_or_kept(check: Any, typed: str, stored: str | None) -> str:
    """The number typed, checked; or, when the field was left empty, the one stored (never shown back)."""
    if typed.strip() or stored is None:
        return _checked(check, typed)
    return stored


@transactional
def save_payout_details(partner: Partner, data: PayoutInput, *, by: User) -> PartnerPayoutDetails:
    """Validate and store the payee, the method and the tax ID; only the chosen method's details are kept."""
    details = _details_to_change(partner)
    before = masked(details) if details.payee_country else {}
    name = (data.payee_legal_name or "").strip()
    if not name:
        raise CompanyError(
            "Enter the payee's legal name, as the bank account or tax registration has it.", "payee_legal_name"
        )
    if len(name) > 200:
        raise CompanyError("The payee's legal name is at most 200 characters.", "payee_legal_name")
    country = (data.payee_country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise CompanyError("Choose the payee's country.", "payee_country")
    try:
        method = rules.Method(data.method)
    except ValueError:
        raise CompanyError("Choose how the payouts are paid.", "method") from None
    country_changed = details.payee_country != country

    iban = bic = account = routing = paypal = None
    if method == rules.Method.IBAN:
        iban = _typed_or_kept(rules.check_iban, data.iban, details.iban)
        bic = _checked(rules.check_bic, data.bic or ("" if data.iban.strip() else details.bic or ""), iban)
    elif method == rules.Method.US_BANK:
        account = _typed_or_kept(rules.check_account_number, data.account_number, details.account_number)
        routing = _checked(rules.check_routing_number, data.routing_number or details.routing_number or "")
    else:
        paypal = _checked(rules.check_paypal_email, data.paypal_email)

    if data.tax_id.strip() or details.tax_id is None or country_changed:
        if not data.tax_id.strip() and details.tax_id is not None:
            raise CompanyError("The payee's country changed: enter the tax ID or VAT number again.", "tax_id")
        tax_id = _checked(rules.check_tax_id, data.tax_id, country, data.country_name)
    else:
        tax_id = details.tax_id

    details.payee_legal_name = name
    details.payee_country = country
    details.method = method
    details.iban, details.bic = iban, bic
    details.account_number, details.routing_number = account, routing
    details.paypal_email = paypal
    details.tax_id = tax_id
    details.updated_by_id = by.id
    details.updated_at = clock.now()
    after = masked(details)
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    # A re-entered number that masks the same still counts as a change: say so without showing it.
    for key, new in (("iban", data.iban), ("account_number", data.account_number), ("tax_id", data.tax_id)):
        if new.strip() and key not in changed:
            changed.append(key)
    if changed:
        audit(
            PAYOUT_CHANGED,
            actor=by,
            target=partner,
            details={
                "before": {key: before.get(key) for key in changed},
                "after": {key: after.get(key) for key in changed},
            },
        )
    return details


# --- The tax form -----------------------------------------------------------------------------


def tax_form_folder() -> Path:
    return Path(current_app.instance_path) / TAX_FORM_FOLDER


def tax_form_path(details: PartnerPayoutDetails) -> Path | None:
    """The stored PDF, when there is one (a name is only ever one the portal made)."""
    if not details.tax_form_file or os.sep in details.tax_form_file or details.tax_form_file.startswith("."):
        return None
    path = tax_form_folder() / details.tax_form_file
    return path if path.is_file() else None


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        current_app.logger.warning("Could not remove the replaced tax form %s", path.name)


@transactional
def store_tax_form(
    partner: Partner, *, kind: str, signed_on: date | None, content: bytes | None, by: User
) -> PartnerPayoutDetails:
    """Record the payee's tax form (its kind and date) and keep its PDF; a new upload replaces the old one."""
    details = payout_details_of(partner, for_update=True)
    if details is None or not details.payee_country:
        raise CompanyError("Save the payee's details (with their country) first: the form depends on the country.")
    form = _checked(rules.check_tax_form, kind, details.payee_country, signed_on, clock.today())
    if not content:
        raise CompanyError("Choose the signed form's PDF file to upload.", "tax_form_file")
    if len(content) > TAX_FORM_MAX_BYTES:
        raise CompanyError(
            f"The file is {len(content) / 1024 / 1024:.1f} MB; the form may be at most "
            f"{TAX_FORM_MAX_BYTES // 1024 // 1024} MB. Scan it at a lower resolution or in black and white.",
            "tax_form_file",
        )
    if not rules.is_pdf(content):
        raise CompanyError(
            "This file is not a PDF. Save or scan the signed form as a PDF and upload that.", "tax_form_file"
        )
    before = {"kind": str(details.tax_form_kind or "") or None, "signed_on": _iso(details.tax_form_signed_on)}
    folder = tax_form_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".pdf"
    path = folder / name
    path.write_bytes(content)
    os.chmod(path, 0o600)
    old = tax_form_path(details)
    details.tax_form_kind = form
    details.tax_form_signed_on = signed_on
    details.tax_form_file = name
    details.tax_form_uploaded_at = clock.now()
    details.updated_by_id = by.id
    details.updated_at = clock.now()
    audit(
        TAX_FORM_UPLOADED,
        actor=by,
        target=partner,
        details={"before": before, "after": {"kind": str(form), "signed_on": _iso(signed_on)}, "bytes": len(content)},
    )
    if old is not None:
        after_commit(lambda: _remove_quietly(old))
    return details


# --- Key rotation -----------------------------------------------------------------------------

ENCRYPTED_COLUMNS = ("iban", "account_number", "tax_id")
# The table as stored, without the decrypting column type: the tokens as they are.
_RAW = table("partner_payout_details", column("id"), *(column(name) for name in ENCRYPTED_COLUMNS))


@transactional
def rotate_payout_keys() -> int:
    """Encrypt every stored number again under the first key; returns how many rows were rewritten."""
    keys = crypto.current_keys()
    rows = db.session.execute(select(_RAW).with_for_update()).all()
    for row in rows:
        values = {name: crypto.rotate(getattr(row, name), keys) for name in ENCRYPTED_COLUMNS if getattr(row, name)}
        if values:
            db.session.execute(update(_RAW).where(_RAW.c.id == row.id).values(**values))
    return len(rows)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
