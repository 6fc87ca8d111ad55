"""The console's list pages share one component: search, filters, sort, pages and the CSV of what they show.

Each of the five pages (applications, partners, domains, payouts, the audit log) is driven through its
query string the way a browser would, its table read back from the HTML, and its CSV parsed with the
csv module and compared with the rows of all the table's pages.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.applications.services import submit_application
from cloudcodes.audit.models import AuditEvent
from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.billing.models import PayoutStatement
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner, PartnerStatus
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.models import DomainRegistration
from cloudcodes.referrals.services import register_domain, release
from tests.factories import UserFactory, make_partner
from tests.integration.test_admin_applications import application_input
from tests.support.web import login, make_staff, staff_client

PARTNERS = 30
APPLICATIONS = 27
LONG_NOTE = "A long reason, " + "word " * 400 + "and the very end of it."


# --- Reading pages ------------------------------------------------------------------------------


def _text(fragment: str) -> str:
    fragment = re.sub(r'<span class="visually-hidden">.*?</span>', "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table_rows(page: str) -> list[list[str]]:
    """The cells of the table's body, as text (what screen readers only hear is left out)."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    if body is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [[_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def caption_total(page: str) -> int:
    match = re.search(r"<caption>(\d+)\s", page)
    return int(match.group(1)) if match else 0


def parse_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@dataclass(frozen=True)
class Page:
    """One list page, and how a row of its table and of its CSV are named (to compare them)."""

    path: str
    csv: str
    per_page: int
    table_key: object  # row cells -> key
    csv_key: object  # CSV dict -> key
    search: dict = field(default_factory=dict)  # query -> expected keys (a predicate on a key)
    filters: list = field(default_factory=list)  # (query, predicate on the keys listed)
    sort: tuple = ()  # (column key, the table key's sortable part)


def _page_key(cells):
    return cells[0]


PAGES = {
    "applications": Page(
        "/admin/applications",
        "/admin/applications.csv",
        25,
        table_key=lambda cells: cells[1],
        csv_key=lambda row: row["Company"],
        search={"q": "northwind 7"},
        filters=[({"level": "premier"}, None), ({"level": "reseller", "state": "all"}, None)],
        sort=("company", lambda key: key),
    ),
    "partners": Page(
        "/admin/partners",
        "/admin/partners.csv",
        25,
        table_key=_page_key,
        csv_key=lambda row: row["Partner"],
        search={"q": "partner 1"},
        filters=[({"status": "suspended"}, None), ({"level": "premier"}, None)],
        sort=("name", lambda key: key),
    ),
    "domains": Page(
        "/admin/domains",
        "/admin/domains.csv",
        25,
        table_key=_page_key,
        csv_key=lambda row: row["Domain"],
        search={"q": "partner-2"},
        filters=[({"status": "ended"}, None), ({"status": "all"}, None)],
        sort=("domain", lambda key: key),
    ),
    "payouts": Page(
        "/admin/payouts",
        "/admin/payouts.csv",
        25,
        table_key=_page_key,
        csv_key=lambda row: row["Partner"],
        search={"q": "partner 2"},
        filters=[({"status": "paid"}, None), ({"status": "all"}, None)],
        sort=("partner", lambda key: key),
    ),
    "audit": Page(
        "/admin/audit",
        "/admin/audit.csv",
        50,
        table_key=lambda cells: (cells[2], cells[3]),
        csv_key=lambda row: (row["Action"], row["Record"]),
        search={"q": "partner 07"},
        filters=[({"action": "domain."}, None), ({"target": "partners"}, None), ({"who": "ada@"}, None)],
        sort=("action", lambda key: key[0]),
    ),
}


def all_rows(client, page: Page, query: dict) -> list:
    """The keys of the rows on every page of the list, in order."""
    first = client.get(page.path, query_string=query)
    assert first.status_code == 200
    text = first.get_data(as_text=True)
    total = caption_total(text)
    keys = [page.table_key(cells) for cells in table_rows(text)]
    for number in range(2, math.ceil(total / page.per_page) + 1):
        response = client.get(page.path, query_string={**query, "page": number})
        assert response.status_code == 200
        keys += [page.table_key(cells) for cells in table_rows(response.get_data(as_text=True))]
    assert len(keys) == total
    return keys


