"""The overview (/dashboard): its money figures against the ledger, the 12-month chart and its table,
the latest activity, what each role sees, and a statement count that does not grow with the data."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

from sqlalchemy import select

from cloudcodes import formatting
from cloudcodes.billing.models import LedgerEntry, LedgerKind, PayoutStatement
from cloudcodes.billing.payouts import close_month, mark_paid
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.models import MemberRole, Partner
from cloudcodes.partners.services import add_member
from cloudcodes.program.services import program_terms
from tests.factories import UserFactory
from tests.integration.test_payouts import admin_user, buy, code_for, make_partner, on, partner_client, refund


def text_of(page, element_id):
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, f"no #{element_id} on the page"
    return unescape(re.sub(r"\s+", " ", match.group(1))).strip()


def chart_json(page):
    match = re.search(r'<script type="application/json" id="earnings-chart-data">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))


def table_rows(page):
    table = re.search(r'<table[^>]*id="earnings-chart-table".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = re.findall(r"<tr>\s*<th[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>", table, re.S)
    return [tuple(unescape(cell).strip() for cell in row) for row in rows]


def build_partner(app):
    """Alpha (15 %): two direct purchases and one through it, February paid out, then a refund after the payout."""
    with app.app_context():
        with on(2026, 1, 2):
            partner_id = make_partner("Alpha", "owner@alpha.example")
            codes = {domain: code_for(partner_id, domain) for domain in ("acme.com", "globex.com", "umbrella.com")}
        with on(2026, 3, 1):
            buy("A-1", "acme.com", "1000.00", datetime(2026, 1, 10, 9, tzinfo=UTC), code=codes["acme.com"])
            buy("A-2", "globex.com", "400.00", datetime(2026, 2, 25, 9, tzinfo=UTC), code=codes["globex.com"])
            buy(
                "A-3",
                "umbrella.com",
                "2000.00",
                datetime(2026, 1, 15, 9, tzinfo=UTC),
                code=codes["umbrella.com"],
                channel="reseller",
            )
        with on(2026, 3, 3):
            [statement] = close_month(date(2026, 2, 1), by=admin_user())
        with on(2026, 3, 4):
            mark_paid(_db.session.get(PayoutStatement, statement.id), reference="TRF-1", by=admin_user())
        with on(2026, 3, 10):
            refund("A-1", "R-1", "500.00", datetime(2026, 3, 10, 9, tzinfo=UTC))
    return partner_id


def ledger_sums(partner_id, today):
    """The same figures summed in Python over the partner's ledger entries."""
    entries = _db.session.scalars(select(LedgerEntry).where(LedgerEntry.partner_id == partner_id)).all()
    earning = [e for e in entries if e.kind != LedgerKind.PAYOUT and e.effective_on <= today]
    usd = lambda minor: Money(minor, "USD")  # noqa: E731
    return {
        "month": usd(sum(e.amount.minor for e in earning if e.effective_on >= today.replace(day=1))),
        "year": usd(sum(e.amount.minor for e in earning if e.effective_on.year == today.year)),
        "balance": usd(sum(e.amount.minor for e in entries if e.payable and e.payable_on <= today)),
        "hold": usd(sum(e.amount.minor for e in entries if e.payable and e.payable_on > today)),
    }


def test_the_overview_figures_equal_the_ledger_sums(app):
    partner_id = build_partner(app)
    with app.app_context():
        expected = ledger_sums(partner_id, date(2026, 3, 15))
    # 150 + 60 commission, 300 discount, -75 reversed by the refund after the payout.
    assert expected["year"] == Money.parse("435.00", "USD")
    assert expected["month"] == Money.parse("-75.00", "USD")
    with on(2026, 3, 15):
        client = partner_client(app, "owner@alpha.example")
        page = client.get("/dashboard/").get_data(as_text=True)
    assert text_of(page, "earned-month") == formatting.money(expected["month"])
    assert text_of(page, "earned-year") == formatting.money(expected["year"])
    # February's 150 was paid; the refund took 75 back: the balance is -75 until A-2's 60 leaves its hold.
    assert text_of(page, "payable-balance") == formatting.money(expected["balance"]) == "-$75.00"
    assert text_of(page, "next-statement") == formatting.money(Money.parse("-15.00", "USD"))
    statement_text = text_of(page, "next-statement-text")
    assert "For March 2026, made after 31 March 2026" in statement_text
    assert (
        f"{formatting.money(expected['hold'])} is still in the hold; the first of it becomes payable on 27 March 2026"
        in statement_text
    )
    # The activity lists the refund and the purchases, newest first, with links to the earnings page.
    activity = re.search(r'<ul class="list-group" id="activity">(.*?)</ul>', page, re.S).group(1)
    assert activity.index("Refund to acme.com") < activity.index("Purchase by globex.com")
    assert activity.index("Purchase by globex.com") < activity.index("Purchase by umbrella.com")
    assert 'href="/dashboard/earnings"' in activity
    # The statement the owner was told of (its notice) is there too, dated the day it was made.
    assert "Your payout statement for February 2026 is ready: $150.00" in unescape(activity)
    assert activity.index("Refund to acme.com") < activity.index("Your payout statement for February 2026")


