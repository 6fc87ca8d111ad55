"""The partner's customer domains and referral codes: ``/dashboard/referrals``.

Thin views: the form, then the service in ``cloudcodes.referrals.services`` (which owns the
transaction and the rules), then a flash and a 303 back to the list with its filters. Every record
a partner acts on is looked up together with the partner's id, so another partner's registration
or code is simply not found (404): its existence is never confirmed, not even by a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import idna
from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, Select, case, exists, func, or_, select
from sqlalchemy.orm import selectinload

from cloudcodes import clock, formatting
from cloudcodes.dashboard.views import blueprint
from cloudcodes.extensions import db
from cloudcodes.partners.access import Area
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.claims import claims_of, may_appeal
from cloudcodes.referrals.codes import CodeError, parse_code, search_fragment
from cloudcodes.referrals.deal_rules import may_renew, renewable_from
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.referrals.forms import (
    ACTIVE,
    ALL,
    ENDED,
    AppealForm,
    CheckProofForm,
    FileClaimForm,
    GenerateCodeForm,
    RegisterDomainForm,
    RegistrationFilterForm,
    ReleaseRegistrationForm,
    RenewRegistrationForm,
    RevokeCodeForm,
    SendConfirmationForm,
)
from cloudcodes.referrals.models import ClaimStatus, DomainRegistration, ReferralCode
from cloudcodes.referrals.services import (
    TAKEN,
    is_live,
    issue_code,
    register_domain,
    registration_filter,
    release,
    renew,
    revoke_code,
)
from cloudcodes.urls import external_url
from cloudcodes.web import Done, field_errors, partner_required, signed_in_user, submit

PER_PAGE = 20
ENDING_SOON_DAYS = 14  # from here on a registration is shown as "ends in N days", a nudge to renew


def redeem_url(code: str | None = None, domain: str | None = None) -> str:
    """The customer's checkout page, with the code and the domain filled in when given."""
    return external_url("checkout.start", code=code, domain=domain)


def _registration_or_404(partner: Partner, registration_id: int) -> DomainRegistration:
    registration = db.session.scalar(
        select(DomainRegistration).where(
            DomainRegistration.id == registration_id, DomainRegistration.partner_id == partner.id
        )
    )
    if registration is None:
        abort(404)
    return registration


def _code_or_404(partner: Partner, code_id: int) -> ReferralCode:
    code = db.session.scalar(
        select(ReferralCode)
        .join(ReferralCode.registration)
        .where(
            ReferralCode.id == code_id,
            ReferralCode.partner_id == partner.id,
            DomainRegistration.partner_id == partner.id,
        )
    )
    if code is None:
        abort(404)
    return code


# --- The list's filters -----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    form: RegistrationFilterForm
    q: str
    state: str
    page: int

    @property
    def filtered(self) -> bool:
        return bool(self.q) or self.state != ALL

    def link_args(self, *, with_page: bool = True) -> dict[str, Any]:
        """The query string that brings the list back as it was (defaults left out)."""
        args: dict[str, Any] = {}
        if self.q:
            args["q"] = self.q
        if self.state != ALL:
            args["state"] = self.state
        if with_page and self.page > 1:
            args["page"] = self.page
        return args


def _filters() -> Filters:
    """The filters from the query string; a value that is not one of the options counts as not given."""
    form = RegistrationFilterForm(formdata=request.args)
    form.validate()
    for name in form.errors:
        form[name].data = form[name].default
    page = request.args.get("page", 1, type=int) or 1
    return Filters(form=form, q=(form.q.data or "").strip(), state=form.state.data or ALL, page=max(page, 1))


