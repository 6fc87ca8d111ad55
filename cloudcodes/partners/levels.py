"""The level rules of the program as plain functions over dates and facts. No Flask, no database.

- A partner's level on a date is the level record in force on that date.
- Mid-year upgrade: a Reseller that meets every Premier requirement on day D is Premier from the
  first day of the month after D, protected through 31 December of the year after that.
- Annual qualification for year Y: Premier when a protection still covers Y, or when every
  Premier requirement was met in Y-1; otherwise Reseller. Records take effect on 1 January Y.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from cloudcodes import formatting
from cloudcodes.money import Money
from cloudcodes.program.terms import PREMIER, RESELLER, Level, ProgramTerms


def upgrade_effective_date(met_on: date) -> date:
    """The first day of the month after ``met_on``."""
    if met_on.month == 12:
        return date(met_on.year + 1, 1, 1)
    return date(met_on.year, met_on.month + 1, 1)


def months_late(year: int, today: date) -> int:
    """How many months after 1 January ``year`` an annual qualification run on ``today`` is.

    0 in January of ``year`` (a run on time, or a few days after its date); from February on, the
    records it writes take effect that many months back.
    """
    return max(0, (today.year - year) * 12 + today.month - 1)


def protected_until(effective: date) -> date:
    """31 December of the year after the effective date's year."""
    return date(effective.year + 1, 12, 31)


@dataclass(frozen=True, slots=True)
class LevelRecord:
    level: Level
    effective_from: date
    protected_until: date | None = None


def level_on(history: Sequence[LevelRecord], day: date) -> LevelRecord | None:
    """The record in force on ``day``: the latest to take effect on or before it."""
    in_force = [record for record in history if record.effective_from <= day]
    return max(in_force, key=lambda record: record.effective_from, default=None)


def protection_covering(history: Sequence[LevelRecord], year: int) -> date | None:
    """The latest Premier protection that still covers (part of) ``year``, if any."""
    start = date(year, 1, 1)
    dates = [
        record.protected_until
        for record in history
        if record.level == PREMIER and record.protected_until is not None and record.effective_from <= start
        and record.protected_until >= start
    ]  # fmt: skip
    return max(dates, default=None)


@dataclass(frozen=True, slots=True)
class RequirementFacts:
    """What a partner had shown for a period (a calendar year, or the year to date)."""

    workspace_reseller: bool
    sales_team: bool
    technical_team: bool
    trained_sales_staff: int
    joint_business_plan: bool
    website_product_page: bool
    joint_marketing_campaign: bool
    revenue: Money


@dataclass(frozen=True, slots=True)
class UnmetRequirement:
    kind: str  # the requirement's kind (cloudcodes.partners.models.RequirementKind's value)
    text: str  # what is missing, in words


def unmet_premier_items(facts: RequirementFacts, terms: ProgramTerms) -> list[UnmetRequirement]:
    """The Premier requirements not met, each with its kind; empty when the partner qualifies."""
    unmet = []
    if not facts.workspace_reseller:
        unmet.append(UnmetRequirement("workspace_reseller", "Google Workspace reseller status verified"))
    if not facts.sales_team:
        unmet.append(UnmetRequirement("sales_team", "a sales team"))
    if not facts.technical_team:
        unmet.append(UnmetRequirement("technical_team", "a technical team"))
    if facts.revenue.minor < terms.premier_revenue_commitment.minor:
        short = terms.premier_revenue_commitment - facts.revenue
        commitment = formatting.money(terms.premier_revenue_commitment)
        unmet.append(UnmetRequirement("revenue", f"{formatting.money(short)} more net revenue (of {commitment})"))
    if facts.trained_sales_staff < terms.premier_trained_sales_staff:
        more = terms.premier_trained_sales_staff - facts.trained_sales_staff
        unmet.append(UnmetRequirement("trained_sales_staff", f"{more} more trained sales staff"))
    if not facts.joint_business_plan:
        unmet.append(UnmetRequirement("joint_business_plan", "an approved joint business plan for the year"))
    if not facts.website_product_page:
        unmet.append(UnmetRequirement("website_product_page", "a verified web-site page with the CloudCodes product"))
    if not facts.joint_marketing_campaign:
        unmet.append(UnmetRequirement("joint_marketing_campaign", "an approved joint marketing campaign this year"))
    return unmet


def unmet_premier_requirements(facts: RequirementFacts, terms: ProgramTerms) -> list[str]:
    """The Premier requirements not met, in words; empty when the partner qualifies."""
    return [item.text for item in unmet_premier_items(facts, terms)]