def test_the_chart_data_equals_its_table(app):
    build_partner(app)
    with on(2026, 3, 15):
        page = partner_client(app, "owner@alpha.example").get("/dashboard/").get_data(as_text=True)
    data = chart_json(page)
    rows = table_rows(page)
    assert len(rows) == len(data["labels"]) == 12
    assert data["labels"][0] == "Apr 2025" and data["labels"][-1] == "Mar 2026"
    for (month, earnings, revenue), label, earned, bought in zip(
        rows, data["labels"], data["earnings"], data["revenue"], strict=True
    ):
        assert month == label
        assert earnings == formatting.money(Money.parse(earned, "USD"))
        assert revenue == formatting.money(Money.parse(bought, "USD"))
    by_month = dict(zip(data["labels"], zip(data["earnings"], data["revenue"], strict=True), strict=True))
    # January: 150 commission + 300 discount; 1000 + 2000 bought, less the 500 refunded on A-1 (by purchase month).
    assert by_month["Jan 2026"] == ("450.00", "2500.00")
    assert by_month["Feb 2026"] == ("60.00", "400.00")
    assert by_month["Mar 2026"] == ("-75.00", "0.00")
    assert by_month["Dec 2025"] == ("0.00", "0.00")
    assert 'id="chart-empty"' not in page


def test_the_technical_role_sees_no_money(app):
    partner_id = build_partner(app)
    with app.app_context():
        add_member(_db.session.get(Partner, partner_id), UserFactory(email="tech@alpha.example"), MemberRole.TECHNICAL)
        _db.session.commit()
    with on(2026, 3, 15):
        page = partner_client(app, "tech@alpha.example").get("/dashboard/").get_data(as_text=True)
    assert "Latest activity" in page
    for absent in ("earned-month", "payable-balance", "earnings-chart", "$", "Purchase by", "chart.umd"):
        assert absent not in page


def test_a_new_partner_is_told_what_to_do(app):
    with app.app_context(), on(2026, 3, 1):
        make_partner("Fresh", "owner@fresh.example")
    with on(2026, 3, 15):
        page = partner_client(app, "owner@fresh.example").get("/dashboard/").get_data(as_text=True)
    assert text_of(page, "earned-year") == "$0.00"
    assert "No purchases attributed to you in the last 12 months yet" in text_of(page, "chart-empty")
    assert "Register your customers' domains and give them referral codes" in unescape(page)
    # The checklist says what to do next and when an upgrade would take effect.
    assert 'id="premier-checklist"' in page
    assert "Invite your sales staff to the team" in page
    assert "from 1 April 2026" in text_of(page, "upgrade-date")


def test_the_overview_costs_the_same_for_2_and_40_purchases(app, count_queries):
    with app.app_context(), on(2025, 12, 31):
        partner_id = make_partner("Busy", "owner@busy.example")
        code = code_for(partner_id, "busy-customer.com")
        code_for(partner_id, "soon-ending.com")

    def add_purchases(first, last):
        with app.app_context(), on(2026, 3, 1):
            for n in range(first, last):
                buy(f"Q-{n}", "busy-customer.com", "120.00", datetime(2026, 1, 1 + n % 28, tzinfo=UTC), code=code)
                if n % 3 == 0:
                    refund(f"Q-{n}", f"QR-{n}", "20.00", datetime(2026, 2, 1 + n % 20, tzinfo=UTC))

    add_purchases(0, 2)
    with on(2026, 3, 5):
        client = partner_client(app, "owner@busy.example")
        client.get("/dashboard/")
        with count_queries() as few:
            assert client.get("/dashboard/").status_code == 200
    add_purchases(2, 40)
    with app.app_context(), on(2026, 3, 5):
        close_month(date(2026, 2, 1), by=admin_user())
    with on(2026, 3, 5), count_queries() as many:
        page = client.get("/dashboard/").get_data(as_text=True)
    assert chart_json(page)["revenue"][-3] == "4520.00"  # January: 40 purchases of 120.00, 14 refunds of 20.00
    assert many.count == few.count, "\n".join(many.statements)


def test_a_registration_ending_soon_is_in_the_activity_also_for_the_technical_role(app):
    with app.app_context():
        lifetime = program_terms().registration_lifetime_days
        with on(2026, 1, 2):
            partner_id = make_partner("Alpha", "owner@alpha.example")
            code_for(partner_id, "ending.com")
        add_member(_db.session.get(Partner, partner_id), UserFactory(email="tech@alpha.example"), MemberRole.TECHNICAL)
        _db.session.commit()
    ends = date(2026, 1, 2) + timedelta(days=lifetime)
    with on(*(ends - timedelta(days=10)).timetuple()[:3]):
        page = partner_client(app, "tech@alpha.example").get("/dashboard/").get_data(as_text=True)
    activity = re.search(r'<ul class="list-group" id="activity">(.*?)</ul>', page, re.S).group(1)
    assert f"Registration of ending.com ends on {formatting.date(ends)}" in activity
    assert 'href="/dashboard/referrals"' in activity
    # Ending later than 14 days from now: not listed yet.
    with on(*(ends - timedelta(days=20)).timetuple()[:3]):
        page = partner_client(app, "tech@alpha.example").get("/dashboard/").get_data(as_text=True)
    assert "Registration of ending.com" not in page
