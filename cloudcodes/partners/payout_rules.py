"""The rules of a partner's payout details: what a valid IBAN, BIC, routing number, account number,
tax ID and tax form are, how each is shown masked, and what is still missing before a payout.

A pure rule module (no Flask, no database): the checks use ``schwifty`` (IBAN and BIC) and
``python-stdnum`` (US routing numbers, VAT numbers and tax IDs per country). Each refusal is an
``InvalidDetail`` naming the form field at fault, with a message that says what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from email_validator import EmailNotValidError, validate_email
from schwifty import BIC, IBAN
from schwifty import exceptions as schwifty_errors
from stdnum import get_cc_module
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.us import rtn

from cloudcodes import formatting

MASK = "•"
_DIGITS = re.compile(r"[0-9]+")
US = "US"


class Method(StrEnum):
    """How a partner is paid (the values of ``partners.models.PayoutMethod``)."""

    IBAN = "iban"
    US_BANK = "us_bank"
    PAYPAL = "paypal"


class TaxForm(StrEnum):
    """The IRS form a payee gives (the values of ``partners.models.TaxFormKind``)."""

    W9 = "w9"
    W8BEN = "w8ben"
    W8BEN_E = "w8bene"

    @property
    def label(self) -> str:
        return TAX_FORM_LABELS[self]


METHOD_LABELS = {
    Method.IBAN: "Bank transfer (IBAN and BIC)",
    Method.US_BANK: "Bank transfer in the US (account and routing number)",
    Method.PAYPAL: "PayPal",
}
TAX_FORM_LABELS = {
    TaxForm.W9: "W-9 (US payees)",
    TaxForm.W8BEN: "W-8BEN (individuals outside the US)",
    TaxForm.W8BEN_E: "W-8BEN-E (companies outside the US)",
}


class InvalidDetail(ValueError):
    """A payout detail that is not valid; ``field`` names the form field, the message what to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _compact(text: str) -> str:
    return re.sub(r"[\s.\-/]", "", text or "").upper()


# --- Bank details -----------------------------------------------------------------------------


def check_iban(text: str) -> str:
    """The IBAN in its compact form (``DE89370400440532013000``), or ``InvalidDetail``."""
    value = _compact(text)
    if not value:
        raise InvalidDetail("Enter the IBAN of the account the payouts go to.", "iban")
    try:
        return IBAN(value).compact
    except schwifty_errors.InvalidCountryCode:
        raise InvalidDetail(
            f"An IBAN starts with its country's two-letter code (DE, FR, GB...); {value[:2]!r} is none. "
            "Copy the IBAN from a bank statement.",
            "iban",
        ) from None
    except schwifty_errors.InvalidLength:
        raise InvalidDetail(
            f"This IBAN has {len(value)} characters, which is not the length of an IBAN of {value[:2]}: a "
            "character is missing or one too many. Copy it from a bank statement.",
            "iban",
        ) from None
    except (schwifty_errors.InvalidChecksumDigits, schwifty_errors.InvalidBBANChecksum):
        raise InvalidDetail(
            "This IBAN's check digits do not match: a character is mistyped or two are swapped. Copy it from a "
            "bank statement.",
            "iban",
        ) from None
    except schwifty_errors.SchwiftyException:
        raise InvalidDetail(
            "This is not a valid IBAN: it has characters where its country's IBANs have none. Copy it from a "
            "bank statement.",
            "iban",
        ) from None


def bic_of_iban(iban: str) -> str | None:
    """The BIC the IBAN's bank code belongs to, when schwifty's bank registry knows it."""
    try:
        bic = IBAN(iban).bic
    except schwifty_errors.SchwiftyException:
        return None
    return str(bic) if bic else None


def check_bic(text: str, iban: str) -> str:
    """The BIC (8 or 11 characters, upper case) of a bank in the IBAN's country, or ``InvalidDetail``."""
    value = _compact(text)
    if not value:
        known = bic_of_iban(iban)
        if known:
            return known
        raise InvalidDetail("Enter the bank's BIC (SWIFT code): 8 or 11 letters and digits.", "bic")
    try:
        bic = BIC(value)
    except schwifty_errors.InvalidLength:
        raise InvalidDetail(
            f"A BIC (SWIFT code) has 8 or 11 characters; this one has {len(value)}.",
            "bic",
        ) from None
    except schwifty_errors.SchwiftyException:
        raise InvalidDetail(
            "This is not a valid BIC (SWIFT code): 4 letters for the bank, 2 for its country, 2 letters or "
            "digits for the place and, optionally, 3 for the branch.",
            "bic",
        ) from None
    if iban and bic.country_code != iban[:2]:
        raise InvalidDetail(
            f"This BIC is of a bank in {bic.country_code}, but the IBAN is of an account in {iban[:2]}: enter the "
            "BIC of the bank that holds the account.",
            "bic",
        )
    return str(bic)