def _search(term: str) -> ColumnElement[bool]:
    """A domain or a code containing ``term``, however the partner typed it.

    Domains are stored in ASCII, so a Unicode domain (``bücher.de``, or a URL with one) is also
    tried in its normalised form, and a Unicode fragment in its punycode form. Codes are compared
    without their dashes, with Crockford's look-alikes read as digits, as the checkout reads them.
    """
    domains = {term.lower()}
    with suppress(DomainError):
        domains.add(normalise_domain(term))
    if not term.isascii():
        with suppress(idna.IDNAError, UnicodeError):
            domains.add(idna.encode(term, uts46=True).decode("ascii"))
    conditions = [DomainRegistration.domain.icontains(domain, autoescape=True) for domain in domains]
    compact = {search_fragment(term)}
    with suppress(CodeError):
        compact.add(parse_code(term).replace("-", ""))
    stored_compact = func.replace(ReferralCode.code, "-", "")
    code_conditions = [stored_compact.icontains(value, autoescape=True) for value in compact if value]
    if code_conditions:
        conditions.append(DomainRegistration.codes.any(or_(*code_conditions)))
    return or_(*conditions)


def _list_query(partner: Partner, filters: Filters, now: datetime) -> Select[tuple[DomainRegistration]]:
    live = cast(ColumnElement[bool], registration_filter(ACTIVE, now))
    query = (
        select(DomainRegistration)
        .where(DomainRegistration.partner_id == partner.id)
        # The codes of the whole page in one more statement, however many there are.
        .options(selectinload(DomainRegistration.codes))
        # Live registrations first (those are the ones to act on), then newest first.
        .order_by(case((live, 0), else_=1), DomainRegistration.registered_at.desc(), DomainRegistration.id.desc())
    )
    if filters.state in (ACTIVE, ENDED):
        query = query.where(cast(ColumnElement[bool], registration_filter(filters.state, now)))
    if filters.q:
        query = query.where(_search(filters.q))
    return query


# --- What the page shows ----------------------------------------------------------------------


@dataclass
class CodeRow:
    code: ReferralCode
    state: str  # active, revoked or expired
    validity: str = ""
    message: str = ""
    revoke_form: FlaskForm | None = None

    @property
    def state_label(self) -> str:
        return self.state.capitalize()


@dataclass
class RegistrationRow:
    registration: DomainRegistration
    state: str  # active, ending, converted, released, expired, reassigned
    state_label: str
    live: bool
    days_left: int | None
    codes: list[CodeRow] = field(default_factory=list)
    renew_form: FlaskForm | None = None
    renewable_from: datetime | None = None  # when renewing opens, while it is not open yet
    release_form: FlaskForm | None = None
    generate_form: FlaskForm | None = None
    check_form: FlaskForm | None = None  # look for the TXT record now
    confirmation_form: FlaskForm | None = None  # mail the customer a confirmation link


def _registration_state(registration: DomainRegistration, now: datetime) -> tuple[str, str, int | None]:
    if not is_live(registration, now):
        if registration.is_active:
            # Past its lifetime but not yet swept by `domains expire`: ended all the same.
            return "expired", "Expired", None
        return registration.status.value, registration.status.label, None
    if registration.converted_at is not None:
        return "converted", "Converted", None
    days_left = (registration.expires_at.date() - now.date()).days
    if days_left <= ENDING_SOON_DAYS:
        if days_left <= 0:
            return "ending", "Ends today", days_left
        return "ending", f"Ends in {formatting.plural(days_left, 'day')}", days_left
    return "active", "Active", days_left


def customer_message(partner: Partner, registration: DomainRegistration, code: ReferralCode) -> str:
    """A text the partner can send as it stands: the code, the domain and where to enter them."""
    domain = display_domain(registration.domain)
    if registration.converted_at is not None:
        validity = "The code has no end date."
    else:
        validity = f"The code is valid until {formatting.date(registration.expires_at)}."
    return (
        "Hello,\n\n"
        f"Here is your CloudCodes referral code for {domain}:\n\n"
        f"    {code.code}\n\n"
        f"When you buy CloudCodes, enter it with your domain ({domain}) on the checkout page:\n"
        f"{redeem_url(code.code, registration.domain)}\n\n"
        f"{validity} It works only for {domain}.\n\n"
        f"Best regards,\n{partner.name}"
    )


