"""Staff see every domain registration, release one, or move it to another partner (with a reason)."""

from __future__ import annotations

import contextlib

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from cloudcodes import clock
from cloudcodes.admin import blueprint
from cloudcodes.admin.forms.domains import DomainFilterForm, ReassignForm, ReleaseForm
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner, PartnerStatus
from cloudcodes.referrals.domains import DomainError, normalise_domain
from cloudcodes.referrals.models import DomainRegistration
from cloudcodes.referrals.services import reassign, registration_filter, release
from cloudcodes.search import fold
from cloudcodes.web import Done, current_staff, submit

PER_PAGE = 25


def _search_terms(text: str) -> list[str]:
    """What was typed, and its normalised form, so "Bücher.de" finds xn--bcher-kva.de."""
    terms = [text]
    with contextlib.suppress(DomainError):
        terms.append(normalise_domain(text))
    return terms


@blueprint.get("/domains")
def domains() -> ResponseReturnValue:
    form = DomainFilterForm(formdata=request.args)
    if not form.validate():
        form.status.data = "active"
    query = (
        select(DomainRegistration)
        .join(Partner, DomainRegistration.partner_id == Partner.id)
        .options(joinedload(DomainRegistration.partner), selectinload(DomainRegistration.codes))
        .order_by(DomainRegistration.registered_at.desc(), DomainRegistration.id.desc())
    )
    condition = registration_filter(form.status.data or "active", clock.now())
    if condition is not None:
        query = query.where(condition)
    text = (form.q.data or "").strip()
    if text:
        query = query.where(
            or_(
                *(DomainRegistration.domain.contains(term.lower(), autoescape=True) for term in _search_terms(text)),
                Partner.search_text.contains(fold(text), autoescape=True),
            )
        )
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/domains/list.html", form=form, page=page, filtered=bool(text) or form.status.data != "active"
    )


def _registration_or_404(registration_id: int) -> DomainRegistration:
    registration = db.session.get(DomainRegistration, registration_id)
    if registration is None:
        abort(404)
    return registration


def _partner_choices(exclude: int) -> list[SelectChoice]:
    partners = db.session.scalars(
        select(Partner).where(Partner.status == PartnerStatus.ACTIVE, Partner.id != exclude).order_by(Partner.name)
    )
    return [SelectChoice("", "Choose a partner")] + [SelectChoice(str(p.id), p.name) for p in partners]


def _render_detail(registration: DomainRegistration, status: int = 200, **forms: object) -> ResponseReturnValue:
    release_form = forms.get("release_form") or ReleaseForm(prefix="release")
    reassign_form = forms.get("reassign_form") or ReassignForm(prefix="reassign")
    reassign_form.partner.choices = _partner_choices(registration.partner_id)  # type: ignore[attr-defined]
    return render_template(
        "admin/domains/detail.html",
        registration=registration,
        release_form=release_form,
        reassign_form=reassign_form,
    ), status


@blueprint.get("/domains/<int:registration_id>")
def domain_detail(registration_id: int) -> ResponseReturnValue:
    return _render_detail(_registration_or_404(registration_id))


@blueprint.post("/domains/<int:registration_id>/release")
def domain_release(registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(registration_id)
    form = ReleaseForm(prefix="release")

    def perform() -> str:
        release(registration, by=current_staff(), reason=f"Released by staff: {form.reason.data.strip()}")
        return f"{registration.display} is released; any partner may register it now."

    return submit(
        form,
        perform,
        back=url_for("admin.domain_detail", registration_id=registration.id),
        show=lambda status: _render_detail(_registration_or_404(registration_id), status, release_form=form),
        refusal="flash",
    )


@blueprint.post("/domains/<int:registration_id>/reassign")
def domain_reassign(registration_id: int) -> ResponseReturnValue:
    registration = _registration_or_404(registration_id)
    form = ReassignForm(prefix="reassign")
    form.partner.choices = _partner_choices(registration.partner_id)

    def perform() -> Done:
        target = db.session.get(Partner, int(form.partner.data)) if form.partner.data.isdigit() else None
        moved = reassign(registration, target, reason=form.reason.data or "", by=current_staff())
        return Done(
            f"{moved.display} now belongs to {moved.partner.name}.",
            to=url_for("admin.domain_detail", registration_id=moved.id),
        )

    return submit(
        form,
        perform,
        back=url_for("admin.domain_detail", registration_id=registration.id),
        show=lambda status: _render_detail(_registration_or_404(registration_id), status, reassign_form=form),
        refusal="field",
    )
