"""``/dashboard/performance``: the partner's purchases summed per referral code and per customer domain."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from cloudcodes import formatting
from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase, record_refund
from cloudcodes.dashboard.performance import ROWS_PER_PAGE, SORT_KEYS
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.models import MemberRole, Partner
from cloudcodes.partners.services import add_member
from cloudcodes.referrals.services import issue_code, register_domain
from tests import factories
from tests.factories import UserFactory
from tests.support.bulk import lift_registration_caps
from tests.support.web import login

OWNER = "olga@alpha.example"
TECHNICAL = "theo@alpha.example"
OTHER_OWNER = "bob@beta.example"


def on(year, month, day, hour=12):
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=UTC), tick=False)


def usd(text):
    return Money.parse(text, "USD")


def buy(order_id, domain, amount, when, *, code=None, channel="direct"):
    data = PurchaseInput(
        order_id=order_id,
        customer_domain=domain,
        product_sku="CC-ACCESS",
        seats=10,
        amount=usd(amount),
        channel=channel,
        purchased_at=when,
        referral_code=code,
    )
    return record_purchase(data, fingerprint({"order_id": order_id})).purchase


def refund(order_id, refund_id, amount, when):
    payload = {"order_id": order_id, "refund_id": refund_id}
    return record_refund(order_id, refund_id, usd(amount), when, fingerprint(payload)).refund


def partner_with_domains(name, owner, domains):
    partner = factories.make_partner(name, owner_email=owner, effective_from=date(2025, 1, 1))
    codes = {}
    for domain in domains:
        registration = register_domain(_db.session.get(Partner, partner.id), domain, by=None)
        codes[domain] = issue_code(registration, by=None).code
    return partner.id, codes


@pytest.fixture
def world(app):
    """Alpha (owner and technical member) with acme.com and globex.com, a code each; Beta with initech.com.

    Alpha: two purchases with acme's code (one refunded in part), one for globex.com with its code
    (refunded in full), one for globex.com without a code (attributed by its registration), a
    reseller purchase with acme's code. Beta: one purchase.
    """
    with app.app_context(), on(2026, 1, 2):
        alpha, codes = partner_with_domains("Alpha", OWNER, ["acme.com", "globex.com"])
        add_member(_db.session.get(Partner, alpha), UserFactory(email=TECHNICAL), MemberRole.TECHNICAL)
        _db.session.commit()
        _beta, beta_codes = partner_with_domains("Beta", OTHER_OWNER, ["initech.com"])
        at = datetime(2026, 2, 1, 9, tzinfo=UTC)
        purchases = [
            buy("A-1", "acme.com", "1000.00", at, code=codes["acme.com"]),
            buy("A-2", "acme.com", "500.00", at + timedelta(days=30), code=codes["acme.com"]),
            buy("A-3", "globex.com", "200.00", at + timedelta(days=5), code=codes["globex.com"]),
            buy("A-4", "globex.com", "300.00", at + timedelta(days=40)),
            buy("A-5", "acme.com", "100.00", at + timedelta(days=10), code=codes["acme.com"], channel="reseller"),
            buy("B-1", "initech.com", "7777.00", at, code=beta_codes["initech.com"]),
        ]
        refund("A-1", "R-1", "250.00", at + timedelta(days=50))
        refund("A-3", "R-2", "200.00", at + timedelta(days=50))
        _db.session.commit()
        assert all(p.partner_id is not None for p in purchases)
        assert purchases[3].referral_code_id is None  # attributed by the registration alone
        # What each purchase leaves, worked out from the records the services wrote.
        expected = {}
        for purchase in purchases[:5]:
            refunded = sum(r.amount.minor for r in purchase.refunds)
            reversed_ = sum(r.commission_reversal.minor for r in purchase.refunds if r.commission_reversal)
            expected[purchase.order_id] = {
                "revenue": purchase.amount.minor - refunded,
                "commission": (purchase.commission.minor if purchase.commission else 0) - reversed_,
                "refunds": refunded,
                "day": purchase.purchased_at.date(),
            }
        return {"alpha": alpha, "codes": codes, "expected": expected}


def owner_client(app, email=OWNER):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def table_rows(html):
    """Each body row of the table: its cells' text, by their data-label."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r'<t[hd][^>]*data-label="([^"]+)"[^>]*>(.*?)</t[hd]>', row, re.S)
        rows.append({label: re.sub(r"<[^>]+>", "", text).strip() for label, text in cells})
    return rows