def _rows(
    partner: Partner, registrations: list[DomainRegistration], now: datetime, given: dict[str, FlaskForm]
) -> list[RegistrationRow]:
    """Each registration with its state, its codes and the forms it offers; ``given`` re-shows a refused form."""

    def form(kind: type[FlaskForm], prefix: str) -> FlaskForm:
        return given.get(prefix) or kind(prefix=prefix, formdata=None)

    rows = []
    for registration in registrations:
        state, label, days_left = _registration_state(registration, now)
        live = state in ("active", "ending", "converted")
        row = RegistrationRow(registration, state, label, live, days_left)
        if live:
            if registration.converted_at is None:  # a converted domain no longer runs out: nothing to renew
                if may_renew(registration.expires_at, now):
                    row.renew_form = form(RenewRegistrationForm, f"renew-{registration.id}")
                else:
                    row.renewable_from = renewable_from(registration.expires_at)
            if not registration.verified:
                row.check_form = form(CheckProofForm, f"check-{registration.id}")
                row.confirmation_form = form(SendConfirmationForm, f"confirm-{registration.id}")
            row.release_form = form(ReleaseRegistrationForm, f"release-{registration.id}")
            row.generate_form = form(GenerateCodeForm, f"generate-{registration.id}")
        for code in registration.codes:
            code_row = CodeRow(code, code.state)
            if code_row.state == "active":
                if registration.converted_at is not None:
                    code_row.validity = "Valid while your registration is active; a converted domain does not run out."
                else:
                    code_row.validity = (
                        f"Valid while your registration is active, until {formatting.date(registration.expires_at)}; "
                        "renew before then."
                    )
                code_row.message = customer_message(partner, registration, code)
                code_row.revoke_form = form(RevokeCodeForm, f"revoke-{code.id}")
            row.codes.append(code_row)
        rows.append(row)
    return rows


def claim_forms(partner: Partner, claims: Any, given: dict[str, FlaskForm]) -> dict[str, FlaskForm]:
    """The forms each claim offers this partner: its proofs while it waits, an appeal once it is lost."""
    forms: dict[str, FlaskForm] = {}
    for claim in claims.filed:
        if claim.status == ClaimStatus.PENDING and not claim.verified:
            for kind, prefix in (
                (CheckProofForm, f"claim-check-{claim.id}"),
                (SendConfirmationForm, f"claim-confirm-{claim.id}"),
            ):
                forms[prefix] = given.get(prefix) or kind(prefix=prefix, formdata=None)
    for claim in [*claims.filed, *claims.against]:
        if may_appeal(claim, partner.id):
            prefix = f"appeal-{claim.id}"
            forms[prefix] = given.get(prefix) or AppealForm(prefix=prefix, formdata=None)
    return forms


def _render(
    partner: Partner,
    filters: Filters,
    status: int = 200,
    *,
    register_form: RegisterDomainForm | None = None,
    given: dict[str, FlaskForm] | None = None,
    claim_form: FileClaimForm | None = None,
) -> ResponseReturnValue:
    now = clock.now()
    query = _list_query(partner, filters, now)
    page: Pagination = db.paginate(query, page=filters.page, per_page=PER_PAGE, error_out=False)
    if not page.items and page.page > 1 and page.total:
        # Past the last page (the list shrank, or a hand-made link): show the last one instead.
        page = db.paginate(query, page=page.pages, per_page=PER_PAGE, error_out=False)
    has_any = bool(page.items) or bool(
        db.session.scalar(select(exists().where(DomainRegistration.partner_id == partner.id)))
    )
    given = given or {}
    # A refused confirmation is named at the top too, with a link to its box further down the list.
    error_summary = field_errors(given.values(), ("confirm",))
    register_form = register_form or RegisterDomainForm(formdata=None)
    if claim_form is None:
        claim_form = FileClaimForm(formdata=None, prefix="claim")
        if TAKEN in register_form.domain.errors:
            # The domain is another partner's: the claim form opens with it filled in.
            claim_form.domain.data = register_form.domain.data
    claim_rows = claims_of(partner.id)
    return render_template(
        "dashboard/referrals.html",
        partner=partner,
        page=page,
        rows=_rows(partner, list(page.items), now, given),
        has_any=has_any,
        filters=filters,
        filter_form=filters.form,
        link_args=filters.link_args(),
        list_args=filters.link_args(with_page=False),
        register_form=register_form,
        claim_form=claim_form,
        claim_open=bool(claim_form.domain.data) or bool(claim_form.errors),
        claims=claim_rows,
        claim_forms=claim_forms(partner, claim_rows, given),
        error_summary=error_summary,
        lifetime_days=program_terms().registration_lifetime_days,
        ending_soon_days=ENDING_SOON_DAYS,
    ), status


