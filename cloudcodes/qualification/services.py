"""Running the level rules against the database: the annual qualification, mid-year upgrades, notices.

Facts are read for all partners at once (a handful of grouped queries, whatever the number of
partners); the decisions come from the pure rules in ``levels.py``; a change is a new level record
(never an edit) and an e-mail in the name of the partner's channel sales manager.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.billing.revenue import net_revenue_by_partner
from cloudcodes.billing.services import purchase_recorded
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import queue_email
from cloudcodes.money import Money
from cloudcodes.notices.models import Notice
from cloudcodes.notices.rules import NoticeKind
from cloudcodes.notices.services import NoticeFor, raise_notices
from cloudcodes.partners.levels import (
    ChecklistItem,
    LevelChange,
    LevelRecord,
    RequirementFacts,
    annual_change,
    level_on,
    meets_premier_but_revenue,
    mid_year_upgrade,
    months_late,
    premier_checklist,
    split_declared,
    unmet_premier_items,
)
from cloudcodes.partners.models import (
    Partner,
    PartnerLevel,
    PartnerMembership,
    PartnerRequirement,
    PartnerStatus,
    RequirementKind,
)
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import LEVEL_NAMES, PREMIER, Level
from cloudcodes.services import ServiceError, transactional
from cloudcodes.urls import external_url

EARLIEST_YEAR = 2000
MAX_DAYS_BACK = 62


class QualificationError(ServiceError):
    """A year or date the rules cannot be run for; the message says why."""


# --- Facts ---------------------------------------------------------------------------------------


def facts_by_partner(
    partner_ids: list[int], start: date, end: date, *, revenue_only_if_rest_met: bool = False
) -> dict[int, RequirementFacts]:
    """What each partner had shown for the period from ``start`` to ``end``: four grouped queries in all.

    With ``revenue_only_if_rest_met`` the revenue, the costly fact, is summed only for the partners
    that meet every other Premier requirement (the others keep a revenue of zero): enough to tell who
    qualifies, not what each earned.
    """
    currency = program_terms().currency
    ids = partner_ids if len(partner_ids) <= 1000 else None  # for all partners, skip a huge IN list
    verified_by = start_of_day(end + timedelta(days=1))
    verified: dict[int, set[str]] = defaultdict(set)
    requirement_query = select(PartnerRequirement.partner_id, PartnerRequirement.kind, PartnerRequirement.year).where(
        PartnerRequirement.verified_at.is_not(None), PartnerRequirement.verified_at < verified_by
    )
    if ids is not None:
        requirement_query = requirement_query.where(PartnerRequirement.partner_id.in_(ids))
    for partner_id, kind, year in db.session.execute(requirement_query):
        # Yearly requirements count for their own year only; the others once verified.
        if year is None or year == end.year:
            verified[partner_id].add(kind)
    # Trained sales staff: the partner's active members (enabled, invitation accepted) whose training
    # is dated within the year being judged, up to the period's end; an earlier year's does not count.
    training_query = (
        select(PartnerMembership.partner_id, func.count())
        .join(User, User.id == PartnerMembership.user_id)
        .where(
            PartnerMembership.sales_training_completed_on >= date(end.year, 1, 1),
            PartnerMembership.sales_training_completed_on <= end,
            User.active.is_(True),
            User.password_hash.is_not(None),
        )
        .group_by(PartnerMembership.partner_id)
    )
    if ids is not None:
        training_query = training_query.where(PartnerMembership.partner_id.in_(ids))
    trained: dict[int, int] = dict(db.session.execute(training_query).all())
    facts = {
        partner_id: RequirementFacts(
            workspace_reseller=RequirementKind.WORKSPACE_RESELLER in verified[partner_id],
            sales_team=RequirementKind.SALES_TEAM in verified[partner_id],
            technical_team=RequirementKind.TECHNICAL_TEAM in verified[partner_id],
            trained_sales_staff=int(trained.get(partner_id, 0)),
            joint_business_plan=RequirementKind.JOINT_BUSINESS_PLAN in verified[partner_id],
            website_product_page=RequirementKind.WEBSITE_PRODUCT_PAGE in verified[partner_id],
            joint_marketing_campaign=RequirementKind.JOINT_MARKETING_CAMPAIGN in verified[partner_id],
            revenue=Money(0, currency),
        )
        for partner_id in partner_ids
    }
    summed = partner_ids
    if revenue_only_if_rest_met:
        terms = program_terms()
        summed = [partner_id for partner_id in partner_ids if meets_premier_but_revenue(facts[partner_id], terms)]
        ids = summed if len(summed) <= 1000 else None
    if summed:
        revenue = net_revenue_by_partner(start, end, ids)
        for partner_id in summed:
            facts[partner_id] = replace(facts[partner_id], revenue=Money(revenue.get(partner_id, 0), currency))
    return facts


def histories(partner_ids: list[int] | None = None) -> dict[int, list[LevelRecord]]:
    query = select(
        PartnerLevel.partner_id, PartnerLevel.level, PartnerLevel.effective_from, PartnerLevel.protected_until
    )
    if partner_ids is not None:
        query = query.where(PartnerLevel.partner_id.in_(partner_ids))
    result: dict[int, list[LevelRecord]] = defaultdict(list)
    for partner_id, level, effective_from, protected in db.session.execute(query):
        result[partner_id].append(LevelRecord(level, effective_from, protected))
    return result


def _declared_kinds(partner: Partner, as_of: date) -> set[str]:
    """The Premier requirements the partner declared for ``as_of``'s year and its manager has not verified yet."""
    kinds = db.session.scalars(
        select(PartnerRequirement.kind).where(
            PartnerRequirement.partner_id == partner.id,
            PartnerRequirement.verified_at.is_(None),
            or_(PartnerRequirement.year.is_(None), PartnerRequirement.year == as_of.year),
        )
    ).all()
    return {str(kind) for kind in kinds}