def sums(expected, orders):
    day = max(expected[o]["day"] for o in orders)
    money = {
        k: formatting.money(Money(sum(expected[o][k] for o in orders), "USD"))
        for k in ("revenue", "commission", "refunds")
    }
    return {
        "Purchases": str(len(orders)),
        "Referred revenue": money["revenue"],
        "Commission or discount": money["commission"],
        "Refunds": money["refunds"],
        "Last purchase": formatting.date(day),
    }


def test_the_figures_per_code_equal_the_purchases_and_refunds(app, world):
    client = owner_client(app)
    response = client.get("/dashboard/performance")
    assert response.status_code == 200
    rows = {row["Referral code"]: row for row in table_rows(response.get_data(as_text=True))}
    expected = world["expected"]
    acme, globex = world["codes"]["acme.com"], world["codes"]["globex.com"]
    no_code = "No code (registered domain or renewal)"
    assert set(rows) == {acme, globex, no_code}
    assert {k: v for k, v in rows[acme].items() if k != "Referral code"} == sums(expected, ["A-1", "A-2", "A-5"])
    assert {k: v for k, v in rows[globex].items() if k != "Referral code"} == sums(expected, ["A-3"])
    assert {k: v for k, v in rows[no_code].items() if k != "Referral code"} == sums(expected, ["A-4"])
    # The constructed numbers themselves, so the test does not only compare the code with itself.
    assert rows[acme]["Referred revenue"] == "$1,350.00" and rows[acme]["Refunds"] == "$250.00"
    assert rows[globex]["Referred revenue"] == "$0.00" and rows[globex]["Commission or discount"] == "$0.00"


def test_the_figures_per_domain_equal_the_purchases_and_refunds(app, world):
    client = owner_client(app)
    html = client.get("/dashboard/performance?view=domains").get_data(as_text=True)
    rows = {row["Customer domain"]: row for row in table_rows(html)}
    expected = world["expected"]
    assert set(rows) == {"acme.com", "globex.com"}
    assert {k: v for k, v in rows["acme.com"].items() if k != "Customer domain"} == sums(
        expected, ["A-1", "A-2", "A-5"]
    )
    assert {k: v for k, v in rows["globex.com"].items() if k != "Customer domain"} == sums(expected, ["A-3", "A-4"])
    assert rows["globex.com"]["Referred revenue"] == "$300.00"


def test_other_partners_data_is_never_shown(app, world):
    client = owner_client(app)
    for view in ("codes", "domains"):
        html = client.get(f"/dashboard/performance?view={view}").get_data(as_text=True)
        assert "initech.com" not in html and "7,777" not in html
    beta = owner_client(app, OTHER_OWNER)
    html = beta.get("/dashboard/performance?view=domains").get_data(as_text=True)
    assert [row["Customer domain"] for row in table_rows(html)] == ["initech.com"]
    assert "acme.com" not in html


def test_the_technical_member_may_not_open_it_as_for_earnings(app, world):
    client = owner_client(app, TECHNICAL)
    assert client.get("/dashboard/earnings").status_code == 404
    assert client.get("/dashboard/performance").status_code == 404
    assert "/dashboard/performance" not in client.get("/dashboard/").get_data(as_text=True)
    assert 'href="/dashboard/performance"' in owner_client(app).get("/dashboard/").get_data(as_text=True)


@pytest.mark.parametrize("key", SORT_KEYS)
def test_each_column_sorts_both_ways(app, world, key):
    client = owner_client(app)
    column = {
        "key": "Customer domain",
        "purchases": "Purchases",
        "revenue": "Referred revenue",
        "commission": "Commission or discount",
        "refunds": "Refunds",
        "last": "Last purchase",
    }[key]
    expected = world["expected"]
    by_domain = {"acme.com": ["A-1", "A-2", "A-5"], "globex.com": ["A-3", "A-4"]}
    value = {
        "key": lambda d: d,
        "purchases": lambda d: len(by_domain[d]),
        "revenue": lambda d: sum(expected[o]["revenue"] for o in by_domain[d]),
        "commission": lambda d: sum(expected[o]["commission"] for o in by_domain[d]),
        "refunds": lambda d: sum(expected[o]["refunds"] for o in by_domain[d]),
        "last": lambda d: max(expected[o]["day"] for o in by_domain[d]),
    }[key]
    for direction in ("asc", "desc"):
        html = client.get(f"/dashboard/performance?view=domains&sort={key}&dir={direction}").get_data(as_text=True)
        shown = [row["Customer domain"] for row in table_rows(html)]
        wanted = sorted(by_domain, key=lambda d: (value(d), d), reverse=direction == "desc")
        assert shown == wanted, (key, direction)
        # The sorted column says so, and its link turns the order round.
        heading = re.search(r'<th scope="col"[^>]*aria-sort="(\w+)"[^>]*>\s*<a href="([^"]+)">' + column, html)
        assert heading is not None
        assert heading.group(1) == ("ascending" if direction == "asc" else "descending")
        other = "desc" if direction == "asc" else "asc"
        assert f"dir={other}" in heading.group(2).replace("&amp;", "&")
        assert html.count("aria-sort=") == 1


