"""The partner's company and payout details: ``/dashboard/company`` (owners only).

Thin views: the form, then the service in ``cloudcodes.partners.company`` (which owns the
transaction and the rules), then a flash and a 303 back to the page. The page shows the stored bank
numbers and tax ID masked only, and never puts them back in a field: re-entering one replaces it,
a blank field keeps it. The signed tax form (a PDF under the instance folder) is downloaded here
by the partner's owners, and in the console by admins.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import DateField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from cloudcodes.applications.forms import countries, country_names, web_address
from cloudcodes.dashboard.views import blueprint
from cloudcodes.errors import error_response
from cloudcodes.forms import PortalForm
from cloudcodes.partners import payout_rules as rules
from cloudcodes.partners.access import Area
from cloudcodes.partners.company import (
    TAX_FORM_MAX_BYTES,
    PayoutInput,
    masked,
    missing_payout_items,
    payout_details_of,
    save_payout_details,
    store_tax_form,
    tax_form_path,
    update_company,
)
from cloudcodes.partners.models import Partner, PartnerPayoutDetails
from cloudcodes.program.services import program_terms
from cloudcodes.web import Done, partner_required, signed_in_user, submit

UPLOAD_ENDPOINT = "dashboard.company_tax_form_upload"
# What a request to the upload may carry beyond the file itself (the other fields, the multipart framing).
UPLOAD_SLACK = 64 * 1024
TOO_LARGE = (
    f"The file is larger than {TAX_FORM_MAX_BYTES // 1024 // 1024} MB, the most a tax form may be, so nothing was "
    "saved. Scan it at a lower resolution or in black and white, and upload it again."
)


@cache
def payee_countries() -> list[tuple[str, str]]:
    """(ISO code, English name) of every country the apply form offers, as CLDR (through Babel) names them."""
    names = set(country_names())
    by_name = {name: code for code, name in Locale("en").territories.items() if name in names}
    return [(by_name[name], name) for name in country_names() if name in by_name]


def country_name(code: str) -> str:
    return dict(payee_countries()).get(code, code)


def _payee_country_choices() -> list[SelectChoice]:
    return [SelectChoice("", "Choose the payee's country")] + [SelectChoice(c, n) for c, n in payee_countries()]


class CompanyForm(PortalForm):
    name = StringField("Company name", validators=[DataRequired("Enter your company's name."), Length(2, 200)])
    website = StringField(
        "Company web site",
        validators=[DataRequired("Enter your company's web site."), Length(max=300), web_address],
        description="For example https://www.example.com",
    )
    country = SelectField("Country", choices=countries, validators=[DataRequired("Choose your country.")])
    phone = StringField(
        "Phone number",
        validators=[Optional(), Length(6, 40, "Enter 6 to 40 characters, with the country code.")],
        description="With the country code, for example +44 20 7946 0000.",
    )


METHOD_CHOICES = [SelectChoice("", "Choose how you are paid")] + [
    SelectChoice(str(method), label) for method, label in rules.METHOD_LABELS.items()
]


class PayoutForm(PortalForm):
    payee_legal_name = StringField(
        "Payee's legal name",
        validators=[DataRequired("Enter the payee's legal name."), Length(max=200)],
        description="The name the bank account (or PayPal account) and the tax registration are in.",
    )
    payee_country = SelectField(
        "Payee's country", choices=_payee_country_choices, validators=[DataRequired("Choose the payee's country.")]
    )
    method = SelectField("Payout method", choices=METHOD_CHOICES, validators=[DataRequired("Choose how you are paid.")])
    iban = StringField("IBAN", validators=[Length(max=50)], description="For a bank transfer by IBAN.")
    bic = StringField(
        "BIC (SWIFT code)",
        validators=[Length(max=20)],
        description="8 or 11 characters. Left empty, it is looked up from the IBAN when the bank is known.",
    )
    account_number = StringField("Account number (US)", validators=[Length(max=30)])
    routing_number = StringField("Routing number (ABA, US)", validators=[Length(max=20)], description="9 digits.")
    paypal_email = EmailField("PayPal e-mail address", validators=[Length(max=254)])
    tax_id = StringField(
        "Tax ID or VAT number",
        validators=[Length(max=40)],
        description="The payee's VAT number, or its taxpayer number (for the US: an EIN, or an SSN or ITIN).",
    )


TAX_FORM_CHOICES = [SelectChoice("", "Choose the form")] + [
    SelectChoice(str(form), form.label) for form in rules.TaxForm
]


class TaxFormForm(PortalForm):
    kind = SelectField("Tax form", choices=TAX_FORM_CHOICES, validators=[DataRequired("Choose the tax form.")])
    signed_on = DateField("Signed on", validators=[InputRequired("Enter the date the form was signed.")])
    tax_form_file = FileField(
        "The signed form (PDF)",
        description=f"A PDF of at most {TAX_FORM_MAX_BYTES // 1024 // 1024} MB.",
    )


def _company_form(partner: Partner) -> CompanyForm:
    return CompanyForm(
        prefix="company",
        formdata=None,
        data={"name": partner.name, "website": partner.website, "country": partner.country, "phone": partner.phone},
    )


def _payout_form(details: PartnerPayoutDetails | None) -> PayoutForm:
    """The form filled with what may be shown: never the stored numbers, which stay masked beside it."""
    data: dict[str, Any] = {}
    if details is not None:
        data = {
            "payee_legal_name": details.payee_legal_name,
            "payee_country": details.payee_country,
            "method": str(details.method or ""),
            "bic": details.bic or "",
            "routing_number": details.routing_number or "",
            "paypal_email": details.paypal_email or "",
        }
    return PayoutForm(prefix="payout", formdata=None, data=data)


def _tax_form_form(details: PartnerPayoutDetails | None) -> TaxFormForm:
    data: dict[str, Any] = {}
    if details is not None and details.tax_form_kind:
        data = {"kind": str(details.tax_form_kind), "signed_on": details.tax_form_signed_on}
    elif details is not None and details.payee_country:
        data = {"kind": str(rules.tax_forms_for(details.payee_country)[0])}
    return TaxFormForm(prefix="taxform", formdata=None, data=data)


def _render(
    partner: Partner,
    status: int = 200,
    *,
    company_form: CompanyForm | None = None,
    payout_form: PayoutForm | None = None,
    tax_form_form: TaxFormForm | None = None,
) -> ResponseReturnValue:
    details = payout_details_of(partner)
    return render_template(
        "dashboard/company.html",
        partner=partner,
        manager=partner.channel_manager,
        contact_email=program_terms().contact_email,
        details=details,
        shown=masked(details),
        method_labels=rules.METHOD_LABELS,
        country_name=country_name,
        missing=missing_payout_items(partner),
        has_tax_form=details is not None and tax_form_path(details) is not None,
        company_form=company_form or _company_form(partner),
        payout_form=payout_form or _payout_form(details),
        tax_form_form=tax_form_form or _tax_form_form(details),
        max_megabytes=TAX_FORM_MAX_BYTES // 1024 // 1024,
    ), status


@blueprint.get("/company")
@partner_required(area=Area.COMPANY)
def company(partner: Partner) -> ResponseReturnValue:
    return _render(partner)


@blueprint.post("/company/details")
@partner_required(area=Area.COMPANY)
def company_details(partner: Partner) -> ResponseReturnValue:
    form = CompanyForm(prefix="company")

    def perform() -> Done:
        changed = update_company(
            partner,
            by=signed_in_user(),
            name=form.name.data or "",
            website=form.website.data or "",
            country=form.country.data or "",
            phone=form.phone.data or "",
        )
        if not changed:
            return Done("Nothing changed: the company details were already these.", category="info")
        return Done("The company details are saved. Your channel sales manager sees the change.")

    return submit(
        form, perform, back=url_for("dashboard.company"), show=lambda s: _render(partner, s, company_form=form)
    )


@blueprint.post("/company/payout")
@partner_required(area=Area.COMPANY)
def company_payout(partner: Partner) -> ResponseReturnValue:
    form = PayoutForm(prefix="payout")

    def perform() -> str:
        country = form.payee_country.data or ""
        save_payout_details(
            partner,
            PayoutInput(
                payee_legal_name=form.payee_legal_name.data or "",
                payee_country=country,
                method=form.method.data or "",
                iban=form.iban.data or "",
                bic=form.bic.data or "",
                account_number=form.account_number.data or "",
                routing_number=form.routing_number.data or "",
                paypal_email=form.paypal_email.data or "",
                tax_id=form.tax_id.data or "",
                country_name=country_name(country),
            ),
            by=signed_in_user(),
        )
        missing = missing_payout_items(partner)
        if missing:
            return f"The payout details are saved. Still needed before a payout: {'; '.join(missing)}."
        return "The payout details are saved and complete: your statements can be paid."

    return submit(
        form, perform, back=url_for("dashboard.company"), show=lambda s: _render(partner, s, payout_form=form)
    )


@blueprint.url_value_preprocessor
def _allow_tax_form_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The upload may be larger than the site's usual limit (checked before any form is read)."""
    if endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = TAX_FORM_MAX_BYTES + UPLOAD_SLACK


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    if request.endpoint == UPLOAD_ENDPOINT:
        flash(TOO_LARGE, "danger")
        return redirect(url_for("dashboard.company") + "#tax-form-heading", 303)
    return error_response(413, error.name, error.description)


