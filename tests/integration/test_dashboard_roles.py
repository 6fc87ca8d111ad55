"""What each member role of a partner may open in the dashboard, page by page and action by action.

Owners open everything, sales members domains, codes, purchases and earnings, technical members
domains and codes only: a page or action the role may not open is 404, as another partner's data is,
and the overview shows neither money figures nor links to what the role may not open.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from cloudcodes import formatting
from cloudcodes.billing.models import PayoutStatement
from cloudcodes.billing.payouts import close_month
from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.access import AREAS_BY_ROLE, Area, may_open
from cloudcodes.partners.models import MemberRole, Partner
from cloudcodes.partners.services import add_member
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.models import ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain
from tests import factories
from tests.factories import UserFactory
from tests.support.web import csrf_token, login

EMAILS = {
    MemberRole.OWNER: "olga@alpha.example",
    MemberRole.SALES: "sam@alpha.example",
    MemberRole.TECHNICAL: "theo@alpha.example",
}
ALLOWED = (200, 303)


def on(year, month, day, hour=12):
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=UTC), tick=False)


@pytest.fixture
def world(app):
    """Alpha with an owner, a sales and a technical member; two customer domains with a code each; a
    purchase of January 2026 and the statement of February 2026. The tests run on 1 March 2026."""
    with app.app_context():
        with on(2026, 1, 2):
            partner = factories.make_partner(
                "Alpha", owner_email=EMAILS[MemberRole.OWNER], effective_from=date(2025, 1, 1)
            )
            for role in (MemberRole.SALES, MemberRole.TECHNICAL):
                add_member(partner, UserFactory(email=EMAILS[role]), role)
            # For the team actions: an invitation not accepted yet, and a member to remove.
            pending = add_member(partner, UserFactory(email="pia@alpha.example", password_hash=None), MemberRole.SALES)
            leaving = add_member(partner, UserFactory(email="tom@alpha.example"), MemberRole.TECHNICAL)
            _db.session.commit()
            partner_id = partner.id
            pending_id, leaving_id = pending.id, leaving.id
            first = register_domain(_db.session.get(Partner, partner_id), "acme.com", by=None)
            code = issue_code(first, by=None).code
            second = register_domain(_db.session.get(Partner, partner_id), "globex.com", by=None)
            issue_code(second, by=None)
            first_id, second_id = first.id, second.id
        with on(2026, 3, 1):
            data = PurchaseInput(
                order_id="A-1",
                customer_domain="acme.com",
                product_sku="CC-ACCESS",
                seats=10,
                amount=Money.parse("1000.00", "USD"),
                channel="direct",
                purchased_at=datetime(2026, 1, 10, 9, tzinfo=UTC),
                referral_code=code,
            )
            record_purchase(data, fingerprint({"order_id": "A-1"}))
            close_month(date(2026, 2, 1), by=UserFactory(email="payer@cloudcodes.example", role="admin"))
            statement_id = _db.session.scalar(
                select(PayoutStatement.id).where(PayoutStatement.partner_id == partner_id)
            )
            second_code_id = _db.session.scalar(
                select(ReferralCode.id).where(ReferralCode.registration_id == second_id)
            )
        assert statement_id is not None and second_code_id is not None
        return {
            "first": first_id,
            "second": second_id,
            "code": second_code_id,
            "statement": statement_id,
            "pending": pending_id,
            "leaving": leaving_id,
        }


def requests_of(world):
    """Every dashboard page and action: (method, path, form prefix or None, fields, area)."""
    first, second = world["first"], world["second"]
    pending, leaving = world["pending"], world["leaving"]
    return [
        ("GET", "/dashboard/referrals", None, {}, Area.CODES),
        ("GET", "/dashboard/earnings", None, {}, Area.MONEY),
        ("GET", "/dashboard/earnings/ledger.csv", None, {}, Area.MONEY),
        ("GET", f"/dashboard/earnings/statements/{world['statement']}.csv", None, {}, Area.MONEY),
        ("POST", "/dashboard/referrals/registrations", "", {"domain": "initech.com"}, Area.CODES),
        ("POST", f"/dashboard/referrals/registrations/{first}/codes", f"generate-{first}", {}, Area.CODES),
        ("POST", f"/dashboard/referrals/registrations/{first}/renew", f"renew-{first}", {}, Area.CODES),
        (
            "POST",
            f"/dashboard/referrals/codes/{world['code']}/revoke",
            f"revoke-{world['code']}",
            {"confirm": "y"},
            Area.CODES,
        ),
        (
            "POST",
            f"/dashboard/referrals/registrations/{second}/release",
            f"release-{second}",
            {"confirm": "y"},
            Area.CODES,
        ),
        ("GET", "/dashboard/team", None, {}, Area.MEMBERS),
        (
            "POST",
            "/dashboard/team/invitations",
            "invite",
            {"email": "nina@alpha.example", "full_name": "Nina New", "role": "sales"},
            Area.TEAM,
        ),
        ("POST", f"/dashboard/team/{pending}/resend", f"resend-{pending}", {}, Area.TEAM),
        ("POST", f"/dashboard/team/{pending}/role", f"role-{pending}", {"role": "technical"}, Area.TEAM),
        ("POST", f"/dashboard/team/{pending}/withdraw", f"withdraw-{pending}", {"confirm": "y"}, Area.TEAM),
        ("POST", f"/dashboard/team/{leaving}/remove", f"remove-{leaving}", {"confirm": "y"}, Area.TEAM),
    ]


# The table: what each role may open (the rule), and what it must get when it may not (404).
EXPECTED = {
    MemberRole.OWNER: {Area.CODES: True, Area.MONEY: True, Area.MEMBERS: True, Area.TEAM: True},
    MemberRole.SALES: {Area.CODES: True, Area.MONEY: True, Area.MEMBERS: True, Area.TEAM: False},
    MemberRole.TECHNICAL: {Area.CODES: True, Area.MONEY: False, Area.MEMBERS: True, Area.TEAM: False},
}


@pytest.mark.parametrize("role", list(MemberRole), ids=str)
def test_each_role_opens_only_its_pages_and_actions_and_gets_404_elsewhere(app, world, role):
    client = app.test_client()
    with on(2026, 3, 1):
        assert login(client, EMAILS[role]).status_code == 303
        token = csrf_token(client.get("/account").get_data(as_text=True))
        outcome = {}
        for method, path, prefix, fields, _area in requests_of(world):
            if method == "GET":
                response = client.get(path)
            else:
                lead = f"{prefix}-" if prefix else ""
                data = {f"{lead}csrf_token": token, **{f"{lead}{key}": value for key, value in fields.items()}}
                response = client.post(path, data=data)
            outcome[(method, path)] = response.status_code
            if response.status_code in ALLOWED and path.endswith(".csv"):
                assert response.mimetype == "text/csv"
        expected = {
            (method, path): ALLOWED if EXPECTED[role][area] else (404,)
            for method, path, _, _, area in requests_of(world)
        }
        wrong = {key: status for key, status in outcome.items() if status not in expected[key]}
        assert not wrong, f"{role}: {wrong} (expected {expected})"
        # The actions did what they say for the roles that may take them.
        page = client.get("/dashboard/referrals").get_data(as_text=True)
        assert "initech.com" in page


def test_the_rule_gives_owners_everything_sales_money_and_technical_members_no_money():
    assert set(AREAS_BY_ROLE) == {str(role) for role in MemberRole}
    assert all(may_open(MemberRole.OWNER, area) for area in Area)
    assert may_open(MemberRole.SALES, Area.MONEY) and may_open(MemberRole.SALES, Area.CODES)
    assert not may_open(MemberRole.SALES, Area.TEAM) and not may_open(MemberRole.SALES, Area.COMPANY)
    assert may_open(MemberRole.TECHNICAL, Area.CODES)
    assert not any(may_open(MemberRole.TECHNICAL, area) for area in (Area.MONEY, Area.TEAM, Area.COMPANY))
    assert not may_open("visitor", Area.CODES) and not may_open(MemberRole.OWNER, "nowhere")
    assert all(may_open(role, Area.MEMBERS) for role in MemberRole)  # everyone reads the team list
    for role, areas in EXPECTED.items():
        assert {area for area, allowed in areas.items() if allowed} == {area for area in areas if may_open(role, area)}


def overview(app, role):
    client = app.test_client()
    assert login(client, EMAILS[role]).status_code == 303
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_technical_members_overview_shows_no_money_and_no_link_to_earnings(app, world):
    with app.app_context():
        commitment = formatting.money(program_terms().premier_revenue_commitment)
    with on(2026, 3, 1):
        html = overview(app, MemberRole.TECHNICAL)
    assert "Technical" in html  # its role
    assert 'href="/dashboard/referrals"' in html
    assert "/dashboard/earnings" not in html and "Purchases and earnings" not in html
    assert "Progress to Premier" not in html and "revenue" not in html.lower()
    assert commitment not in html and "$" not in html


@pytest.mark.parametrize("role", [MemberRole.SALES, MemberRole.OWNER], ids=str)
def test_sales_and_owners_see_the_revenue_progress_and_the_earnings_link(app, world, role):
    with app.app_context():
        commitment = formatting.money(program_terms().premier_revenue_commitment)
    with on(2026, 3, 1):
        html = overview(app, role)
    assert 'href="/dashboard/referrals"' in html and 'href="/dashboard/earnings"' in html
    assert "Progress to Premier" in html and "Net revenue in 2026 so far" in html
    assert commitment in html
