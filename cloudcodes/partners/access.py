"""What each member role of a partner may open in the dashboard: the one place that says it.

A pure rule (no Flask, no database). The dashboard's guard answers 404 for an area the member's role
may not open, as for another partner's records, and the menus show only the areas it may open.
"""

from __future__ import annotations

from enum import StrEnum


class Area(StrEnum):
    CODES = "codes"  # customer domains, their registrations and referral codes
    MONEY = "money"  # purchases, earnings, the ledger and payout statements (and revenue figures)
    MEMBERS = "members"  # the team list, read only: every member sees who is on the team
    TEAM = "team"  # acting on the team: inviting, changing roles, removing members
    COMPANY = "company"  # the company and payout details


# Keyed by the value of ``partners.models.MemberRole`` (a StrEnum, so the member's role looks it up
# as it is); a rule module imports no model.
AREAS_BY_ROLE: dict[str, frozenset[Area]] = {
    "owner": frozenset(Area),
    "sales": frozenset({Area.CODES, Area.MONEY, Area.MEMBERS}),
    "technical": frozenset({Area.CODES, Area.MEMBERS}),
}


def may_open(role: str, area: Area | str) -> bool:
    """Whether a member with ``role`` may open ``area`` (an unknown role or area: never)."""
    try:
        return Area(area) in AREAS_BY_ROLE.get(str(role), frozenset())
    except ValueError:
        return False


def areas_of(role: str) -> frozenset[Area]:
    """Every area a member with ``role`` may open (none for an unknown role)."""
    return AREAS_BY_ROLE.get(str(role), frozenset())


def may_manage_team(role: str) -> bool:
    """Whether a member with ``role`` may invite, change roles and remove members (owners only)."""
    return may_open(role, Area.TEAM)