def check_routing_number(text: str) -> str:
    value = _compact(text)
    if not value:
        raise InvalidDetail("Enter the bank's routing number (ABA): 9 digits.", "routing_number")
    if not _DIGITS.fullmatch(value) or len(value) != 9:
        raise InvalidDetail("A routing number (ABA) has 9 digits and nothing else.", "routing_number")
    try:
        return rtn.validate(value)
    except ValidationError:
        raise InvalidDetail(
            "This routing number's check digit does not match: a digit is mistyped. It is printed at the bottom "
            "left of a cheque.",
            "routing_number",
        ) from None


def check_account_number(text: str) -> str:
    value = _compact(text)
    if not value:
        raise InvalidDetail("Enter the bank account number.", "account_number")
    if not _DIGITS.fullmatch(value) or not 4 <= len(value) <= 17:
        raise InvalidDetail("A US bank account number has 4 to 17 digits and nothing else.", "account_number")
    return value


def check_paypal_email(text: str) -> str:
    value = (text or "").strip()
    if not value:
        raise InvalidDetail("Enter the e-mail address of the PayPal account.", "paypal_email")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidDetail("Enter a valid e-mail address, such as payouts@example.com.", "paypal_email") from None


# --- Tax IDs ----------------------------------------------------------------------------------

# The kinds of number python-stdnum knows per country, tried in this order: a VAT number, then the
# country's taxpayer number (for the US, an EIN, SSN or ITIN).
TAX_ID_KINDS = ("vat", "tin")
_SANE_TAX_ID = re.compile(r"^[A-Z0-9]{4,30}$")


def tax_id_modules(country: str) -> list[Any]:
    modules = []
    for kind in TAX_ID_KINDS:
        module = get_cc_module(country.lower(), kind) if country else None
        if module is not None:
            modules.append(module)
    return modules


def check_tax_id(text: str, country: str, country_name: str | None = None) -> str:
    """The tax ID or VAT number in its compact form, checked as the payee's country writes it."""
    name = country_name or country
    value = (text or "").strip()
    if not value:
        raise InvalidDetail(f"Enter the payee's tax ID or VAT number in {name}.", "tax_id")
    modules = tax_id_modules(country)
    if not modules:
        compact = _compact(value)
        if not _SANE_TAX_ID.match(compact):
            raise InvalidDetail(
                "A tax ID has 4 to 30 letters and digits (spaces, dots, dashes and slashes are fine between them).",
                "tax_id",
            )
        return compact
    reasons = []
    for module in modules:
        try:
            return module.compact(module.validate(value))
        except ValidationError as error:
            reasons.append(error)
    reason = _reason(reasons[0], _compact(value))
    examples = {"US": " (an EIN such as 12-3456789, or an SSN or ITIN such as 123-45-6789)"}.get(country, "")
    raise InvalidDetail(
        f"This is not a valid tax ID or VAT number for {name}{examples}: {reason}. Check it against the payee's "
        "registration.",
        "tax_id",
    )


def _reason(error: ValidationError, compact: str) -> str:
    if isinstance(error, InvalidChecksum):
        return "its check digit does not match, so a digit is mistyped"
    if isinstance(error, InvalidLength):
        return "it has too many or too few digits"
    if isinstance(error, InvalidFormat):
        if _DIGITS.fullmatch(compact):
            return "its digits do not follow the country's format (count them)"
        return "it has characters that do not belong in it"
    if isinstance(error, InvalidComponent):
        return "a part of it (such as a region or date) does not exist"
    return "it does not follow the country's format"


# --- Tax forms --------------------------------------------------------------------------------


def tax_forms_for(country: str) -> list[TaxForm]:
    """The forms a payee of ``country`` may give: W-9 in the US, W-8BEN or W-8BEN-E elsewhere."""
    return [TaxForm.W9] if country == US else [TaxForm.W8BEN, TaxForm.W8BEN_E]


