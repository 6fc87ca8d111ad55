from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudcodes.money import Money
from cloudcodes.partners.levels import (
    LevelRecord,
    RequirementFacts,
    annual_change,
    annual_level,
    level_on,
    meets_premier,
    meets_premier_but_revenue,
    mid_year_upgrade,
    protected_until,
    split_declared,
    unmet_premier_items,
    unmet_premier_requirements,
    upgrade_effective_date,
)
from cloudcodes.program.terms import DEFAULT_TERMS as TERMS


def facts(revenue=2_500_000, **changes):
    values = {
        "workspace_reseller": True,
        "sales_team": True,
        "technical_team": True,
        "trained_sales_staff": 1,
        "joint_business_plan": True,
        "website_product_page": True,
        "joint_marketing_campaign": True,
        "revenue": Money(revenue, "USD"),
    }
    return RequirementFacts(**{**values, **changes})


RESELLER_HISTORY = [LevelRecord("reseller", date(2020, 3, 1))]


@pytest.mark.parametrize(
    ("met", "effective", "protected"),
    [
        (date(2026, 11, 26), date(2026, 12, 1), date(2027, 12, 31)),  # the SPEC's first example
        (date(2026, 12, 15), date(2027, 1, 1), date(2028, 12, 31)),  # the SPEC's second example
        (date(2024, 2, 29), date(2024, 3, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 2, 1), date(2027, 12, 31)),
        (date(2026, 12, 31), date(2027, 1, 1), date(2028, 12, 31)),
    ],
)
def test_the_spec_examples_and_edges(met, effective, protected):
    change = mid_year_upgrade(met, RESELLER_HISTORY, facts(), TERMS)
    assert change.effective_from == effective
    assert change.protected_until == protected
    assert change.level == "premier"


every_day = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))


@given(every_day)
def test_an_upgrade_starts_on_the_first_of_the_next_month(day):
    effective = upgrade_effective_date(day)
    assert effective.day == 1
    assert effective > day
    assert (effective - day).days <= 31
    assert (effective - timedelta(days=1)).month == day.month


@given(every_day)
def test_protection_runs_to_the_end_of_the_following_year(day):
    effective = upgrade_effective_date(day)
    until = protected_until(effective)
    assert until == date(effective.year + 1, 12, 31)
    assert until > effective


def test_every_day_of_several_years_including_leap_years():
    day = date(2023, 1, 1)
    while day <= date(2028, 12, 31):
        effective = upgrade_effective_date(day)
        assert effective == (date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1))
        day += timedelta(days=1)


def test_no_upgrade_while_a_requirement_is_missing_and_the_reasons_say_which():
    short = facts(revenue=2_000_000, trained_sales_staff=0)
    assert mid_year_upgrade(date(2026, 6, 10), RESELLER_HISTORY, short, TERMS) is None
    unmet = unmet_premier_requirements(short, TERMS)
    assert "$5,000.00 more net revenue (of $25,000.00)" in unmet
    assert "1 more trained sales staff" in unmet


def test_declared_requirements_wait_for_verification_and_are_not_counted_as_missing():
    unverified = facts(revenue=0, sales_team=False, technical_team=False, workspace_reseller=False)
    waiting, missing = split_declared(unmet_premier_items(unverified, TERMS), {"sales_team", "technical_team"})
    assert waiting == ["a sales team", "a technical team"]
    assert "Google Workspace reseller status verified" in missing and "a sales team" not in missing
    assert not meets_premier(unverified, TERMS), "declared is not verified: no upgrade on the partner's word"


def test_no_second_upgrade_once_premier_or_scheduled():
    premier = [*RESELLER_HISTORY, LevelRecord("premier", date(2026, 7, 1), date(2027, 12, 31))]
    assert mid_year_upgrade(date(2026, 8, 1), premier, facts(), TERMS) is None
    assert mid_year_upgrade(date(2026, 6, 20), premier, facts(), TERMS) is None  # scheduled for 1 July


def test_level_on_a_date_is_the_record_in_force():
    history = [
        LevelRecord("reseller", date(2025, 1, 1)),
        LevelRecord("premier", date(2026, 12, 1), date(2027, 12, 31)),
    ]
    assert level_on(history, date(2026, 11, 30)).level == "reseller"
    assert level_on(history, date(2026, 12, 1)).level == "premier"
    assert level_on(history, date(2024, 12, 31)) is None


def test_a_protected_partner_stays_premier_despite_low_revenue():
    history = [*RESELLER_HISTORY, LevelRecord("premier", date(2026, 12, 1), date(2027, 12, 31))]
    decision = annual_level(2027, history, facts(revenue=0), TERMS)
    assert decision.level == "premier" and decision.protected_until == date(2027, 12, 31)
    assert annual_change(2027, history, facts(revenue=0), TERMS) is None  # nothing to write


def test_an_unprotected_partner_below_the_commitment_is_downgraded():
    history = [*RESELLER_HISTORY, LevelRecord("premier", date(2026, 12, 1), date(2027, 12, 31))]
    change = annual_change(2028, history, facts(revenue=100), TERMS)
    assert change.level == "reseller" and change.effective_from == date(2028, 1, 1)


def test_a_reseller_that_met_everything_last_year_is_premier_from_january():
    change = annual_change(2027, RESELLER_HISTORY, facts(), TERMS)
    assert (change.level, change.effective_from, change.protected_until) == ("premier", date(2027, 1, 1), None)


def test_running_the_annual_qualification_twice_changes_nothing():
    history = list(RESELLER_HISTORY)
    first = annual_change(2027, history, facts(), TERMS)
    history.append(LevelRecord(first.level, first.effective_from, first.protected_until))
    assert annual_change(2027, history, facts(), TERMS) is None


def test_a_partner_that_joined_during_the_year_is_not_qualified_back_to_january():
    joined = [LevelRecord("reseller", date(2026, 7, 29))]
    assert annual_change(2026, joined, facts(revenue=0), TERMS) is None
    assert annual_change(2027, joined, facts(revenue=0), TERMS) is None  # stays Reseller: nothing to write


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"revenue": 0}, True),  # the revenue is what is left to sum
        ({"revenue": 0, "sales_team": False}, False),
        ({"trained_sales_staff": 0}, False),
        ({"joint_marketing_campaign": False}, False),
    ],
)
def test_meets_premier_but_revenue_ignores_only_the_revenue(changes, expected):
    assert meets_premier_but_revenue(facts(**changes), TERMS) is expected
