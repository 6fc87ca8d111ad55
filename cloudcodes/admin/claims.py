"""Claims in the console: the ones waiting (on the home page and ``/admin/claims``), each with both
sides' evidence, the holder's manager's decision and an admin's decision on an appeal."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from cloudcodes import clock
from cloudcodes.admin import blueprint
from cloudcodes.auth.models import Role
from cloudcodes.extensions import db
from cloudcodes.referrals.claims import (
    against_evidence,
    decide,
    decide_appeal,
    may_decide,
    waiting_claims,
)
from cloudcodes.referrals.deal_rules import working_days_left
from cloudcodes.referrals.forms import DecideAppealForm, DecideClaimForm
from cloudcodes.referrals.models import AppealStatus, ClaimStatus, RegistrationClaim
from cloudcodes.web import signed_in_user, submit


def _claim_or_404(claim_id: int) -> RegistrationClaim:
    claim = db.session.get(RegistrationClaim, claim_id)
    if claim is None:
        abort(404)
    return claim


def days_left_text(claim: RegistrationClaim) -> str:
    left = working_days_left(clock.today(), claim.due_on)
    if left > 1:
        return f"{left} working days left"
    if left == 1:
        return "1 working day left"
    if left == 0:
        return "due today"
    return f"overdue by {-left} working day{'s' if left < -1 else ''}"


@blueprint.get("/claims")
def claims() -> ResponseReturnValue:
    return render_template("admin/claims/list.html", claims=waiting_claims(current_user), days_left=days_left_text)


def _render(
    claim: RegistrationClaim,
    status: int = 200,
    *,
    decide_form: DecideClaimForm | None = None,
    appeal_form: DecideAppealForm | None = None,
) -> ResponseReturnValue:
    user = signed_in_user()
    return render_template(
        "admin/claims/detail.html",
        claim=claim,
        days_left=days_left_text(claim),
        may_decide=claim.status == ClaimStatus.PENDING and may_decide(user, claim),
        may_decide_appeal=claim.appeal_status == AppealStatus.PENDING and user.role == Role.ADMIN,
        grant_against=against_evidence(claim, True),
        refuse_against=against_evidence(claim, False),
        decide_form=decide_form or DecideClaimForm(formdata=None, prefix="decide"),
        appeal_form=appeal_form or DecideAppealForm(formdata=None, prefix="appeal"),
    ), status


@blueprint.get("/claims/<int:claim_id>")
def claim_detail(claim_id: int) -> ResponseReturnValue:
    return _render(_claim_or_404(claim_id))


@blueprint.post("/claims/<int:claim_id>/decision")
def claim_decide(claim_id: int) -> ResponseReturnValue:
    claim = _claim_or_404(claim_id)
    form = DecideClaimForm(prefix="decide")

    def perform() -> str:
        grant = form.outcome.data == "grant"
        decide(
            claim, grant=grant, reason=form.reason.data or "", override=bool(form.override.data), by=signed_in_user()
        )
        outcome = "granted: the domain is now the claimant's" if grant else "refused: the holder keeps the domain"
        return f"The claim on {claim.display} is {outcome}. Both partners have been told, with your reason."

    back = url_for("admin.claim_detail", claim_id=claim.id)
    return submit(form, perform, back=back, show=lambda status: _render(claim, status, decide_form=form))


@blueprint.post("/claims/<int:claim_id>/appeal-decision")
def claim_decide_appeal(claim_id: int) -> ResponseReturnValue:
    claim = _claim_or_404(claim_id)
    form = DecideAppealForm(prefix="appeal")

    def perform() -> str:
        uphold = form.outcome.data == "uphold"
        decide_appeal(claim, uphold=uphold, reason=form.reason.data or "", by=signed_in_user())
        outcome = "upheld: the first decision stands" if uphold else "decided the other way: the domain moved"
        return f"The appeal on {claim.display} is {outcome}. This is final; both partners have been told."

    back = url_for("admin.claim_detail", claim_id=claim.id)
    return submit(form, perform, back=back, show=lambda status: _render(claim, status, appeal_form=form))
