"""Partners in the staff console: the list, one partner's page, and its manager's actions on requirements.

Every staff member may look; acting (verifying, recording a plan, a page, a campaign or a training;
suspending and reactivating the partner, through ``cloudcodes.partners.services``) is for the
partner's channel sales manager or an admin (``may_manage``), anyone else gets a 403.
Each action is a thin view: the form, then ``cloudcodes.qualification.requirements`` (which owns the
transaction, the audit event and the upgrade check), then a flash (with the upgrade it triggered,
if any) and a 303 back to the partner. A refusal the service names a field for is shown next to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from cloudcodes import clock, formatting
from cloudcodes.admin import blueprint
from cloudcodes.admin.forms.partners import (
    BusinessPlanForm,
    CampaignForm,
    PartnerFilterForm,
    ProductPageForm,
    ReactivateForm,
    SuspendForm,
    TrainingForm,
    UnverifyForm,
    VerifyForm,
)
from cloudcodes.admin.lifecycle_page import lifecycle_context
from cloudcodes.admin.lists import Column, ListSpec, csv_export, listing
from cloudcodes.admin.partner_payout import payout_panel
from cloudcodes.auth.models import User
from cloudcodes.billing.revenue import net_revenue_by_partner
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.levels import LevelRecord, RequirementFacts, level_on
from cloudcodes.partners.models import Partner, PartnerMembership, PartnerRequirement, RequirementKind
from cloudcodes.partners.services import level_on_column, may_manage, reactivate_partner, suspend_partner
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import LEVEL_NAMES, ProgramTerms
from cloudcodes.qualification.requirements import (
    add_business_plan,
    add_campaign,
    add_product_page,
    mark_sales_training,
    unverify,
    verify,
)
from cloudcodes.qualification.services import ChangeLine, histories, progress
from cloudcodes.search import fold
from cloudcodes.web import Refusal, current_staff, submit

PER_PAGE = 25
REASON_LABELS = {"approval": "Approval", "upgrade": "Mid-year upgrade", "annual": "Annual qualification"}
KIND_ORDER = {kind.value: position for position, kind in enumerate(RequirementKind)}


# --- The list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerRow:
    partner: Partner
    level_now: LevelRecord | None
    upcoming: LevelRecord | None
    revenue: Money


def _partner_rows(partners: list[Partner]) -> list[PartnerRow]:
    """The rows of these partners: their levels and revenue in two queries, whatever their number."""
    today = clock.today()
    ids = [partner.id for partner in partners]
    history = histories(ids) if ids else {}
    revenue = net_revenue_by_partner(date(today.year, 1, 1), today, ids) if ids else {}
    currency = program_terms().currency
    rows = []
    for partner in partners:
        records = history.get(partner.id, [])
        upcoming = min((r for r in records if r.effective_from > today), key=lambda r: r.effective_from, default=None)
        rows.append(
            PartnerRow(partner, level_on(records, today), upcoming, Money(revenue.get(partner.id, 0), currency))
        )
    return rows


def _level_text(row: PartnerRow) -> str:
    text = LEVEL_NAMES.get(row.level_now.level, row.level_now.level) if row.level_now else "Not yet in force"
    if row.upcoming:
        text += f" ({LEVEL_NAMES.get(row.upcoming.level, row.upcoming.level)} from {row.upcoming.effective_from})"
    return text


def _partners_spec() -> ListSpec:
    today = clock.today()
    manager_name = func.coalesce(func.nullif(User.full_name, ""), User.email)
    return ListSpec(
        endpoint="admin.partners",
        csv_endpoint="admin.partners_csv",
        noun="partner",
        form=PartnerFilterForm,
        query=lambda: select(Partner).options(joinedload(Partner.channel_manager)),
        columns=[
            Column("name", "Partner", lambda row: row.partner.name, Partner.name),
            Column("status", "Status", lambda row: str(row.partner.status).capitalize(), Partner.status),
            Column("level", "Level now", _level_text, func.coalesce(level_on_column(today), "")),
            Column(
                "manager",
                "Channel sales manager",
                lambda row: row.partner.channel_manager.display_name if row.partner.channel_manager else "",
                func.coalesce(select(manager_name).where(User.id == Partner.channel_manager_id).scalar_subquery(), ""),
            ),
            Column("revenue", f"Revenue {today.year}", lambda row: row.revenue, numeric=True),
        ],
        filters={
            "level": lambda level: level_on_column(today) == level if level else None,
            "status": lambda status: Partner.status == status if status else None,
            "mine": lambda mine: Partner.channel_manager_id == current_user.id if mine else None,
        },
        search=lambda text: Partner.search_text.contains(fold(text), autoescape=True),
        tiebreak=[Partner.id],
        default_sort=lambda values: ("name", False),
        prepare=_partner_rows,
        per_page=PER_PAGE,
        filename="partners",
        submit_label="Show partners",
    )


@blueprint.get("/partners")
def partners() -> ResponseReturnValue:
    listed = listing(_partners_spec())
    return render_template("admin/partners/list.html", listing=listed, level_names=LEVEL_NAMES, year=clock.today().year)


@blueprint.get("/partners.csv")
def partners_csv() -> ResponseReturnValue:
    return csv_export(_partners_spec())


# --- One partner ------------------------------------------------------------------------------


def _partner_or_404(partner_id: int) -> Partner:
    partner = db.session.scalar(
        select(Partner)
        .where(Partner.id == partner_id)
        .options(
            joinedload(Partner.channel_manager),
            selectinload(Partner.memberships).joinedload(PartnerMembership.user),
            selectinload(Partner.levels),
            selectinload(Partner.requirements).joinedload(PartnerRequirement.verified_by),
        )
    )
    if partner is None:
        abort(404)
    return partner


@dataclass(frozen=True)
class Check:
    label: str
    met: bool
    detail: str = ""


def _checklist(facts: RequirementFacts, terms: ProgramTerms) -> list[Check]:
    """Each Premier requirement, met or not, in the order of the program's terms."""
    needed = terms.premier_revenue_commitment
    staff = terms.premier_trained_sales_staff
    return [
        Check("Google Workspace reseller status verified", facts.workspace_reseller),
        Check("Sales team", facts.sales_team),
        Check("Technical team", facts.technical_team),
        Check(
            "Net revenue this year",
            facts.revenue.minor >= needed.minor,
            f"{formatting.money(facts.revenue)} of {formatting.money(needed)}",
        ),
        Check("Trained sales staff", facts.trained_sales_staff >= staff, f"{facts.trained_sales_staff} of {staff}"),
        Check("Joint business plan for the year, approved", facts.joint_business_plan),
        Check("Web-site page with the CloudCodes product, verified", facts.website_product_page),
        Check("Joint marketing campaign this year, approved", facts.joint_marketing_campaign),
    ]