def progress(partner: Partner, as_of: date | None = None) -> tuple[RequirementFacts, list[str], list[str]]:
    """This year's facts so far, the Premier requirements declared but not yet verified, and those missing."""
    as_of = as_of or clock.today()
    facts = facts_by_partner([partner.id], date(as_of.year, 1, 1), as_of)[partner.id]
    declared = _declared_kinds(partner, as_of)
    waiting, missing = split_declared(unmet_premier_items(facts, program_terms()), declared)
    return facts, waiting, missing


def checklist(partner: Partner, as_of: date | None = None) -> tuple[RequirementFacts, list[ChecklistItem]]:
    """This year's facts so far and each Premier requirement still unmet, with what to do next."""
    as_of = as_of or clock.today()
    facts = facts_by_partner([partner.id], date(as_of.year, 1, 1), as_of)[partner.id]
    declared = _declared_kinds(partner, as_of)
    items = premier_checklist(unmet_premier_items(facts, program_terms()), declared)
    return facts, items


# --- Changes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeLine:
    partner_id: int
    partner_name: str
    previous: Level | None
    change: LevelChange

    def describe(self) -> str:
        until = self.change.protected_until
        protected = f", protected until {formatting.date(until)}" if until else ""
        was = LEVEL_NAMES.get(self.previous or "", "no level")
        return (
            f"{self.partner_name} (#{self.partner_id}): {was} -> {LEVEL_NAMES[self.change.level]} "
            f"from {formatting.date(self.change.effective_from)}{protected}"
        )


def _partners(ids: list[int] | None = None) -> dict[int, Partner]:
    query = select(Partner).where(Partner.status == PartnerStatus.ACTIVE)
    if ids is not None:
        query = query.where(Partner.id.in_(ids))
    return {partner.id: partner for partner in db.session.scalars(query)}