def _back_url(filters: Filters, *, anchor: str | None = None, with_page: bool = True) -> str:
    return url_for("dashboard.referrals", **filters.link_args(with_page=with_page), _anchor=anchor)


# --- The pages --------------------------------------------------------------------------------


@blueprint.get("/referrals")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals(partner: Partner) -> ResponseReturnValue:
    return _render(partner, _filters())


@blueprint.post("/referrals/registrations")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_register(partner: Partner) -> ResponseReturnValue:
    filters = _filters()
    form = RegisterDomainForm()

    def perform() -> Done:
        registration = register_domain(partner, form.domain.data or "", by=signed_in_user())
        message = (
            f"{registration.display} is registered to you until {formatting.date(registration.expires_at)}. "
            "Generate a referral code for it below."
        )
        # A new registration comes first in the list: back to its first page.
        return Done(message, to=_back_url(filters, anchor=f"registration-{registration.id}", with_page=False))

    return submit(
        form,
        perform,
        back=_back_url(filters),
        show=lambda status: _render(partner, filters, status, register_form=form),
    )


def _act(partner: Partner, prefix: str, form: FlaskForm, perform: Callable[[], tuple[str, str]]) -> ResponseReturnValue:
    """Validate, perform (gives the success message and the row to come back to), and answer alike.

    A refusal here means the registration or code changed under the partner (ended, already
    revoked): it is flashed on the list, which shows where things stand.
    """
    filters = _filters()

    def done() -> Done:
        message, anchor = perform()
        return Done(message, to=_back_url(filters, anchor=anchor))

    return submit(
        form,
        done,
        back=_back_url(filters),
        show=lambda status: _render(partner, filters, status, given={prefix: form}),
        refusal="flash",
    )


@blueprint.post("/referrals/registrations/<int:registration_id>/renew")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_renew(partner: Partner, registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(partner, registration_id)
    prefix = f"renew-{registration.id}"

    def perform() -> tuple[str, str]:
        renew(registration, by=signed_in_user())
        message = f"{registration.display} is renewed: it now runs until {formatting.date(registration.expires_at)}."
        return message, f"registration-{registration.id}"

    return _act(partner, prefix, RenewRegistrationForm(prefix=prefix), perform)


@blueprint.post("/referrals/registrations/<int:registration_id>/release")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_release(partner: Partner, registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(partner, registration_id)
    prefix = f"release-{registration.id}"

    def perform() -> tuple[str, str]:
        release(registration, by=signed_in_user())
        message = (
            f"{registration.display} is released: its referral codes no longer work, "
            "and any partner may register the domain now."
        )
        return message, f"registration-{registration.id}"

    return _act(partner, prefix, ReleaseRegistrationForm(prefix=prefix), perform)


@blueprint.post("/referrals/registrations/<int:registration_id>/codes")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_generate_code(partner: Partner, registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(partner, registration_id)
    prefix = f"generate-{registration.id}"

    def perform() -> tuple[str, str]:
        code = issue_code(registration, by=signed_in_user())
        message = (
            f"New referral code {code.code} for {registration.display}. "
            "Copy it, or send your customer the ready message below it."
        )
        return message, f"code-{code.id}"

    return _act(partner, prefix, GenerateCodeForm(prefix=prefix), perform)


@blueprint.post("/referrals/codes/<int:code_id>/revoke")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_revoke_code(partner: Partner, code_id: int) -> ResponseReturnValue:
    code = _code_or_404(partner, code_id)
    prefix = f"revoke-{code.id}"

    def perform() -> tuple[str, str]:
        revoke_code(code, by=signed_in_user())
        return f"Code {code.code} is revoked: it no longer works. It stays listed here.", f"code-{code.id}"

    return _act(partner, prefix, RevokeCodeForm(prefix=prefix), perform)


from cloudcodes.dashboard import deals  # noqa: E402, F401 - proofs and claims, on the same page
