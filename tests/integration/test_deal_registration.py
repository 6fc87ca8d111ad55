"""Deal registration: proof (the DNS TXT record, the customer's confirmation link), the DNS evidence,
self-referral and e-mail refusals, the cap and the renewal window, and claims decided with evidence
and appealed once, never naming the other partner. DNS answers come from a real dnsmasq on loopback."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.partners.models import MemberRole
from cloudcodes.partners.services import add_member, create_partner
from cloudcodes.program.services import update_program_terms
from cloudcodes.referrals.claims import ClaimError, decide, file_claim
from cloudcodes.referrals.models import (
    AppealStatus,
    ClaimStatus,
    DomainRegistration,
    RegistrationClaim,
    RegistrationStatus,
    Verification,
)
from cloudcodes.referrals.services import active_registration
from tests.factories import StaffFactory, UserFactory
from tests.support.web import csrf_token, login, make_staff, staff_client, submit

PAGE = "/dashboard/referrals"
REGISTER = "/dashboard/referrals/registrations"
ALPHA = "olivia@alpha-cloud.com"
BETA = "bruno@beta-systems.com"


@pytest.fixture
def world(app, dns):
    """Alpha (managed by Max) and Beta (managed by Mia), Resellers; every test's DNS from ``dns``."""
    app.config["DNS_RESOLVER"] = dns.address()
    staff = {
        "max": make_staff(app, email="max@cloudcodes.example", full_name="Max Manager"),
        "mia": make_staff(app, email="mia@cloudcodes.example", full_name="Mia Manager"),
    }
    with app.app_context():
        max_, mia = (_db.session.get(User, staff[key].id) for key in ("max", "mia"))
        ids = {}
        for name, email, manager in (("Alpha Cloud Ltd", ALPHA, max_), ("Beta Systems GmbH", BETA, mia)):
            partner = create_partner(
                name=name, website=f"https://www.{email.partition('@')[2]}", country="United Kingdom",
                level="reseller", channel_manager=manager,
            )  # fmt: skip
            add_member(partner, UserFactory(email=email), MemberRole.OWNER)
            _db.session.commit()
            ids[name.split()[0].lower()] = partner.id
        ids["max"], ids["mia"] = max_.id, mia.id
    ids["staff"] = staff
    return ids


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def register(client, domain):
    return submit(client, REGISTER, {"domain": domain}, page=PAGE)


def act(client, path, prefix, **fields):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    return client.post(path, data={f"{prefix}-csrf_token": token, **{f"{prefix}-{k}": v for k, v in fields.items()}})


