"""The earnings page's filters (period, product, domain, code, kind), its totals, the net after refunds,
the CSV downloads that hold exactly what the filtered tables show, and the statement as a PDF."""

import csv
import io
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cloudcodes import formatting
from cloudcodes.billing.models import Product
from cloudcodes.billing.payouts import close_month, mark_paid
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from tests.integration.test_payouts import admin_user, build_world, on, partner_client, refund, statements_of
from tests.support.html import attribute_of, table_cells

TODAY = (2026, 3, 15)


@pytest.fixture
def alpha(app):
    """Alpha of ``build_world`` (A-1 acme.com direct, A-2 globex.com direct, A-3 umbrella.com through it),
    February closed and paid, then a part of A-1 refunded after the payout and a part of A-3 refunded."""
    world = build_world(app)
    with app.app_context():
        with on(2026, 3, 3):
            close_month(date(2026, 2, 1), by=admin_user())
        with on(2026, 3, 4):
            [statement] = statements_of(world["alpha"])
            mark_paid(statement, reference="TRF-2026-02", by=admin_user())
        with on(2026, 3, 10):
            refund("A-1", "R-1", "400.00", datetime(2026, 3, 10, 9, tzinfo=UTC))
            refund("A-3", "R-3", "1000.00", datetime(2026, 3, 11, 9, tzinfo=UTC))
        world["statement"] = statements_of(world["alpha"])[0].id
        world["bravo_statement"] = statements_of(world["bravo"])[0].id
        world["product"] = _db.session.scalar(select(Product.id).where(Product.sku == "CC-ACCESS"))
    with on(*TODAY):
        world["client"] = partner_client(app, "owner@alpha.example")
    return world


def usd(text):
    return formatting.money(Money.parse(text, "USD")) if text else "—"


def read_csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def purchases_as_the_csv_says(rows):
    """The CSV's purchases as the table writes them: date, domain, product, seats, amount, bought, earning, net."""
    return [
        [
            formatting.date(date.fromisoformat(row["Date"])),
            row["Customer domain"],
            row["Product"],
            row["Seats"],
            usd(row["Amount"]),
            row["Bought"],
            f"{usd(row['Commission or discount'])} {row['Kind'].lower()}",
            usd(row["Net commission or discount"]),
        ]
        for row in rows
    ]


def purchases_as_the_table_shows(page):
    return [cells[:7] + cells[8:9] for cells in table_cells(page, "purchases-table")]


def ledger_as_the_csv_says(rows):
    return [
        [
            formatting.date(date.fromisoformat(row["Date"])),
            row["Kind"],
            row["Description"],
            usd(row["Amount"]),
            formatting.date(date.fromisoformat(row["Statement"] + "-01"), "month") if row["Statement"] else "—",
        ]
        for row in rows
    ]


def ledger_as_the_table_shows(page):
    return [cells[:4] + cells[5:6] for cells in table_cells(page, "ledger-table")]