@blueprint.post("/company/tax-form")
@partner_required(area=Area.COMPANY)
def company_tax_form_upload(partner: Partner) -> ResponseReturnValue:
    form = TaxFormForm(prefix="taxform")

    def perform() -> str:
        upload = form.tax_form_file.data
        content = upload.read(TAX_FORM_MAX_BYTES + 1) if upload else None
        details = store_tax_form(
            partner,
            kind=form.kind.data or "",
            signed_on=form.signed_on.data,
            content=content,
            by=signed_in_user(),
        )
        return f"The signed {details.tax_form_kind.label.split(' (')[0]} is uploaded."  # type: ignore[union-attr]

    return submit(
        form, perform, back=url_for("dashboard.company"), show=lambda s: _render(partner, s, tax_form_form=form)
    )


def tax_form_download(details: PartnerPayoutDetails | None) -> ResponseReturnValue:
    """The stored PDF as an attachment (404 when there is none); for the views that checked who asks."""
    path = tax_form_path(details) if details is not None else None
    if details is None or path is None:
        abort(404)
    kind = str(details.tax_form_kind or "tax-form")
    signed = details.tax_form_signed_on.isoformat() if details.tax_form_signed_on else "undated"
    # Read whole (at most 5 MB): no file is left open behind the response.
    response = Response(path.read_bytes(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{kind}-{signed}.pdf"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blueprint.get("/company/tax-form")
@partner_required(area=Area.COMPANY, viewed_by_admins_only=True)  # owners and admins only: not a viewing manager
def company_tax_form(partner: Partner) -> ResponseReturnValue:
    return tax_form_download(payout_details_of(partner))