def _render_detail(
    partner: Partner, status: int = 200, *, key: tuple[str, int | None] | None = None, form: FlaskForm | None = None
) -> ResponseReturnValue:
    """The partner's page; ``form`` (under ``key``) is a submitted form shown again with its errors."""

    def pick(wanted: tuple[str, int | None], blank: FlaskForm) -> FlaskForm:
        return form if form is not None and key == wanted else blank

    today = clock.today()
    terms = program_terms()
    facts, waiting, unmet = progress(partner, today)
    records = [LevelRecord(r.level, r.effective_from, r.protected_until) for r in partner.levels]
    now = level_on(records, today)
    requirements = sorted(
        partner.requirements, key=lambda r: (KIND_ORDER.get(r.kind, 99), -(r.year or 0), r.created_at, r.id)
    )
    plan_form = pick(("plan", None), BusinessPlanForm(prefix="plan", formdata=None))
    plan_form.use_currency(terms.currency)  # type: ignore[attr-defined]
    return render_template(
        "admin/partners/detail.html",
        partner=partner,
        today=today,
        terms=terms,
        facts=facts,
        waiting=waiting,
        unmet=unmet,
        checklist=_checklist(facts, terms),
        level_now=now,
        requirements=requirements,
        can_manage=may_manage(current_staff(), partner),
        level_names=LEVEL_NAMES,
        reason_labels=REASON_LABELS,
        verify_forms={
            r.id: pick(("verify", r.id), VerifyForm(prefix=f"verify-{r.id}", formdata=None)) for r in requirements
        },
        unverify_forms={
            r.id: pick(("unverify", r.id), UnverifyForm(prefix=f"unverify-{r.id}", formdata=None)) for r in requirements
        },
        training_forms={
            m.id: pick(
                ("training", m.id),
                TrainingForm(prefix=f"training-{m.id}", formdata=None, completed_on=m.sales_training_completed_on),
            )
            for m in partner.memberships
        },
        plan_form=plan_form,
        page_form=pick(("page", None), ProductPageForm(prefix="page", formdata=None)),
        campaign_form=pick(("campaign", None), CampaignForm(prefix="campaign", formdata=None)),
        suspend_form=pick(("suspend", None), SuspendForm(prefix="suspend", formdata=None)),
        reactivate_form=pick(("reactivate", None), ReactivateForm(prefix="reactivate", formdata=None)),
        **lifecycle_context(partner, key, form),
        payout=payout_panel(partner),
    ), status


@blueprint.get("/partners/<int:partner_id>")
def partner_detail(partner_id: int) -> ResponseReturnValue:
    return _render_detail(_partner_or_404(partner_id))


# --- The actions ------------------------------------------------------------------------------


def _managed_partner_or_404(partner_id: int) -> Partner:
    """The partner, for someone who may act on it: 404 if there is none, 403 if it is not theirs."""
    partner = _partner_or_404(partner_id)
    if not may_manage(current_staff(), partner):
        abort(403)
    return partner


def _changes(message: str, lines: list[ChangeLine]) -> list[str]:
    """The action's message, then one for each level change it triggered."""
    return [message, *(f"Level change: {line.describe()}. The partner's notice is queued." for line in lines)]


