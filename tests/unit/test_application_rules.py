import pytest

from cloudcodes.applications.rules import ApplicationInput, company_key, unmet_requirements
from cloudcodes.applications.states import Action, State, TransitionRefused, allowed_actions, next_state
from cloudcodes.money import Money
from cloudcodes.program.terms import DEFAULT_TERMS

RESELLER = ApplicationInput(
    level="reseller",
    company_name="Acme",
    website="https://acme.example",
    country="France",
    contact_name="A",
    contact_email="a@acme.example",
    contact_phone="+33 1 23 45 67 89",
    is_workspace_reseller=True,
    workspace_reseller_id="C0123",
    sales_team_size=2,
    technical_team_size=1,
    expected_customers=5,
    heard_from="search",
)


def premier(**changes):
    values = {
        **RESELLER.__dict__,
        "level": "premier",
        "committed_revenue": Money(2_500_000, "USD"),
        "trained_sales_staff": 1,
        "agrees_to_business_plan": True,
        "product_page_url": "https://acme.example/cloudcodes",
        "marketing_campaign": "Spring webinars.",
    }
    return ApplicationInput(**{**values, **changes})


def test_a_complete_application_meets_every_requirement():
    assert unmet_requirements(RESELLER, DEFAULT_TERMS) == {}
    assert unmet_requirements(premier(), DEFAULT_TERMS) == {}


def test_the_commitment_is_read_from_the_terms():
    assert "committed_revenue" in unmet_requirements(premier(committed_revenue=Money(2_499_999, "USD")), DEFAULT_TERMS)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"is_workspace_reseller": False}, "is_workspace_reseller"),
        ({"workspace_reseller_id": " "}, "workspace_reseller_id"),
        ({"sales_team_size": 0}, "sales_team_size"),
        ({"technical_team_size": 0}, "technical_team_size"),
        ({"trained_sales_staff": 3}, "trained_sales_staff"),  # more than the sales team
        ({"agrees_to_business_plan": False}, "agrees_to_business_plan"),
        ({"product_page_url": ""}, "product_page_url"),
        ({"marketing_campaign": ""}, "marketing_campaign"),
    ],
)
def test_each_unmet_requirement_is_named(changes, field):
    assert field in unmet_requirements(premier(**changes), DEFAULT_TERMS)


@pytest.mark.parametrize("name", ["Acme Cloud, Inc.", "ACME  cloud", "Acme-Cloud Ltd", "Acmé Cloud LLC"])
def test_company_names_fold_to_one_key(name):
    assert company_key(name) == "acme cloud"


def test_moves_follow_the_table():
    assert next_state(Action.START_REVIEW, State.SUBMITTED) == State.IN_REVIEW
    assert next_state(Action.ASK, State.IN_REVIEW) == State.WAITING_ON_APPLICANT
    assert next_state(Action.ANSWER, State.WAITING_ON_APPLICANT) == State.IN_REVIEW
    assert next_state(Action.APPROVE, State.WAITING_ON_APPLICANT) == State.APPROVED


@pytest.mark.parametrize("closed", [State.APPROVED, State.REJECTED, State.WITHDRAWN])
def test_closed_applications_allow_no_move(closed):
    assert allowed_actions(closed) == frozenset()
    with pytest.raises(TransitionRefused, match="cannot be approved now"):
        next_state(Action.APPROVE, closed)


def test_an_answer_needs_a_question_first():
    with pytest.raises(TransitionRefused):
        next_state(Action.ANSWER, State.IN_REVIEW)