def csv_keys(client, page: Page, query: dict) -> list:
    return [page.csv_key(row) for row in parse_csv(client.get(page.csv, query_string=query))]


# --- The data -------------------------------------------------------------------------------------


@pytest.fixture
def world(app) -> SimpleNamespace:
    """30 partners (every fifth suspended, the last three Premier) with a domain (every tenth released)
    and a statement (every tenth paid) each, 27 applications (every third Premier), an admin and a
    manager; the audit log has what they did, a long note among it."""
    admin = make_staff(app, role="admin", full_name="Ada Admin", email="ada@cloudcodes.example")
    manager = make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")
    currency = None
    with app.app_context():
        currency = program_terms().currency
        ada = _db.session.get(User, admin.id)
        today = clock.today()
        for number in range(PARTNERS):
            partner = make_partner(
                f"Partner {number:02}",
                level="premier" if number >= PARTNERS - 3 else "reseller",
                manager=_db.session.get(User, manager.id) if number % 2 else None,
                owner_email=f"owner{number}@partner-{number:02}.example",
                effective_from=today - timedelta(days=30),
            )
            registration = register_domain(partner, f"partner-{number:02}.com", by=None)
            if number % 10 == 9:
                release(registration, by=None)
            statement = PayoutStatement(
                partner_id=partner.id, period_start=date(2026, 10, 1), total=Money(1000 + number, currency)
            )
            if number % 10 == 0:
                statement.paid_at = clock.now()
                statement.paid_by_id = ada.id
                statement.payment_reference = f"TRF-{number}"
            _db.session.add(statement)
            if number % 5 == 4:
                partner.status = PartnerStatus.SUSPENDED
            record("partner.noted", actor=ada, target=partner, details={"note": f"Partner {number:02} checked"})
            _db.session.commit()
        for number in range(APPLICATIONS):
            submit_application(
                application_input(
                    "premier" if number % 3 == 0 else "reseller",
                    name=f"Northwind {number}",
                    email=f"contact{number}@northwind{number}.example",
                ),
                "127.0.0.1",
            )
        first = _db.session.scalar(select(Partner).order_by(Partner.id))
        record(
            "partner.long_note",
            actor=ada,
            target=first,
            details={"before": {"note": ""}, "after": {"note": LONG_NOTE}, "reason": LONG_NOTE},
        )
        record("staff.checked", actor=ada, target=_db.session.get(User, manager.id), details={})
        record("user.checked", actor=ada, target=first.memberships[0].user, details={})
        registration = _db.session.scalar(select(DomainRegistration).order_by(DomainRegistration.id))
        record("domain.checked", actor=ada, target=registration, details={})
        statement = _db.session.scalar(select(PayoutStatement).order_by(PayoutStatement.id))
        record("statement.checked", actor=ada, target=statement, details={})
        _db.session.commit()
    return SimpleNamespace(admin=admin, manager=manager, client=staff_client(app, admin))