def _requirement_of(partner: Partner, requirement_id: int) -> PartnerRequirement:
    for requirement in partner.requirements:
        if requirement.id == requirement_id:
            return requirement
    abort(404)


def _membership_of(partner: Partner, membership_id: int) -> PartnerMembership:
    for membership in partner.memberships:
        if membership.id == membership_id:
            return membership
    abort(404)


def _act(
    partner: Partner,
    key: tuple[str, int | None],
    form: FlaskForm,
    perform: Callable[[], list[str]],
    refusal: Refusal = "form",
) -> ResponseReturnValue:
    """One manager action: the form, then the service (``perform`` gives the messages), then back to the partner.

    A refusal is shown on the form (400) by default; ``"flash"`` is for actions that only fail when
    someone acted first (the requirement is already verified), so the page shows where things stand.
    """
    partner_id = partner.id
    return submit(
        form,
        perform,
        back=url_for("admin.partner_detail", partner_id=partner_id),
        show=lambda status: _render_detail(_partner_or_404(partner_id), status, key=key, form=form),
        refusal=refusal,
    )


@blueprint.post("/partners/<int:partner_id>/requirements/<int:requirement_id>/verify")
def partner_requirement_verify(partner_id: int, requirement_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    requirement = _requirement_of(partner, requirement_id)
    label = requirement.label

    def perform() -> list[str]:
        return _changes(f"{label} is verified.", verify(requirement, by=current_staff()))

    form = VerifyForm(prefix=f"verify-{requirement_id}")
    return _act(partner, ("verify", requirement_id), form, perform, refusal="flash")


@blueprint.post("/partners/<int:partner_id>/requirements/<int:requirement_id>/unverify")
def partner_requirement_unverify(partner_id: int, requirement_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    requirement = _requirement_of(partner, requirement_id)
    label = requirement.label
    form = UnverifyForm(prefix=f"unverify-{requirement_id}")

    def perform() -> list[str]:
        unverify(requirement, form.reason.data or "", by=current_staff())
        return [f"{label} is no longer verified. The reason is kept with it."]

    # Without a field, the refusal means it is not verified any more: someone acted first.
    return _act(partner, ("unverify", requirement_id), form, perform, refusal="field")


@blueprint.post("/partners/<int:partner_id>/business-plans")
def partner_business_plan(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = BusinessPlanForm(prefix="plan")
    form.use_currency(program_terms().currency)

    def perform() -> list[str]:
        commitment = form.commitment_money()
        lines = add_business_plan(
            partner, year=form.year.data, commitment=commitment, summary=form.summary.data or "", by=current_staff()
        )
        money = formatting.money(commitment)
        return _changes(f"The joint business plan for {form.year.data} ({money}) is recorded as approved.", lines)

    return _act(partner, ("plan", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/product-pages")
def partner_product_page(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = ProductPageForm(prefix="page")

    def perform() -> list[str]:
        lines = add_product_page(partner, url=form.url.data or "", by=current_staff())
        return _changes(f"The product page {form.url.data.strip()} is recorded as verified today.", lines)

    return _act(partner, ("page", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/campaigns")
def partner_campaign(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    form = CampaignForm(prefix="campaign")

    def perform() -> list[str]:
        lines = add_campaign(
            partner,
            name=form.name.data or "",
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
            by=current_staff(),
        )
        return _changes(f"The campaign “{form.name.data.strip()}” is recorded as approved.", lines)

    return _act(partner, ("campaign", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/members/<int:membership_id>/training")
def partner_member_training(partner_id: int, membership_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    membership = _membership_of(partner, membership_id)
    form = TrainingForm(prefix=f"training-{membership_id}")

    def perform() -> list[str]:
        who = membership.user.display_name
        completed_on = form.completed_on.data
        lines = mark_sales_training(membership, completed_on, by=current_staff())
        if completed_on:
            return _changes(f"{who} completed the sales training on {formatting.date(completed_on)}.", lines)
        return _changes(f"{who}'s sales training date is cleared.", lines)

    return _act(partner, ("training", membership_id), form, perform)


@blueprint.post("/partners/<int:partner_id>/suspend")
def partner_suspend(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    name = partner.name
    form = SuspendForm(prefix="suspend")

    def perform() -> list[str]:
        suspend_partner(partner, form.reason.data or "", by=current_staff())
        return [f"{name} is suspended: its codes and registrations do not earn commission until you reactivate it."]

    return _act(partner, ("suspend", None), form, perform)


@blueprint.post("/partners/<int:partner_id>/reactivate")
def partner_reactivate(partner_id: int) -> ResponseReturnValue:
    partner = _managed_partner_or_404(partner_id)
    name = partner.name
    form = ReactivateForm(prefix="reactivate")

    def perform() -> list[str]:
        reactivate_partner(partner, by=current_staff())
        return [f"{name} is active again: its codes and registrations earn commission again."]

    return _act(partner, ("reactivate", None), form, perform, refusal="flash")