def page(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    return unescape(response.get_data(as_text=True))


def field_error(response, field_id="domain") -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert match, f"no error for {field_id}"
    return unescape(match.group(1))


def registration_of(domain) -> DomainRegistration:
    _db.session.expire_all()
    return _db.session.scalar(
        select(DomainRegistration).where(DomainRegistration.domain == domain).order_by(DomainRegistration.id.desc())
    )


def follow(client, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return unescape(client.get(response.headers["Location"]).get_data(as_text=True))


# --- Evidence and proof ---------------------------------------------------------------------------


def test_the_txt_record_verifies_and_a_wrong_or_missing_one_does_not(app, world, dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha = client_for(app, ALPHA)
    assert register(alpha, "acme.com").status_code == 303
    with app.app_context():
        registration = registration_of("acme.com")
        token, rid = registration.proof_token, registration.id
        assert registration.mx_workspace is True and registration.dns_resolves is True
        assert registration.mx_hosts == "smtp.google.com" and registration.dns_checked_at is not None
    html = page(alpha)
    assert "Claimed, not verified" in html and "Mail at Google Workspace" in html
    assert f"cloudcodes-partner={token}" in html  # the record to add, with a copy button

    check = lambda: follow(alpha, act(alpha, f"{REGISTER}/{rid}/check-dns", f"check-{rid}"))  # noqa: E731
    assert "The record is not on acme.com yet" in check()  # missing
    dns.set_records([("acme.com", "MX", "smtp.google.com"), ("acme.com", "TXT", "cloudcodes-partner=someone-else")])
    assert "The record is not on acme.com yet" in check()  # wrong token
    dns.set_records([("acme.com", "MX", "smtp.google.com"), ("acme.com", "TXT", f"cloudcodes-partner={token}")])
    html = check()
    assert "Verified: acme.com has the record" in html
    assert "Verified by a DNS record on the domain" in html and 'proof-badge">Verified' in html
    with app.app_context():
        assert registration_of("acme.com").verification == Verification.DNS


def test_mx_evidence_for_a_workspace_and_another_domain_and_a_domain_without_dns_is_refused(app, world, dns):
    dns.set_records(
        [
            ("acme.com", "MX", "10 alt1.aspmx.l.google.com"),
            ("globex.com", "MX", "mx.mailhost.net"),
            ("initech.com", "A", "192.0.2.10"),
        ]
    )
    alpha = client_for(app, ALPHA)
    for domain in ("acme.com", "globex.com", "initech.com"):
        assert register(alpha, domain).status_code == 303
    with app.app_context():
        assert registration_of("acme.com").mx_workspace is True
        globex = registration_of("globex.com")
        assert globex.mx_workspace is False and globex.mx_hosts == "mx.mailhost.net"
        initech = registration_of("initech.com")
        assert initech.dns_resolves is True and initech.mx_workspace is False
    html = page(alpha)
    assert "Mail elsewhere (mx.mailhost.net)" in html and "Resolves, no mail servers" in html
    refused = register(alpha, "no-such-customer.com")
    assert refused.status_code == 400
    assert "no-such-customer.com has no DNS records at all" in field_error(refused)
    with app.app_context():
        assert registration_of("no-such-customer.com") is None


def test_a_dns_server_that_does_not_answer_never_verifies_and_never_fails(app, world, dns, silent_dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha = client_for(app, ALPHA)
    assert register(alpha, "acme.com").status_code == 303
    rid = None
    with app.app_context():
        rid = registration_of("acme.com").id
    app.config["DNS_RESOLVER"] = silent_dns
    html = follow(alpha, act(alpha, f"{REGISTER}/{rid}/check-dns", f"check-{rid}"))
    assert "We could not check the domain's DNS right now" in html and "try again in a few minutes" in html
    # Registering while the DNS is silent still works: the evidence is read later, by the job.
    assert register(alpha, "globex.com").status_code == 303
    with app.app_context():
        assert registration_of("acme.com").verified_at is None
        assert registration_of("globex.com").dns_checked_at is None
    app.config["DNS_RESOLVER"] = dns.address()
    dns.set_records([("globex.com", "MX", "smtp.google.com")])
    result = app.test_cli_runner().invoke(args=["domains", "verify"])
    assert result.exit_code == 0 and "Checked 1 registration: 0 verified" in result.output  # acme.com was read
    with app.app_context():
        assert registration_of("globex.com").mx_workspace is True


def test_the_job_verifies_a_registration_once_its_record_is_there(app, world, dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha = client_for(app, ALPHA)
    register(alpha, "acme.com")
    with app.app_context():
        token = registration_of("acme.com").proof_token
    dns.set_records([("acme.com", "MX", "smtp.google.com"), ("acme.com", "TXT", f"cloudcodes-partner={token}")])
    runner = app.test_cli_runner()
    # Checked at registration: not again within six hours.
    assert "Checked 0 registrations" in runner.invoke(args=["domains", "verify"]).output
    with time_machine.travel(clock.now() + timedelta(hours=7), tick=False):
        assert "Checked 1 registration: 1 verified" in runner.invoke(args=["domains", "verify"]).output
    with app.app_context():
        assert registration_of("acme.com").verified


def test_the_confirmation_link_verifies_once(app, world, dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha = client_for(app, ALPHA)
    register(alpha, "acme.com")
    with app.app_context():
        rid = registration_of("acme.com").id
    path, prefix = f"{REGISTER}/{rid}/confirmation", f"confirm-{rid}"
    refused = act(alpha, path, prefix, confirmation_email="ceo@globex.com")
    assert refused.status_code == 400
    assert "The address must be at acme.com" in field_error(refused, f"{prefix}-confirmation_email")
    html = follow(alpha, act(alpha, path, prefix, confirmation_email="IT@Mail.Acme.com"))
    assert "We e-mailed IT@mail.acme.com a link to confirm" in html
    with app.app_context():
        [mail] = _db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "registration_confirm"))
        assert mail.to_address == "IT@mail.acme.com"
        assert "Alpha Cloud Ltd" in mail.subject  # the customer is told who asks
        link = re.search(r"http://\S+/confirm-registration/\S+", mail.text_body).group(0)
    customer = app.test_client()
    landing = customer.get(link.split("5000", 1)[1])
    assert landing.status_code == 200
    assert "Yes, Alpha Cloud Ltd works with us" in unescape(landing.get_data(as_text=True))
    with app.app_context():
        assert not registration_of("acme.com").verified  # opening the link confirms nothing
    token = csrf_token(landing.get_data(as_text=True))
    done = customer.post(link.split("5000", 1)[1], data={"csrf_token": token})
    assert done.status_code == 200 and "Thank you: you confirmed" in unescape(done.get_data(as_text=True))
    again = customer.post(link.split("5000", 1)[1], data={"csrf_token": token})
    assert again.status_code == 404 and "already used" in unescape(again.get_data(as_text=True))
    assert customer.get(link.split("5000", 1)[1] + "x").status_code == 404
    with app.app_context():
        registration = registration_of("acme.com")
        assert registration.verification == Verification.CONFIRMATION
    assert "Verified by the customer's confirmation" in page(alpha)


# --- What a partner may register --------------------------------------------------------------------


def test_self_referral_is_refused_for_the_web_site_and_member_e_mail_domains(app, world, dns):
    dns.set_records([("alpha-cloud.com", "MX", "smtp.google.com"), ("freelance-sales.com", "MX", "smtp.google.com")])
    with app.app_context():
        from cloudcodes.partners.models import Partner

        sam = UserFactory(email="sam@freelance-sales.com")
        add_member(_db.session.get(Partner, world["alpha"]), sam, MemberRole.SALES)
        _db.session.commit()
    alpha = client_for(app, ALPHA)
    for typed in ("alpha-cloud.com", "https://shop.alpha-cloud.com/", "freelance-sales.com"):
        refused = register(alpha, typed)
        assert refused.status_code == 400
        assert "is your own company's domain" in field_error(refused) and "cannot refer itself" in field_error(refused)
    typed_email = register(alpha, "ana@acme.com")
    assert "That is an e-mail address. Type the customer's domain only" in field_error(typed_email)
    assert "type acme.com" in field_error(typed_email)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(DomainRegistration)) == 0


def test_the_cap_per_level_and_the_renewal_window(app, world, dns):
    dns.set_records([(f"c{n}.com", "A", "192.0.2.1") for n in range(4)])
    with app.app_context():
        update_program_terms(reseller_registration_cap=2, premier_registration_cap=5)
    alpha = client_for(app, ALPHA)
    assert register(alpha, "c0.com").status_code == 303
    assert register(alpha, "c1.com").status_code == 303
    refused = register(alpha, "c2.com")
    assert refused.status_code == 400
    assert "You hold 2 active registrations, the most your level allows (Reseller 2, Premier 5)" in field_error(refused)
    with app.app_context():
        c0 = registration_of("c0.com")
        rid, ends = c0.id, c0.expires_at
    html = page(alpha)
    assert "Renewable from" in html and "Renew for 90 days" not in html
    early = follow(alpha, act(alpha, f"{REGISTER}/{rid}/renew", f"renew-{rid}"))
    assert "can be renewed in its last 30 days only" in early
    with time_machine.travel(ends - timedelta(days=29), tick=False):
        alpha = client_for(app, ALPHA)
        assert "Renew for 90 days" in page(alpha)
        assert "is renewed" in follow(alpha, act(alpha, f"{REGISTER}/{rid}/renew", f"renew-{rid}"))


# --- Claims --------------------------------------------------------------------------------------


def names_in(text):
    return [name for name in ("Alpha Cloud", "Beta Systems") if name in text]


def mails(template):
    return list(_db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def test_a_claim_is_decided_by_the_holders_manager_appealed_once_and_names_are_never_leaked(app, world, dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha, beta = client_for(app, ALPHA), client_for(app, BETA)
    assert register(alpha, "acme.com").status_code == 303
    taken = register(beta, "acme.com")
    assert taken.status_code == 409
    html = unescape(taken.get_data(as_text=True))
    assert "file a claim with your evidence" in html and 'id="claim-form" open' in html
    assert "Alpha Cloud" not in html

    filed = follow(beta, submit(beta, "/dashboard/referrals/claims", {"claim-domain": "acme.com",
                                                                      "claim-note": "Their CTO asked us in May."},
                                page=PAGE))  # fmt: skip
    assert "Your claim on acme.com is filed" in filed and "Not proven yet" in filed
    with app.app_context():
        [claim] = _db.session.scalars(select(RegistrationClaim))
        claim_id = claim.id
        for mail in mails("claim_filed_holder"):
            assert mail.to_address == ALPHA and names_in(mail.text_body + mail.html_body) == []
    holder_view = page(alpha)
    assert "Another partner filed a claim" in holder_view and "Beta Systems" not in holder_view

    # Only Alpha's manager (or an admin) decides; Beta's manager may look but not decide.
    with app.app_context():
        mia = _db.session.get(User, world["mia"])
        claim = _db.session.get(RegistrationClaim, claim_id)
        with pytest.raises(PermissionError):
            decide(claim, grant=True, reason="x", by=mia)
    other_manager = staff_client(app, world["staff"]["mia"])
    other_view = other_manager.get(f"/admin/claims/{claim_id}").get_data(as_text=True)
    assert "Record the decision" not in other_view
    max_client = staff_client(app, world["staff"]["max"])
    console = unescape(max_client.get("/admin/").get_data(as_text=True))
    assert "acme.com" in console and "working days left" in console
    detail = max_client.get(f"/admin/claims/{claim_id}").get_data(as_text=True)
    refused = max_client.post(
        f"/admin/claims/{claim_id}/decision",
        data={"decide-csrf_token": csrf_token(detail), "decide-outcome": "refuse",
              "decide-reason": "The holder registered first and the claim is not proven."},
    )  # fmt: skip
    assert refused.status_code == 303
    with app.app_context():
        outcome = {m.to_address: m for m in mails("claim_decided")}
        assert set(outcome) == {ALPHA, BETA}
        assert "refused: the other partner keeps the domain" in outcome[BETA].text_body
        assert "refused: the domain stays yours" in outcome[ALPHA].text_body
        for mail in outcome.values():
            assert "The holder registered first" in mail.text_body
            assert names_in(mail.text_body + mail.html_body + mail.subject) == []

    # Beta lost: it may appeal, once; Alpha may not.
    lost = page(beta)
    assert "Appeal this decision" in lost and "The holder registered first" in lost
    assert "Appeal this decision" not in page(alpha)
    appeal_path, prefix = f"/dashboard/referrals/claims/{claim_id}/appeal", f"appeal-{claim_id}"
    appealed = follow(beta, act(beta, appeal_path, prefix, note="We have a signed order."))
    assert "Your appeal on acme.com is filed" in appealed
    again = follow(beta, act(beta, appeal_path, prefix, note="Again"))
    assert "This decision has been appealed already: each claim is appealed once." in again
    with app.app_context():
        assert _db.session.get(RegistrationClaim, claim_id).appeal_status == AppealStatus.PENDING

    # An admin overturns: the domain moves to Beta, finally.
    admin = staff_client(app, make_staff(app, role="admin", email="ada@cloudcodes.example"))
    detail = admin.get(f"/admin/claims/{claim_id}").get_data(as_text=True)
    assert "Decide the appeal (final)" in detail
    decided = admin.post(
        f"/admin/claims/{claim_id}/appeal-decision",
        data={"appeal-csrf_token": csrf_token(detail), "appeal-outcome": "overturn",
              "appeal-reason": "The signed order shows the customer chose the claimant."},
    )  # fmt: skip
    assert decided.status_code == 303
    with app.app_context():
        held = active_registration("acme.com")
        assert held.partner_id == world["beta"]
        assert registration_of("acme.com").partner_id == world["beta"]
        old = _db.session.scalars(
            select(DomainRegistration).where(DomainRegistration.status == RegistrationStatus.REASSIGNED)
        ).one()
        assert old.partner_id == world["alpha"]
        final = {m.to_address: m for m in mails("claim_appeal_decided")}
        assert "The domain is registered to you." in final[BETA].text_body
        assert "The domain is registered to the other partner." in final[ALPHA].text_body
        assert all(names_in(m.text_body + m.html_body) == [] for m in final.values())
    assert "Appeal this decision" not in page(alpha)  # final: no second appeal


def test_a_verified_claim_wins_unless_the_manager_records_why_not(app, world, dns):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    alpha, beta = client_for(app, ALPHA), client_for(app, BETA)
    register(alpha, "acme.com")
    with app.app_context():
        from cloudcodes.partners.models import Partner

        claim = file_claim(_db.session.get(Partner, world["beta"]), "acme.com", "We sold it.", by=None)
        claim_id, token = claim.id, claim.proof_token
    dns.set_records([("acme.com", "MX", "smtp.google.com"), ("acme.com", "TXT", f"cloudcodes-partner={token}")])
    proven = follow(beta, act(beta, f"/dashboard/referrals/claims/{claim_id}/check-dns", f"claim-check-{claim_id}"))
    assert "Verified: acme.com has the record" in proven
    with app.app_context():
        claim = _db.session.get(RegistrationClaim, claim_id)
        max_ = _db.session.get(User, world["max"])
        with pytest.raises(ClaimError, match="tick the box and say why"):
            decide(claim, grant=False, reason="I prefer the holder.", by=max_)
        decide(claim, grant=False, reason="The TXT record was added by a reseller of both.", override=True, by=max_)
        assert _db.session.get(RegistrationClaim, claim_id).status == ClaimStatus.REFUSED


# --- Two claims at once ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_app(request, dns):
    from tests.conftest import make_test_app

    application = make_test_app(request.getfixturevalue(f"{request.param}_database"), DNS_RESOLVER=dns.address())
    try:
        yield application
    finally:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_two_claims_on_one_domain_at_once_are_both_recorded_and_decided_one_at_a_time(race_app, dns):
    from cloudcodes.partners.models import Partner

    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    app = race_app
    with app.app_context():
        manager = StaffFactory(email="max@cloudcodes.example")
        ids = []
        for n in range(3):
            partner = create_partner(
                name=f"Partner {n}", website=f"https://p{n}.com", country="France", level="reseller",
                channel_manager=manager,
            )  # fmt: skip
            _db.session.commit()
            ids.append(partner.id)
        from cloudcodes.referrals.services import register_domain

        register_domain(_db.session.get(Partner, ids[0]), "acme.com", by=None)
        manager_id = manager.id
        _db.session.remove()

    barrier = threading.Barrier(2)
    failures = []

    def claim(partner_id):
        try:
            with app.app_context():
                # Released together before any statement: on SQLite the first statement takes the write lock.
                barrier.wait(timeout=30)
                partner = _db.session.get(Partner, partner_id)
                file_claim(partner, "acme.com", f"Partner {partner_id} sold it.", by=None)
                _db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=claim, args=(pid,)) for pid in ids[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.app_context():
        claims = _db.session.scalars(select(RegistrationClaim).order_by(RegistrationClaim.id)).all()
        assert sorted(c.claimant_id for c in claims) == ids[1:]
        manager = _db.session.get(User, manager_id)
        first, second = claims
        decide(first, grant=True, reason="The customer confirmed by phone.", by=manager)
        # The other claim stays open, now against the domain's new holder.
        second = _db.session.get(RegistrationClaim, second.id)
        assert second.status == ClaimStatus.PENDING
        assert second.registration.partner_id == first.claimant_id
        decide(second, grant=False, reason="The first claim was granted on stronger evidence.", by=manager)
        assert active_registration("acme.com").partner_id == first.claimant_id