@pytest.mark.parametrize(
    "query",
    [
        "sort=drop%20table",
        "sort=revenue&dir=sideways",
        "view=elsewhere",
        "page=abc",
        "page=-3",
        "page=99999",
        "sort=__class__&dir=asc&page=0",
    ],
)
def test_bad_sort_view_and_page_values_fall_back_never_a_500(app, world, query):
    client = owner_client(app)
    response = client.get(f"/dashboard/performance?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if "page=99999" in query:
        assert "There is no such page" in html
    else:
        assert len(table_rows(html)) == 3  # the codes of Alpha, in whatever order was understood


def test_the_default_order_is_revenue_largest_first(app, world):
    html = owner_client(app).get("/dashboard/performance?view=domains&sort=nonsense").get_data(as_text=True)
    assert [row["Customer domain"] for row in table_rows(html)] == ["acme.com", "globex.com"]
    assert re.search(r'aria-sort="descending"[^>]*>\s*<a href="[^"]+">Referred revenue', html)


def test_an_empty_partner_sees_the_empty_state(app):
    with app.app_context(), on(2026, 1, 2):
        partner_with_domains("Gamma", "gus@gamma.example", ["gamma.com"])
    html = owner_client(app, "gus@gamma.example").get("/dashboard/performance").get_data(as_text=True)
    assert "No purchase is attributed to you yet" in html and "<table" not in html


def many_domains_partner(app, name, owner, count):
    """A partner with ``count`` purchases spread over ``count`` domains (one code each), some refunded."""
    with app.app_context(), on(2026, 1, 2):
        domains = [f"customer{n:03d}-{name.lower()}.com" for n in range(count)]
        lift_registration_caps()
        _partner, codes = partner_with_domains(name, owner, domains)
        at = datetime(2026, 2, 1, 9, tzinfo=UTC)
        for n, domain in enumerate(domains):
            buy(f"{name}-{n}", domain, f"{100 + n}.00", at + timedelta(hours=n), code=codes[domain])
            if n % 3 == 0:
                refund(f"{name}-{n}", f"{name}-R-{n}", "10.00", at + timedelta(days=20))
        _db.session.commit()


def test_pagination_pages_the_rows_and_keeps_the_sort(app):
    count = ROWS_PER_PAGE + 5
    many_domains_partner(app, "Paged", "pat@paged.example", count)
    client = owner_client(app, "pat@paged.example")
    first = client.get("/dashboard/performance?view=domains&sort=key&dir=asc").get_data(as_text=True)
    second = client.get("/dashboard/performance?view=domains&sort=key&dir=asc&page=2").get_data(as_text=True)
    names = [row["Customer domain"] for row in table_rows(first)] + [
        row["Customer domain"] for row in table_rows(second)
    ]
    assert len(table_rows(first)) == ROWS_PER_PAGE and len(table_rows(second)) == 5
    assert names == sorted(f"customer{n:03d}-paged.com" for n in range(count))
    assert "page 1 of 2" in first and "page 2 of 2" in second
    # The pager's links keep the view and the order.
    links = [link.replace("&amp;", "&") for link in re.findall(r'class="page-link" href="([^"]+)"', first)]
    assert any(
        "page=2" in link and "view=domains" in link and "sort=key" in link and "dir=asc" in link for link in links
    )


def test_the_statement_count_does_not_grow_with_the_purchases(app, count_queries):
    many_domains_partner(app, "Few", "fay@few.example", 3)
    many_domains_partner(app, "Many", "max@many.example", 60)
    counts = {}
    for owner in ("fay@few.example", "max@many.example"):
        client = owner_client(app, owner)
        for view in ("codes", "domains"):
            client.get(f"/dashboard/performance?view={view}")  # warm: the program terms' cache and the session
            with count_queries() as counter:
                response = client.get(f"/dashboard/performance?view={view}")
            assert response.status_code == 200 and len(table_rows(response.get_data(as_text=True))) >= 3
            counts[(owner, view)] = counter.count
    assert counts[("fay@few.example", "codes")] == counts[("max@many.example", "codes")]
    assert counts[("fay@few.example", "domains")] == counts[("max@many.example", "domains")]
