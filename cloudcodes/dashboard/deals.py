"""The partner's side of deal registration on ``/dashboard/referrals``: proving a registration (the DNS
record, the customer's confirmation), filing a claim on a domain another partner holds, proving it,
and appealing a decision that went against it. Thin views over ``referrals.proof`` and
``referrals.claims``; every record is looked up with the partner's id (another partner's is a 404).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import or_, select

from cloudcodes import formatting
from cloudcodes.dashboard.referrals import _act, _back_url, _filters, _registration_or_404, _render
from cloudcodes.dashboard.views import blueprint
from cloudcodes.extensions import db
from cloudcodes.partners.access import Area
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.claims import appeal, file_claim
from cloudcodes.referrals.forms import AppealForm, CheckProofForm, FileClaimForm, SendConfirmationForm
from cloudcodes.referrals.models import DomainRegistration, RegistrationClaim
from cloudcodes.referrals.proof import check_dns_proof, send_confirmation
from cloudcodes.web import Done, partner_required, signed_in_user, submit


def _claim_or_404(partner: Partner, claim_id: int, *, filed_only: bool = False) -> RegistrationClaim:
    """A claim this partner filed, or (unless ``filed_only``) one on a domain it holds or held."""
    mine = RegistrationClaim.claimant_id == partner.id
    held = RegistrationClaim.registration_id.in_(
        select(DomainRegistration.id).where(DomainRegistration.partner_id == partner.id)
    )
    claim = db.session.scalar(
        select(RegistrationClaim).where(RegistrationClaim.id == claim_id, mine if filed_only else or_(mine, held))
    )
    if claim is None:
        abort(404)
    return claim


def _row_form(
    partner: Partner, prefix: str, form: FlaskForm, perform: Callable[[], tuple[str, str]]
) -> ResponseReturnValue:
    """A row's form with a field to fill: a refusal is shown on its field, in its row; a success goes
    back to the row (``perform`` gives the message and the row's anchor)."""
    filters = _filters()

    def done() -> Done:
        message, anchor = perform()
        return Done(message, to=_back_url(filters, anchor=anchor))

    return submit(
        form,
        done,
        back=_back_url(filters),
        show=lambda status: _render(partner, filters, status, given={prefix: form}),
        refusal="field",
    )


# --- Proving a registration ---------------------------------------------------------------------


@blueprint.post("/referrals/registrations/<int:registration_id>/check-dns")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_check_dns(partner: Partner, registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(partner, registration_id)
    prefix = f"check-{registration.id}"

    def perform() -> tuple[str, str]:
        return check_dns_proof(registration, by=signed_in_user()).message, f"registration-{registration.id}"

    return _act(partner, prefix, CheckProofForm(prefix=prefix), perform)


@blueprint.post("/referrals/registrations/<int:registration_id>/confirmation")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_send_confirmation(partner: Partner, registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(partner, registration_id)
    prefix = f"confirm-{registration.id}"
    form = SendConfirmationForm(prefix=prefix)

    def perform() -> tuple[str, str]:
        address = send_confirmation(
            registration, form.confirmation_email.data or "", partner_name=partner.name, by=signed_in_user()
        )
        message = f"We e-mailed {address} a link to confirm; {registration.display} is verified once they click it."
        return message, f"registration-{registration.id}"

    return _row_form(partner, prefix, form, perform)


# --- Claims -------------------------------------------------------------------------------------


@blueprint.post("/referrals/claims")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_file_claim(partner: Partner) -> ResponseReturnValue:
    filters = _filters()
    form = FileClaimForm(prefix="claim")

    def perform() -> Done:
        claim = file_claim(partner, form.domain.data or "", form.note.data or "", by=signed_in_user())
        message = (
            f"Your claim on {claim.display} is filed. The other partner's channel sales manager decides by "
            f"{formatting.date(claim.due_on)}; prove that the customer stands behind you meanwhile, below."
        )
        return Done(message, to=_back_url(filters, anchor=f"claim-{claim.id}"))

    return submit(
        form,
        perform,
        back=_back_url(filters),
        show=lambda status: _render(partner, filters, status, claim_form=form),
    )


@blueprint.post("/referrals/claims/<int:claim_id>/check-dns")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_claim_check_dns(partner: Partner, claim_id: int) -> ResponseReturnValue:
    claim = _claim_or_404(partner, claim_id, filed_only=True)
    prefix = f"claim-check-{claim.id}"

    def perform() -> tuple[str, str]:
        return check_dns_proof(claim, by=signed_in_user()).message, f"claim-{claim.id}"

    return _act(partner, prefix, CheckProofForm(prefix=prefix), perform)


@blueprint.post("/referrals/claims/<int:claim_id>/confirmation")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_claim_confirmation(partner: Partner, claim_id: int) -> ResponseReturnValue:
    claim = _claim_or_404(partner, claim_id, filed_only=True)
    prefix = f"claim-confirm-{claim.id}"
    form = SendConfirmationForm(prefix=prefix)

    def perform() -> tuple[str, str]:
        address = send_confirmation(
            claim, form.confirmation_email.data or "", partner_name=partner.name, by=signed_in_user()
        )
        return f"We e-mailed {address} a link to confirm your claim.", f"claim-{claim.id}"

    return _row_form(partner, prefix, form, perform)


@blueprint.post("/referrals/claims/<int:claim_id>/appeal")
@partner_required("dashboard/referrals.html", area=Area.CODES)
def referrals_appeal(partner: Partner, claim_id: int) -> ResponseReturnValue:
    claim = _claim_or_404(partner, claim_id)
    prefix = f"appeal-{claim.id}"
    form = AppealForm(prefix=prefix)

    def perform() -> tuple[str, str]:
        appeal(claim, partner, form.note.data or "", by=signed_in_user())
        message = f"Your appeal on {claim.display} is filed. An admin decides; that decision is final."
        return message, f"claim-{claim.id}"

    return _row_form(partner, prefix, form, perform)