def filtered(client, args):
    with on(*TODAY):
        response = client.get("/dashboard/earnings", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def download(client, page, link_id):
    """Follow the page's own download link, so the test also checks that it carries the filter."""
    with on(*TODAY):
        return read_csv(client.get(attribute_of(page, link_id, "href")))


FILTERS = {
    "none": ({}, {"A-1", "A-2", "A-3"}, {"Commission", "Discount", "Payout", "Refund", "Discount refunded"}),
    "last month": ({"period": "last-month"}, {"A-2"}, {"Commission"}),
    "days in January": ({"since": "2026-01-01", "until": "2026-01-31"}, {"A-1", "A-3"}, {"Commission", "Discount"}),
    "a domain as typed": ({"domain": "https://WWW.Acme.com/"}, {"A-1"}, {"Commission", "Refund"}),
    "refunds": ({"kind": "refund"}, {"A-1"}, {"Refund"}),
    "discounts": ({"kind": "discount"}, {"A-3"}, {"Discount"}),
    # The payout belongs to no purchase: a product filter leaves it out.
    "the product": (
        {"product": "{product}"},
        {"A-1", "A-2", "A-3"},
        {"Commission", "Discount", "Refund", "Discount refunded"},
    ),
    "a code in lower case": ({"code": "{globex}"}, {"A-2"}, {"Commission"}),
}


@pytest.mark.parametrize("name", FILTERS)
def test_the_csvs_hold_exactly_what_the_filtered_tables_show(alpha, name):
    template, orders, kinds = FILTERS[name]
    args = {
        key: value.format(product=alpha["product"], globex=alpha["codes"]["globex.com"].lower())
        for key, value in template.items()
    }
    page = filtered(alpha["client"], args)

    purchases = download(alpha["client"], page, "purchases-csv")
    assert {row["Order ID"] for row in purchases} == orders
    assert purchases_as_the_table_shows(page) == purchases_as_the_csv_says(purchases)

    ledger = download(alpha["client"], page, "ledger-csv")
    assert {row["Kind"] for row in ledger} == kinds
    assert ledger_as_the_table_shows(page) == ledger_as_the_csv_says(ledger)

    # The totals are those of the filtered rows.
    assert page.count('id="total-purchases"') == 1
    total = sum((Decimal(row["Net commission or discount"]) for row in purchases), Decimal(0))
    assert usd(str(total)) in page.split('id="total-net-commission"')[1].split("</dd>")[0]


def test_the_net_after_refunds_is_shown_per_purchase(alpha):
    page = filtered(alpha["client"], {"domain": "acme.com"})
    [row] = table_cells(page, "purchases-table")
    # $1,000.00 bought, $150.00 commission, $400.00 refunded: $60.00 of the commission reversed.
    assert row[4] == "$1,000.00" and row[6] == "$150.00 commission"
    assert row[7] == "$400.00 in part" and row[8] == "$90.00"
    [csv_row] = download(alpha["client"], page, "purchases-csv")
    assert (csv_row["Refunded"], csv_row["Net amount"], csv_row["Net commission or discount"]) == (
        "400.00",
        "600.00",
        "90.00",
    )


def test_the_kind_totals_add_up_to_the_ledger(alpha):
    page = filtered(alpha["client"], {})
    kinds = page.split('id="kind-totals"')[1].split("</ul>")[0]
    for label, amount in [
        ("Commission", "$210.00"),
        ("Discount", "$300.00"),
        ("Refund", "-$60.00"),
        ("Discount refunded", "-$150.00"),
        ("Payout", "-$150.00"),
    ]:
        assert f'<span class="fw-semibold">{label}</span>: {amount}' in kinds


@pytest.mark.parametrize(
    ("args", "field_id", "message", "listed"),
    [
        ({"since": "2026-13-45"}, "since", "Enter a day as year, month and day", 3),
        # The first day still applies (A-2 of 25 February); the end before it is refused.
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until", "The last day is before the first", 1),
        ({"domain": "not a domain"}, "domain", "", 3),
        ({"domain": "x" * 400}, "domain", "at most 253 characters", 3),
        ({"code": "CC-7K3Q-9M2P-XW44"}, "code", "typo", 3),
        ({"code": "CC-7K3Q\r\n"}, "code", "", 3),
        ({"product": "999999"}, "product", "Choose a product from the list.", 3),
        ({"kind": "bribe"}, "kind", "Choose a kind from the list.", 3),
        ({"period": "forever"}, "period", "Choose a period from the list.", 3),
    ],
)
def test_a_wrong_filter_is_named_next_to_its_field_and_left_out(alpha, args, field_id, message, listed):
    page = filtered(alpha["client"], args)
    error = page.split(f'id="{field_id}-error"')
    assert len(error) == 2, f"no error next to {field_id}"
    assert message in error[1].split("</div>")[0]
    assert f'id="{field_id}"' in page and 'aria-invalid="true"' in page
    # The refused value filters nothing; the others still do.
    assert len(table_cells(page, "purchases-table")) == listed


def test_a_filter_that_matches_nothing_says_so(alpha):
    page = filtered(alpha["client"], {"kind": "payout"})
    assert "No purchase matches these filters." in page
    assert [cells[1] for cells in table_cells(page, "ledger-table")] == ["Payout"]
    page = filtered(alpha["client"], {"domain": "nobody-bought.com"})
    assert "No purchase matches these filters." in page and "No ledger entry matches these filters." in page


def test_the_statement_pdf_is_the_statement(alpha):
    client = alpha["client"]
    with on(*TODAY):
        response = client.get(f"/dashboard/earnings/statements/{alpha['statement']}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="cloudcodes-statement-2026-02.pdf"'
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    for expected in (
        "Payout statement",
        "February 2026",
        "Alpha",
        "1 February 2026 to 28 February 2026",
        "Commission on order A-1 (acme.com)",
        "$150.00",
        "Paid on 4 March 2026, reference TRF-2026-02",
        "Page 1 of 1",
    ):
        assert expected in text, expected
    # The page links to it; another partner's statement is not found.
    assert f"/dashboard/earnings/statements/{alpha['statement']}.pdf" in filtered(client, {})
    with on(*TODAY):
        assert client.get(f"/dashboard/earnings/statements/{alpha['bravo_statement']}.pdf").status_code == 404


def test_the_statement_renderer_fetches_nothing():
    """Even an image or a style sheet in the document is never fetched: a loopback server counts the requests."""
    from weasyprint import HTML

    from cloudcodes.dashboard.statement_pdf import NothingFetched

    requests = []

    class Counter(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        document = f'<link rel="stylesheet" href="{url}/style.css"><p>Statement</p><img src="{url}/pixel.png">'
        assert HTML(string=document, url_fetcher=NothingFetched()).write_pdf().startswith(b"%PDF")
        # The same document with WeasyPrint's own fetcher does reach the server: the counter works.
        HTML(string=document).write_pdf()
    finally:
        server.shutdown()
        server.server_close()
    assert requests and all(path in ("/style.css", "/pixel.png") for path in requests)
    assert len(requests) == 2, requests