def _apply(partner: Partner, line: ChangeLine, by: User | None) -> None:
    change = line.change
    db.session.add(
        PartnerLevel(
            partner_id=partner.id,
            level=change.level,
            effective_from=change.effective_from,
            protected_until=change.protected_until,
            reason=change.reason,
            created_by_id=by.id if by else None,
        )
    )
    _queue_notice(partner, line)
    record(
        f"level.{change.reason}",
        actor=by,
        target=partner,
        details={
            "level": change.level,
            "previous": line.previous,
            "effective_from": change.effective_from.isoformat(),
            "protected_until": change.protected_until.isoformat() if change.protected_until else None,
        },
    )


def _queue_notice(partner: Partner, line: ChangeLine) -> None:
    """The level change as a notice to each of the partner's users; its mail is the manager's letter."""
    terms = program_terms()
    manager = partner.channel_manager if partner.channel_manager and partner.channel_manager.active else None
    upgrade = line.change.level == PREMIER
    margin = terms.margin_pct(line.change.level)

    def letter(notice: Notice, user: User) -> None:
        queue_email(
            to=user.email,
            to_name=user.full_name,
            template="level_changed",
            from_name=(manager.full_name or manager.email) if manager else "CloudCodes Partner Program",
            reply_to=manager.email if manager else terms.contact_email,
            context={
                "partner": partner,
                "owner": user,
                "manager": manager,
                "upgrade": upgrade,
                "level_name": LEVEL_NAMES[line.change.level],
                "previous_name": LEVEL_NAMES.get(line.previous or "", ""),
                "margin": margin,
                "effective_from": line.change.effective_from,
                "protected_until": line.change.protected_until,
                "contact_email": terms.contact_email,
                "dashboard_url": external_url("dashboard.index"),
            },
        )

    facts = {
        "level": line.change.level.value,
        "level_name": LEVEL_NAMES[line.change.level],
        "previous_name": LEVEL_NAMES.get(line.previous or "", ""),
        "effective_from": line.change.effective_from.isoformat(),
        "margin_text": formatting.percent(margin),
    }
    raise_notices(NoticeKind.LEVEL_CHANGE, [NoticeFor(partner.id, facts)], letter=letter)


def _write_changes(lines: list[ChangeLine], partners: dict[int, Partner], by: User | None) -> list[ChangeLine]:
    try:
        with db.session.begin_nested():
            for line in lines:
                _apply(partners[line.partner_id], line, by)
    except IntegrityError:
        # Another run wrote the same records a moment ago: nothing to add.
        return []
    return lines


@dataclass(frozen=True)
class LateRun:
    """An annual qualification run after January of the year whose levels it sets."""

    year: int
    today: date
    months: int

    @property
    def effective_from(self) -> date:
        return date(self.year, 1, 1)

    @property
    def headline(self) -> str:
        return (
            f"This run is late: {formatting.plural(self.months, 'month')} after {formatting.date(self.effective_from)}"
        )

    def explain(self) -> str:
        """What a late run means, for the person about to start it (the console and the command say it)."""
        start = formatting.date(self.effective_from)
        return (
            f"Today is {formatting.date(self.today)}, and the levels it sets take effect on "
            f"{start}, {formatting.plural(self.months, 'month')} back (a partner's later level record, such as a "
            "mid-year upgrade, still applies from its own date). "
            "Commissions already recorded stay exactly as they are: each was fixed with the level in force "
            "when its purchase was recorded, and a run never changes one. Purchases recorded from now on use "
            f"the new levels, including any purchase dated {start} or later that the billing system reports "
            f"only now. Each partner whose level changes is e-mailed that the change took effect on {start}."
        )


def late_annual_run(year: int) -> LateRun | None:
    """The lateness of an annual run for ``year`` today, or None when it runs in January of that year."""
    today = clock.today()
    months = months_late(year, today)
    return LateRun(year, today, months) if months else None