# --- Each page --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_a_list_searches_filters_sorts_pages_and_exports_what_it_shows(app, world, name):
    page = PAGES[name]
    client = world.client

    # The default list, over two pages at least; page 2 continues page 1.
    default = all_rows(client, page, {})
    assert len(default) > page.per_page, f"{name}: the data should fill more than a page"
    first = [page.table_key(c) for c in table_rows(client.get(page.path).get_data(as_text=True))]
    second = [
        page.table_key(c) for c in table_rows(client.get(page.path, query_string={"page": 2}).get_data(as_text=True))
    ]
    assert first == default[: page.per_page] and second == default[page.per_page : 2 * page.per_page]
    assert 'aria-current="page">2</a>' in client.get(page.path, query_string={"page": 2}).get_data(as_text=True)

    # The CSV holds every page, in the same order.
    assert csv_keys(client, page, {}) == default

    # A search keeps only what matches, in the table and in the CSV.
    found = all_rows(client, page, page.search)
    assert found and len(found) < len(default)
    assert csv_keys(client, page, page.search) == found

    # Filters: the table and the CSV agree for each one, and each changes the list.
    for query, _ in page.filters:
        listed = all_rows(client, page, query)
        assert listed != default, f"{name}: {query} changed nothing"
        assert csv_keys(client, page, query) == listed, query

    # Sort by a column both ways: the order is the one asked for, and the CSV follows it.
    key, part = page.sort
    ascending = all_rows(client, page, {"sort": key, "dir": "asc"})
    descending = all_rows(client, page, {"sort": key, "dir": "desc"})
    assert [part(k) for k in ascending] == sorted(part(k) for k in ascending)
    assert [part(k) for k in descending] == sorted((part(k) for k in descending), reverse=True)
    assert sorted(ascending, key=str) == sorted(descending, key=str) == sorted(default, key=str)
    assert csv_keys(client, page, {"sort": key, "dir": "desc"}) == descending
    header = client.get(page.path, query_string={"sort": key, "dir": "asc"}).get_data(as_text=True)
    assert 'aria-sort="ascending"' in header
    assert f"sort={key}&amp;dir=desc" in header  # the sorted column's link turns the order round

    # A sorted, filtered page keeps both in its page links and its CSV link.
    query = {**page.filters[-1][0], "sort": key, "dir": "desc"}
    listed = client.get(page.path, query_string=query).get_data(as_text=True)
    assert "dir=desc" in re.search(r'href="(/admin/[a-z-]+\.csv[^"]*)"', listed).group(1)


HOSTILE = [
    {"sort": ";drop table users"},
    {"sort": "password_hash"},
    {"dir": "sideways"},
    {"page": "-1"},
    {"page": "abc"},
    {"page": "0"},
    {"page": "²"},
    {"page": "99999999999999999999999"},
    {"page": "1e9"},
    {"level": "gold", "state": "nonsense", "status": "everything", "target": "secrets"},
    {"since": "yesterday", "until": "2026-13-45", "age": "-3"},
    {"q": "%_\\'\"; --", "mine": "maybe"},
]


@pytest.mark.parametrize("name", list(PAGES))
def test_hostile_query_strings_get_the_default_list_and_a_message(app, world, name):
    page = PAGES[name]
    client = world.client
    default = table_rows(client.get(page.path).get_data(as_text=True))
    for query in HOSTILE:
        for path in (page.path, page.csv):
            response = client.get(path, query_string=query)
            assert response.status_code == 200, (path, query)
        shown = client.get(page.path, query_string=query).get_data(as_text=True)
        if "page" in query and query["page"].startswith("9999"):
            assert "There is no page" in shown and "this is the last page" in shown
            assert table_rows(shown), "the last page is shown"
        elif "sort" in query or "dir" in query or "page" in query:
            assert table_rows(shown) == default, query
            assert 'class="alert alert-secondary' in shown, query
    assert "cannot be sorted by “;drop table users”" in client.get(
        page.path, query_string={"sort": ";drop table users"}
    ).get_data(as_text=True)


def test_the_csv_neutralises_formulas_and_keeps_the_filtered_rows_only(app, world):
    with app.app_context():
        partner = make_partner("Evil Corp", owner_email="evil@evil.example")
        partner.name = '=HYPERLINK("http://evil.example")'
        _db.session.commit()
        year = clock.today().year
    exported = parse_csv(world.client.get("/admin/partners.csv", query_string={"q": "hyperlink"}))
    assert [row["Partner"] for row in exported] == ['\'=HYPERLINK("http://evil.example")']
    assert list(exported[0]) == ["Partner", "Status", "Level now", "Channel sales manager", f"Revenue {year}"]
    assert exported[0]["Revenue " + str(year)] == "0.00" and exported[0]["Status"] == "Active"


def test_a_filter_matching_more_rows_than_a_csv_holds_asks_to_narrow_it(app, world, monkeypatch):
    monkeypatch.setattr("cloudcodes.admin.lists.CSV_MAX_ROWS", 5)
    refused = world.client.get("/admin/partners.csv", query_string={"status": "active"})
    assert refused.status_code == 303 and refused.headers["Location"] == "/admin/partners?status=active"
    page = world.client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "a CSV holds at most 5. Narrow the filters" in html.unescape(page)
    assert len(parse_csv(world.client.get("/admin/partners.csv", query_string={"q": "partner 07"}))) == 1


