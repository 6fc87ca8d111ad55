"""/dashboard/company: the company details, the channel manager, the payout details (validated,
encrypted at rest, shown masked), the tax form's upload and download, and the rule that a statement
is paid only once the payee's details are complete."""

from __future__ import annotations

import html
import re
import threading
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from cloudcodes import clock, crypto
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.billing.models import PayoutStatement
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.models import MemberRole, Partner, PartnerPayoutDetails
from cloudcodes.partners.services import add_member, create_partner
from tests.conftest import make_test_app
from tests.factories import UserFactory, give_payout_details
from tests.support.web import csrf_token, login, make_staff, staff_client

GOOD_IBAN = "DE89370400440532013000"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
OWNER = "olivia@acme-cloud.example"


def page_text(response) -> str:
    body = response if isinstance(response, str) else response.get_data(as_text=True)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture
def app(database_url, tmp_path):
    """The app with its instance folder (where tax forms are kept) in the test's own folder."""
    application = make_test_app(database_url, INSTANCE_PATH=str(tmp_path / "instance"))
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Acme Cloud, managed by Max, with an owner, a sales and a technical member; Nobody has no partner."""
    max_ = make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")
    other = make_staff(app, role="manager", full_name="Other Manager")
    admin = make_staff(app, role="admin", full_name="Ada Admin")
    with app.app_context():
        partner = create_partner(
            name="Acme Cloud",
            website="https://acme-cloud.example",
            country="France",
            level="reseller",
            channel_manager=_db.session.get(User, max_.id),
            effective_from=clock.today() - timedelta(days=30),
        )
        add_member(partner, UserFactory(email=OWNER, full_name="Olivia Owner"), MemberRole.OWNER)
        add_member(partner, UserFactory(email="sam@acme-cloud.example"), MemberRole.SALES)
        add_member(partner, UserFactory(email="tess@acme-cloud.example"), MemberRole.TECHNICAL)
        UserFactory(email="nobody@elsewhere.example")
        _db.session.commit()
        return SimpleNamespace(partner=partner.id, manager=max_, other=other, admin=admin)


def member(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def post(client, path, data, *, prefix, **kwargs):
    token = csrf_token(client.get("/dashboard/company").get_data(as_text=True))
    return client.post(path, data={f"{prefix}-csrf_token": token, **data}, **kwargs)


def payout(client, **fields):
    data = {
        "payee_legal_name": "Acme Cloud SAS",
        "payee_country": "DE",
        "method": "iban",
        "iban": GOOD_IBAN,
        "bic": "COBADEFFXXX",
        "tax_id": "DE136695976",
    }
    data.update(fields)
    return post(client, "/dashboard/company/payout", {f"payout-{k}": v for k, v in data.items()}, prefix="payout")


def upload(client, content=PDF, *, kind="w8bene", signed_on=None, filename="w8.pdf"):
    token = csrf_token(client.get("/dashboard/company").get_data(as_text=True))
    data = {
        "taxform-csrf_token": token,
        "taxform-kind": kind,
        "taxform-signed_on": (signed_on or clock.today()).isoformat(),
    }
    if content is not None:
        data["taxform-tax_form_file"] = FileStorage(BytesIO(content), filename, content_type="application/pdf")
    # Encoded in memory: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart(data)
    return client.post(
        "/dashboard/company/tax-form", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def stored(app, world) -> PartnerPayoutDetails | None:
    with app.app_context():
        details = _db.session.scalar(
            select(PartnerPayoutDetails).where(PartnerPayoutDetails.partner_id == world.partner)
        )
        if details is not None:
            _db.session.expunge(details)
        return details


# --- Who may open it --------------------------------------------------------------------------

PAGES = [
    ("get", "/dashboard/company"),
    ("post", "/dashboard/company/details"),
    ("post", "/dashboard/company/payout"),
    ("post", "/dashboard/company/tax-form"),
    ("get", "/dashboard/company/tax-form"),
]


@pytest.mark.parametrize("email", ["sam@acme-cloud.example", "tess@acme-cloud.example", "nobody@elsewhere.example"])
@pytest.mark.parametrize(("method", "path"), PAGES)
def test_only_owners_open_the_company_page_its_upload_and_download(app, world, email, method, path):
    owner = member(app, OWNER)
    assert payout(owner).status_code == 303
    assert upload(owner).status_code == 303  # a form on file: the download would find it
    assert owner.get("/dashboard/company/tax-form").status_code == 200
    client = member(app, email)
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 404


def test_the_owner_sees_the_company_the_manager_and_what_is_missing(app, world):
    owner = member(app, OWNER)
    response = owner.get("/dashboard/company")
    assert response.status_code == 200
    shown = page_text(response)
    assert "Max Manager" in shown and "max@cloudcodes.example" in shown
    assert "Your statements cannot be paid until these are given" in shown
    assert "The payee's legal name" in shown
    assert 'value="Acme Cloud"' in response.get_data(as_text=True)
    assert "Company and payout details" in page_text(owner.get("/dashboard/"))
    assert "Company and payout details" not in page_text(member(app, "sam@acme-cloud.example").get("/dashboard/"))


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    assert client.get("/dashboard/company").status_code == 302


# --- Company details --------------------------------------------------------------------------


def test_owners_change_the_company_details_audited_and_shown_to_the_manager(app, world):
    owner = member(app, OWNER)
    data = {"company-name": "Acme Cloud Europe", "company-website": "acme-cloud.eu", "company-country": "Germany"}
    data["company-phone"] = "+49 30 1234567"
    response = post(owner, "/dashboard/company/details", data, prefix="company")
    assert response.status_code == 303
    assert "The company details are saved" in page_text(owner.get("/dashboard/company"))
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.company_changed"))
        assert event.details["before"] == {
            "country": "France",
            "name": "Acme Cloud",
            "phone": "",
            "website": "https://acme-cloud.example",
        }
        assert event.details["after"]["website"] == "https://acme-cloud.eu"
        assert event.actor_email == OWNER
    console = page_text(staff_client(app, world.manager).get(f"/admin/partners/{world.partner}"))
    assert "Recent company and payout changes" in console
    assert "Name: Acme Cloud → Acme Cloud Europe" in console

    again = post(owner, "/dashboard/company/details", data, prefix="company")
    assert again.status_code == 303
    assert "Nothing changed" in page_text(owner.get("/dashboard/company"))


def test_a_bad_company_detail_is_answered_on_its_field(app, world):
    owner = member(app, OWNER)
    data = {"company-name": "", "company-website": "not a site", "company-country": "Atlantis"}
    response = post(owner, "/dashboard/company/details", data, prefix="company")
    assert response.status_code == 400
    shown = page_text(response)
    assert "Enter your company's name." in shown
    assert "Enter a web address such as https://www.example.com." in shown
    assert "Not a valid choice" in shown


# --- Payout details ---------------------------------------------------------------------------


def test_payout_details_are_validated_with_messages_that_say_what_to_fix(app, world):
    owner = member(app, OWNER)
    cases = [
        ({"iban": "DE89370400440532013001"}, "This IBAN's check digits do not match"),
        ({"iban": "DE8937040044053201300"}, "which is not the length of an IBAN of DE"),
        ({"bic": "BNPAFRPPXXX"}, "This BIC is of a bank in FR, but the IBAN is of an account in DE"),
        ({"tax_id": "DE136695977"}, "not a valid tax ID or VAT number for Germany"),
        ({"payee_legal_name": ""}, "Enter the payee's legal name."),
        ({"payee_country": "ZZ"}, "Not a valid choice"),
        ({"method": "cheque"}, "Not a valid choice"),
        ({"method": "us_bank", "account_number": "12", "routing_number": "011000015"}, "4 to 17 digits"),
        ({"method": "us_bank", "account_number": "12345678", "routing_number": "011000016"}, "check digit"),
        ({"method": "paypal", "paypal_email": "nope"}, "Enter a valid e-mail address"),
    ]
    for fields, message in cases:
        response = payout(owner, **fields)
        assert response.status_code == 400, fields
        assert message in page_text(response), (fields, page_text(response)[:3000])
    assert stored(app, world) is None


def test_numbers_are_stored_encrypted_and_shown_masked_never_in_a_field(app, world):
    owner = member(app, OWNER)
    response = payout(owner)
    assert response.status_code == 303
    page = owner.get("/dashboard/company").get_data(as_text=True)
    assert "The payout details are saved. Still needed before a payout: the tax form" in page_text(page)
    assert "DE•• •••• … 3000" in page and "•••• 5976" in page
    assert GOOD_IBAN not in page and "136695976" not in page
    assert not re.search(r'<input[^>]*value="[^"]*•', page)  # the masked value is never put back in a field
    with app.app_context():
        raw = _db.session.execute(text("SELECT iban, tax_id, bic FROM partner_payout_details")).one()
        assert GOOD_IBAN not in raw.iban and "0532013000" not in raw.iban
        assert "136695976" not in raw.tax_id
        keys = tuple(app.config["PAYOUT_ENCRYPTION_KEYS"])
        assert crypto.decrypt(raw.iban, keys) == GOOD_IBAN
        assert crypto.decrypt(raw.tax_id, keys) == "136695976"
        assert raw.bic == "COBADEFFXXX"
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.payout_details_changed"))
        assert event.details["after"]["iban"] == "DE•• •••• … 3000"
        assert GOOD_IBAN not in str(event.details)


def test_a_blank_number_keeps_the_stored_one_and_retyping_replaces_it(app, world):
    owner = member(app, OWNER)
    assert payout(owner).status_code == 303
    assert payout(owner, iban="", tax_id="", payee_legal_name="Acme Cloud GmbH").status_code == 303
    details = stored(app, world)
    assert details.payee_legal_name == "Acme Cloud GmbH"
    with app.app_context():
        details = _db.session.get(PartnerPayoutDetails, details.id)
        assert (details.iban, details.tax_id) == (GOOD_IBAN, "136695976")
    assert payout(owner, iban="GB33BUKB20201555555555", bic="").status_code == 303
    with app.app_context():
        details = _db.session.get(PartnerPayoutDetails, details.id)
        assert (details.iban, details.bic) == ("GB33BUKB20201555555555", "BUKBGB22")  # the BIC looked up
    # Switching to PayPal keeps only PayPal's detail; a new country asks for the tax ID again.
    assert payout(owner, method="paypal", paypal_email="pay@acme.example", iban="").status_code == 303
    response = payout(owner, method="paypal", paypal_email="pay@acme.example", payee_country="FR", tax_id="")
    assert response.status_code == 400
    assert "The payee's country changed: enter the tax ID or VAT number again." in page_text(response)
    with app.app_context():
        details = _db.session.get(PartnerPayoutDetails, details.id)
        assert (details.method, details.iban, details.bic, details.paypal_email) == (
            "paypal",
            None,
            None,
            "pay@acme.example",
        )


def test_us_payees_give_account_and_routing_numbers_and_an_ein(app, world):
    owner = member(app, OWNER)
    response = payout(
        owner,
        payee_country="US",
        method="us_bank",
        account_number="000123456789",
        routing_number="011000015",
        tax_id="12-3456789",
        iban="",
        bic="",
    )
    assert response.status_code == 303
    shown = page_text(owner.get("/dashboard/company"))
    assert "•••• 6789" in shown and "011000015" in shown
    assert "000123456789" not in shown
    assert upload(owner, kind="w8ben").status_code == 400  # a US payee gives a W-9
    assert upload(owner, kind="w9").status_code == 303


# --- The tax form -----------------------------------------------------------------------------


def test_the_tax_form_must_be_a_pdf_of_at_most_5_mb(app, world):
    owner = member(app, OWNER)
    assert "Save the payee's details" in page_text(upload(owner))
    assert payout(owner).status_code == 303
    not_pdf = upload(owner, b"\x89PNG\r\n\x1a\n" + b"0" * 100, filename="scan.png")
    assert not_pdf.status_code == 400
    assert "This file is not a PDF" in page_text(not_pdf)
    just_over = upload(owner, PDF + b"0" * (5 * 1024 * 1024))
    assert just_over.status_code == 400
    assert "the form may be at most 5 MB" in page_text(just_over)
    far_over = upload(owner, PDF + b"0" * (7 * 1024 * 1024))
    assert far_over.status_code == 303  # not a bare 413 page: back to the page, with the reason
    assert "larger than 5 MB" in page_text(owner.get(far_over.headers["Location"]))
    no_file = upload(owner, None)
    assert "Choose the signed form's PDF file" in page_text(no_file)
    future = upload(owner, signed_on=clock.today() + timedelta(days=1))
    assert "cannot be in the future" in page_text(future)
    assert stored(app, world).tax_form_file is None


def test_the_tax_form_is_kept_outside_static_and_served_only_to_owners_and_admins(app, world):
    owner = member(app, OWNER)
    assert payout(owner).status_code == 303
    assert upload(owner).status_code == 303
    details = stored(app, world)
    folder = Path(app.instance_path) / "tax-forms"
    path = folder / details.tax_form_file
    assert path.read_bytes() == PDF
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", details.tax_form_file)  # random, not the uploaded name
    assert Path(app.static_folder).resolve() not in path.resolve().parents

    download = owner.get("/dashboard/company/tax-form")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf"

    console = f"/admin/partners/{world.partner}"
    admin = staff_client(app, world.admin)
    assert "Download the signed form (PDF)" in page_text(admin.get(console))
    assert admin.get(f"{console}/tax-form").data == PDF
    manager = staff_client(app, world.manager)
    assert "Download the signed form" not in page_text(manager.get(console))
    assert manager.get(f"{console}/tax-form").status_code == 403
    assert admin.get("/admin/partners/999999/tax-form").status_code == 404

    assert upload(owner, signed_on=clock.today() - timedelta(days=3)).status_code == 303  # replaces the old one
    assert not path.exists()
    assert len(list(folder.iterdir())) == 1


# --- Paying a statement -----------------------------------------------------------------------


def make_statement(app, world) -> int:
    with app.app_context():
        statement = PayoutStatement(partner_id=world.partner, period_start=date(2026, 10, 1), total=Money(15000, "USD"))
        _db.session.add(statement)
        _db.session.commit()
        return statement.id


def test_a_statement_is_not_paid_while_the_payout_details_are_incomplete(app, world):
    statement_id = make_statement(app, world)
    admin = staff_client(app, world.admin)
    path = f"/admin/payouts/{statement_id}"
    shown = page_text(admin.get(path))
    assert "Cannot be paid yet" in shown
    assert "The payee's legal name" in shown and "A tax ID or VAT number" in shown
    assert "Mark as paid" not in shown
    token = csrf_token(admin.get(path).get_data(as_text=True))
    refused = admin.post(f"{path}/paid", data={"csrf_token": token, "reference": "TRF-1", "confirm": "y"})
    assert refused.status_code == 303
    assert "cannot be marked as paid while the partner's payout details are incomplete" in page_text(admin.get(path))
    with app.app_context():
        assert _db.session.get(PayoutStatement, statement_id).paid_at is None
    assert "Statements cannot be marked paid yet" in page_text(admin.get(f"/admin/partners/{world.partner}"))

    owner = member(app, OWNER)
    assert payout(owner).status_code == 303
    assert upload(owner).status_code == 303
    assert "Your payout details are complete" in page_text(owner.get("/dashboard/company"))
    assert "Mark as paid" in page_text(admin.get(path))
    token = csrf_token(admin.get(path).get_data(as_text=True))
    paid = admin.post(f"{path}/paid", data={"csrf_token": token, "reference": "TRF-1", "confirm": "y"})
    assert paid.status_code == 303
    with app.app_context():
        assert _db.session.get(PayoutStatement, statement_id).payment_reference == "TRF-1"


# --- Key rotation -----------------------------------------------------------------------------


def test_rotating_the_key_keeps_old_values_readable_and_re_encrypts_them(database_url, tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def app_with(keys):
        return make_test_app(database_url, INSTANCE_PATH=str(tmp_path), PAYOUT_ENCRYPTION_KEY=keys)

    first = app_with(old)
    with first.app_context():
        partner = create_partner(
            name="Keyed", website="https://k.example", country="Germany", level="reseller", channel_manager=None
        )
        _db.session.commit()
        partner_id = partner.id
        give_payout_details(partner_id)
        before = _db.session.execute(text("SELECT iban FROM partner_payout_details")).scalar_one()
        _db.session.remove()
        _db.engine.dispose()

    rotated = app_with(f"{new},{old}")
    with rotated.app_context():
        assert _db.session.scalar(select(PartnerPayoutDetails.iban)) == GOOD_IBAN  # the old key still reads
    result = rotated.test_cli_runner().invoke(args=["payout-keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted the payout details of 1 partner" in result.output
    with rotated.app_context():
        after = _db.session.execute(text("SELECT iban FROM partner_payout_details")).scalar_one()
        assert after != before and GOOD_IBAN not in after
        _db.session.remove()
        _db.engine.dispose()

    only_new = app_with(new)
    with only_new.app_context():
        details = _db.session.scalar(select(PartnerPayoutDetails))
        assert (details.iban, details.tax_id) == (GOOD_IBAN, "136695976")
        _db.session.remove()
        _db.engine.dispose()


# --- Two owners at once -----------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_owners_saving_the_first_payout_details_at_once_make_one_row(request, engine, tmp_path):
    from cloudcodes.partners.company import PayoutInput, save_payout_details

    race_app = make_test_app(request.getfixturevalue(f"{engine}_database"), INSTANCE_PATH=str(tmp_path))
    with race_app.app_context():
        partner = create_partner(
            name="Twice", website="https://twice.example", country="Germany", level="reseller", channel_manager=None
        )
        owners = [UserFactory(), UserFactory()]
        for owner in owners:
            add_member(partner, owner, MemberRole.OWNER)
        _db.session.commit()
        partner_id, owner_ids = partner.id, [owner.id for owner in owners]
    barrier = threading.Barrier(2)
    outcomes, failures = [], []

    def save(owner_id: int, name: str) -> None:
        with race_app.app_context():
            try:
                partner, owner = _db.session.get(Partner, partner_id), _db.session.get(User, owner_id)
                _db.session.commit()  # no transaction held at the barrier (SQLite's would hold the write lock)
                barrier.wait(timeout=30)
                data = PayoutInput(name, "DE", "iban", iban=GOOD_IBAN, bic="COBADEFFXXX", tax_id="DE136695976")
                save_payout_details(partner, data, by=owner)
                # What was saved, not the returned row's attribute: that is read again after the commit
                # and may already hold the other owner's save.
                outcomes.append(name)
            except BaseException as error:  # noqa: BLE001 - reported in the test's own thread
                failures.append(error)
                barrier.abort()
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=save, args=(i, f"Payee {i}")) for i in owner_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(outcomes) == sorted(f"Payee {i}" for i in owner_ids)
    with race_app.app_context():
        rows = _db.session.scalars(select(PartnerPayoutDetails)).all()
        assert len(rows) == 1 and rows[0].payee_legal_name in outcomes
        assert (
            _db.session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "partner.payout_details_changed")
            )
            == 2
        )
        _db.session.remove()
        _db.engine.dispose()