@transactional
def run_annual_qualification(year: int, *, dry_run: bool = False, by: User | None = None) -> list[ChangeLine]:
    today = clock.today()
    if year < EARLIEST_YEAR:
        raise QualificationError(f"{year} is not a year the program can be qualified for.")
    if today < date(year, 1, 1):
        raise QualificationError(f"The qualification for {year} runs on or after 1 January {year}.")
    partners = _partners()
    ids = sorted(partners)
    facts = facts_by_partner(ids, date(year - 1, 1, 1), date(year - 1, 12, 31))
    history = histories(None if len(ids) > 1000 else ids)
    terms = program_terms()
    lines = []
    for partner_id in ids:
        change = annual_change(year, history.get(partner_id, []), facts[partner_id], terms)
        if change is not None:
            previous = level_on(history.get(partner_id, []), date(year, 1, 1))
            lines.append(ChangeLine(partner_id, partners[partner_id].name, previous and previous.level, change))
    return lines if dry_run else _write_changes(lines, partners, by)


@transactional
def run_upgrades(
    as_of: date, *, dry_run: bool = False, by: User | None = None, partner_ids: list[int] | None = None
) -> list[ChangeLine]:
    if as_of > clock.today():
        raise QualificationError(
            f"{formatting.date(as_of)} is in the future: upgrades are checked on a day that has come."
        )
    if as_of < clock.today() - timedelta(days=MAX_DAYS_BACK):
        # Further back, the requirements (verified as they stand today) would not tell that day's story.
        raise QualificationError(f"{formatting.date(as_of)} is more than {MAX_DAYS_BACK} days ago: check a recent day.")
    partners = _partners(partner_ids)
    ids = sorted(partners)
    history = histories(ids if len(ids) <= 1000 else None)
    candidates = [pid for pid in ids if (current := level_on(history.get(pid, []), as_of)) and current.level != PREMIER]
    # Revenue is summed only where it can decide: a purchase, say, completes nothing else.
    facts = (
        facts_by_partner(candidates, date(as_of.year, 1, 1), as_of, revenue_only_if_rest_met=True) if candidates else {}
    )
    terms = program_terms()
    lines = []
    for partner_id in candidates:
        change = mid_year_upgrade(as_of, history.get(partner_id, []), facts[partner_id], terms)
        if change is not None:
            previous = level_on(history[partner_id], as_of)
            lines.append(ChangeLine(partner_id, partners[partner_id].name, previous and previous.level, change))
    return lines if dry_run else _write_changes(lines, partners, by)


def booked_upgrades(as_of: date) -> list[ChangeLine]:
    """Upgrades already written that take effect after ``as_of`` (such as on the 1st of next month).

    A run as of ``as_of`` leaves these partners as they are (they are booked), so its preview lists them
    beside the changes it would add.
    """
    rows = db.session.execute(
        select(PartnerLevel, Partner.name)
        .join(Partner, PartnerLevel.partner_id == Partner.id)
        .where(
            Partner.status == PartnerStatus.ACTIVE,
            PartnerLevel.level == PREMIER,
            PartnerLevel.effective_from > as_of,
        )
        .order_by(PartnerLevel.effective_from, Partner.name, Partner.id)
    ).all()
    if not rows:
        return []
    history = histories(sorted({level.partner_id for level, _ in rows}))
    lines = []
    for level_record, name in rows:
        previous = level_on(history[level_record.partner_id], level_record.effective_from - timedelta(days=1))
        if previous is None or previous.level == PREMIER:
            continue  # a first level or a Premier renewed: not an upgrade
        change = LevelChange(
            level_record.level, level_record.effective_from, level_record.protected_until, level_record.reason
        )
        lines.append(ChangeLine(level_record.partner_id, name, previous.level, change))
    return lines


def check_upgrade(partner_id: int | None, *, by: User | None = None) -> list[ChangeLine]:
    """Run the upgrade check for one partner now, after something that could have made it eligible."""
    if partner_id is None:
        return []
    return run_upgrades(clock.today(), partner_ids=[partner_id], by=by)


@purchase_recorded.connect
def _upgrade_after_purchase(sender: object, *, partner_id: int, level: Level | None, on: date) -> None:
    if level == PREMIER and on == clock.today():
        return  # Premier today: there is nothing to upgrade to
    # The revenue may have completed the Premier requirements: upgrade now, not at the next batch.
    check_upgrade(partner_id)
