"""Staff see every domain registration, release one, or move it to another partner (with a reason)."""

from __future__ import annotations

import contextlib
from datetime import datetime

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from cloudcodes import clock
from cloudcodes.admin import blueprint
from cloudcodes.admin.forms.domains import DomainFilterForm, ReassignForm, ReleaseForm
from cloudcodes.admin.lists import Column, ListSpec, csv_export, listing
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


def _status_text(registration: DomainRegistration, now: datetime) -> str:
    """The status cell as it reads on the page (``admin/domains/_status.html``)."""
    if registration.is_active and (registration.converted_at or registration.expires_at > now):
        return "Active, converted" if registration.converted_at else "Active"
    if registration.is_active:
        return "Past its lifetime"
    return str(registration.status).capitalize()


def _domains_spec() -> ListSpec:
    now = clock.now()
    return ListSpec(
        endpoint="admin.domains",
        csv_endpoint="admin.domains_csv",
        noun="registration",
        form=DomainFilterForm,
        query=lambda: (
            select(DomainRegistration)
            .join(Partner, DomainRegistration.partner_id == Partner.id)
            .options(joinedload(DomainRegistration.partner), selectinload(DomainRegistration.codes))
        ),
        columns=[
            Column("domain", "Domain", lambda r: r.display, DomainRegistration.domain),
            Column("partner", "Partner", lambda r: r.partner.name, Partner.name),
            Column("status", "Status", lambda r: _status_text(r, now), DomainRegistration.status),
            Column(
                "proof",
                "Proof",
                lambda r: f"Verified ({r.verification.label})" if r.verified else "Claimed",
                DomainRegistration.verified_at,
            ),
            Column("registered", "Registered", lambda r: r.registered_at, DomainRegistration.registered_at),
            Column(
                "ends",
                "Ends",
                lambda r: "Never (converted)" if r.converted_at else r.expires_at,
                DomainRegistration.expires_at,
            ),
            Column("codes", "Codes", lambda r: len(r.codes), numeric=True),
        ],
        filters={"status": lambda status: registration_filter(status or "active", now)},
        search=lambda text: or_(
            *(DomainRegistration.domain.contains(term.lower(), autoescape=True) for term in _search_terms(text)),
            Partner.search_text.contains(fold(text), autoescape=True),
        ),
        tiebreak=[DomainRegistration.id],
        default_sort=lambda values: ("registered", True),
        per_page=PER_PAGE,
        filename="domains",
        submit_label="Show domains",
    )


@blueprint.get("/domains")
def domains() -> ResponseReturnValue:
    listed = listing(_domains_spec())
    return render_template("admin/domains/list.html", listing=listed)


@blueprint.get("/domains.csv")
def domains_csv() -> ResponseReturnValue:
    return csv_export(_domains_spec())


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