# --- Who may download ---------------------------------------------------------------------------------


def test_only_staff_download_and_only_what_their_role_may_see(app, world):
    with app.app_context():
        UserFactory(email="olivia@partner.example")
    partner_user = app.test_client()
    login(partner_user, "olivia@partner.example")
    anonymous = app.test_client()
    manager = staff_client(app, world.manager)
    for page in PAGES.values():
        assert partner_user.get(page.csv).status_code == 404
        response = anonymous.get(page.csv)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    for path in ("/admin/applications.csv", "/admin/partners.csv", "/admin/domains.csv"):
        assert manager.get(path).status_code == 200
    for path in ("/admin/payouts.csv", "/admin/audit.csv"):  # money and the audit log are for admins
        assert manager.get(path).status_code == 403


# --- The audit log ------------------------------------------------------------------------------------


def test_the_audit_log_links_each_record_and_shows_its_details_whole(app, world):
    client = world.client
    page = client.get("/admin/audit").get_data(as_text=True)
    assert LONG_NOTE in html.unescape(page)  # whole, not cut
    links = set(re.findall(r'<td class="text-nowrap"><a href="(/admin/[^"]+)">', page))
    kinds = {re.sub(r"/\d+.*", "", link) for link in links}
    assert {"/admin/partners", "/admin/applications", "/admin/domains", "/admin/payouts", "/admin/staff"} <= kinds
    for link in links:
        assert client.get(link).status_code == 200, link

    # A record that is gone is named without a link.
    with app.app_context():
        record("partner.ghost", actor=_db.session.get(User, world.admin.id), details={})
        ghost = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.ghost"))
        ghost.target_type, ghost.target_id = "partners", "999999"
        _db.session.commit()
    ghost_page = client.get("/admin/audit", query_string={"action": "partner.ghost"}).get_data(as_text=True)
    assert "Partner #999999" in ghost_page and "/admin/partners/999999" not in ghost_page

    exported = parse_csv(client.get("/admin/audit.csv", query_string={"action": "partner.long_note"}))
    assert len(exported) == 1 and LONG_NOTE in exported[0]["Details"]


def test_the_audit_log_filters_by_record_type_and_dates(app, world):
    client = world.client
    today = clock.today()
    partners = all_rows(client, PAGES["audit"], {"target": "partners"})
    assert partners and all(record.startswith("Partner #") for _, record in partners)
    assert all_rows(client, PAGES["audit"], {"since": (today + timedelta(days=1)).isoformat()}) == []
    everything = all_rows(client, PAGES["audit"], {})
    assert all_rows(client, PAGES["audit"], {"since": today.isoformat(), "until": today.isoformat()}) == everything
    backwards = client.get("/admin/audit", query_string={"since": today.isoformat(), "until": "2000-01-01"})
    assert "The end of the range is before its start" in backwards.get_data(as_text=True)


# --- Queries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_a_list_page_costs_the_same_queries_for_a_few_rows_as_for_a_full_page(app, world, count_queries, name):
    page = PAGES[name]
    client = world.client
    client.get(page.path)  # warm up (the program's terms, the session)
    few_query, many_query = {"q": "partner 07"}, {}
    if name == "domains":
        few_query = {"q": "partner-07"}
    elif name == "applications":
        few_query = {"q": "northwind 7"}
    elif name == "audit":  # the same kind of record on both, so the same links to find
        few_query, many_query = {"action": "partner.noted", "q": "partner 07"}, {"action": "partner.noted"}
    with count_queries() as few:
        response = client.get(page.path, query_string=few_query)
    assert len(table_rows(response.get_data(as_text=True))) == 1
    with count_queries() as many:
        response = client.get(page.path, query_string=many_query)
    assert len(table_rows(response.get_data(as_text=True))) == min(page.per_page, PARTNERS)
    assert many.count == few.count, many.statements