def split_declared(unmet: Sequence[UnmetRequirement], declared: Collection[str]) -> tuple[list[str], list[str]]:
    """The unmet requirements the partner has declared (waiting for its manager to verify them), and the rest.

    A declared requirement is not met until it is verified, but it is not missing either: the partner
    has done its part (an application's sales and technical teams, its Workspace reseller id).
    """
    waiting = [item.text for item in unmet if item.kind in declared]
    missing = [item.text for item in unmet if item.kind not in declared]
    return waiting, missing


# What a partner can do next about each Premier requirement, and the dashboard area that helps
# ("team", "referrals") or None when it is a conversation with the channel sales manager.
NEXT_STEPS: dict[str, tuple[str, str | None]] = {
    "workspace_reseller": ("Send your Google Workspace reseller id to your channel sales manager to verify.", None),
    "sales_team": ("Invite your sales staff to the team, with the Sales role.", "team"),
    "technical_team": ("Invite your technical staff to the team, with the Technical role.", "team"),
    "revenue": ("Register your customers' domains and give them referral codes: their purchases count.", "referrals"),
    "trained_sales_staff": ("Ask your channel sales manager to book the sales training for your sales staff.", "team"),
    "joint_business_plan": ("Agree this year's joint business plan with your channel sales manager.", None),
    "website_product_page": (
        "Publish a CloudCodes product page on your web site and send its address to your channel sales manager.",
        None,
    ),
    "joint_marketing_campaign": ("Plan a joint marketing campaign with your channel sales manager.", None),
}


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    kind: str
    text: str  # what is missing, in words
    waiting: bool  # declared by the partner, waiting for the manager to verify it
    next_step: str
    area: str | None  # the dashboard area that helps, if any


def premier_checklist(unmet: Sequence[UnmetRequirement], declared: Collection[str]) -> list[ChecklistItem]:
    """Each unmet Premier requirement with what to do next; a declared one only waits for verification."""
    items = []
    for item in unmet:
        waiting = item.kind in declared
        step, area = NEXT_STEPS.get(item.kind, ("Ask your channel sales manager what is needed.", None))
        if waiting:
            step, area = "Declared: your channel sales manager verifies it.", None
        items.append(ChecklistItem(item.kind, item.text, waiting, step, area))
    return items


def meets_premier(facts: RequirementFacts, terms: ProgramTerms) -> bool:
    return not unmet_premier_requirements(facts, terms)


def meets_premier_but_revenue(facts: RequirementFacts, terms: ProgramTerms) -> bool:
    """Every Premier requirement other than the revenue is met (whatever ``facts.revenue`` says)."""
    return all(item.kind == "revenue" for item in unmet_premier_items(facts, terms))


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A new level record to write (and announce)."""

    level: Level
    effective_from: date
    protected_until: date | None
    reason: str  # "upgrade" or "annual"


def mid_year_upgrade(
    as_of: date, history: Sequence[LevelRecord], facts_year_to_date: RequirementFacts, terms: ProgramTerms
) -> LevelChange | None:
    """The upgrade a Reseller earns by meeting every Premier requirement on ``as_of``, if it does."""
    current = level_on(history, as_of)
    if current is None or current.level == PREMIER:
        return None
    if any(record.effective_from > as_of and record.level == PREMIER for record in history):
        return None  # already scheduled
    if not meets_premier(facts_year_to_date, terms):
        return None
    effective = upgrade_effective_date(as_of)
    return LevelChange(PREMIER, effective, protected_until(effective), "upgrade")


def annual_level(
    year: int, history: Sequence[LevelRecord], facts_previous_year: RequirementFacts, terms: ProgramTerms
) -> LevelChange:
    """The level for ``year`` by the annual qualification (whether or not it changes anything)."""
    start = date(year, 1, 1)
    protection = protection_covering(history, year)
    if protection is not None:
        return LevelChange(PREMIER, start, protection, "annual")
    if meets_premier(facts_previous_year, terms):
        return LevelChange(PREMIER, start, None, "annual")
    return LevelChange(RESELLER, start, None, "annual")


def annual_change(
    year: int, history: Sequence[LevelRecord], facts_previous_year: RequirementFacts, terms: ProgramTerms
) -> LevelChange | None:
    """The record the annual qualification writes, or None when the level in force on 1 January stays."""
    current = level_on(history, date(year, 1, 1))
    if current is None:
        return None  # not a partner yet on 1 January: its first year runs from its approval
    decision = annual_level(year, history, facts_previous_year, terms)
    return None if current.level == decision.level else decision