def check_tax_form(kind: str, country: str, signed_on: date | None, today: date) -> TaxForm:
    try:
        form = TaxForm(kind)
    except ValueError:
        raise InvalidDetail("Choose the tax form the payee signed.", "tax_form_kind") from None
    if form not in tax_forms_for(country):
        wanted = " or ".join(f.label.split(" (")[0] for f in tax_forms_for(country))
        raise InvalidDetail(
            f"A payee {'in' if country == US else 'outside'} the US gives the IRS form {wanted}, not "
            f"{form.label.split(' (')[0]}.",
            "tax_form_kind",
        )
    if signed_on is None:
        raise InvalidDetail("Enter the date the form was signed.", "tax_form_signed_on")
    if signed_on > today:
        raise InvalidDetail("The form's signing date cannot be in the future.", "tax_form_signed_on")
    if form != TaxForm.W9 and w8_expires_on(signed_on) < today:
        raise InvalidDetail(
            f"A W-8 form signed on {formatting.date(signed_on)} expired on "
            f"{formatting.date(w8_expires_on(signed_on))}: upload a newly signed one.",
            "tax_form_signed_on",
        )
    return form


def w8_expires_on(signed_on: date) -> date:
    """A W-8BEN(-E) stays in force until the end of the third calendar year after the year it was signed."""
    return date(signed_on.year + 3, 12, 31)


PDF_MAGIC = b"%PDF-"


def is_pdf(head: bytes) -> bool:
    """A PDF file starts with ``%PDF-`` (some writers put a few bytes before it: allowed in the first 1 KB)."""
    return PDF_MAGIC in head[:1024]


# --- Masking ----------------------------------------------------------------------------------


def mask_number(value: str | None, shown: int = 4) -> str:
    """``•••• 1234``: the last digits only (fewer for a short number), never the whole number."""
    if not value:
        return ""
    if len(value) < 8:  # a short number would be half given away by four digits
        shown = 2 if len(value) >= 5 else 1
    return f"{MASK * 4} {value[-shown:]}"


def mask_iban(value: str | None) -> str:
    """``DE•• •••• … 3000``: the country, then the last four characters."""
    if not value:
        return ""
    return f"{value[:2]}{MASK * 2} {MASK * 4} … {value[-4:]}"


# --- Complete or not --------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutFacts:
    """What the completeness rule looks at (``partners.models.PartnerPayoutDetails`` has these attributes)."""

    payee_legal_name: str | None = None
    payee_country: str | None = None
    method: str | None = None
    iban: str | None = None
    bic: str | None = None
    account_number: str | None = None
    routing_number: str | None = None
    paypal_email: str | None = None
    tax_id: str | None = None
    tax_form_kind: str | None = None
    tax_form_signed_on: date | None = None
    tax_form_file: str | None = None


def missing_items(details: Any, today: date) -> list[str]:
    """What a payout still needs, in words (empty when complete); ``details`` may be None (nothing given)."""
    if details is None:
        details = PayoutFacts()
    missing = []
    if not (details.payee_legal_name or "").strip():
        missing.append("the payee's legal name")
    country = details.payee_country or ""
    if not country:
        missing.append("the payee's country")
    method = details.method
    if method == Method.IBAN:
        if not (details.iban and details.bic):
            missing.append("the IBAN and BIC")
    elif method == Method.US_BANK:
        if not (details.account_number and details.routing_number):
            missing.append("the account and routing numbers")
    elif method == Method.PAYPAL:
        if not details.paypal_email:
            missing.append("the PayPal e-mail address")
    else:
        missing.append("the payout method and its details")
    if not details.tax_id:
        missing.append("a tax ID or VAT number")
    kind = details.tax_form_kind
    if not kind or (country and TaxForm(kind) not in tax_forms_for(country)):
        missing.append("the tax form (W-9 for US payees, W-8BEN or W-8BEN-E otherwise)")
    else:
        signed_on = details.tax_form_signed_on
        if signed_on is None:
            missing.append("the tax form's signing date")
        elif kind != TaxForm.W9 and w8_expires_on(signed_on) < today:
            missing.append(f"a new tax form (the one signed on {formatting.date(signed_on)} has expired)")
        if not details.tax_form_file:
            missing.append("the signed tax form as a PDF")
    return missing
