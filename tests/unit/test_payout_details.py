"""The payout details' rules (IBAN, BIC, routing and account numbers, tax IDs, tax forms, masking,
what is missing), the encryption of the stored numbers, and production's refusal to start without a key."""

from __future__ import annotations

import os
from datetime import date

import pytest
from cryptography.fernet import Fernet

from cloudcodes import create_app, crypto
from cloudcodes.config import ConfigError
from cloudcodes.partners import payout_rules as rules
from tests.unit.test_config import PRODUCTION, refusals

GOOD_IBAN = "DE89370400440532013000"
TODAY = date(2026, 12, 2)


def refused(check, *args) -> rules.InvalidDetail:
    with pytest.raises(rules.InvalidDetail) as error:
        check(*args)
    return error.value


# --- IBAN and BIC -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", [GOOD_IBAN, "DE89 3704 0044 0532 0130 00", "de89-3704-0044-0532-0130-00", " DE89370400440532013000 "]
)
def test_a_good_iban_is_accepted_however_it_is_typed(typed):
    assert rules.check_iban(typed) == GOOD_IBAN


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("DE89370400440532013001", "check digits do not match"),  # one digit changed
        ("DE88370400440532013000", "check digits do not match"),
        ("DE8937040044053201300", "has 21 characters, which is not the length of an IBAN of DE"),
        ("XX89370400440532013000", "'XX' is none"),
        ("", "Enter the IBAN"),
    ],
)
def test_a_bad_iban_is_refused_with_what_to_fix(typed, message):
    error = refused(rules.check_iban, typed)
    assert message in error.message
    assert error.field == "iban"


def test_gb_and_fr_ibans_are_accepted():
    assert rules.check_iban("GB33BUKB20201555555555") == "GB33BUKB20201555555555"
    assert rules.check_iban("FR14 2004 1010 0505 0001 3M02 606") == "FR1420041010050500013M02606"


def test_a_bic_must_be_of_the_ibans_country():
    assert rules.check_bic("COBADEFFXXX", GOOD_IBAN) == "COBADEFFXXX"
    assert rules.check_bic("cobadeff", GOOD_IBAN) == "COBADEFF"
    error = refused(rules.check_bic, "BNPAFRPPXXX", GOOD_IBAN)
    assert "bank in FR, but the IBAN is of an account in DE" in error.message
    assert error.field == "bic"
    assert "8 or 11 characters; this one has 9" in refused(rules.check_bic, "COBADEFF1", GOOD_IBAN).message
    assert "not a valid BIC" in refused(rules.check_bic, "COBAXXFFXXX", GOOD_IBAN).message


def test_an_empty_bic_is_looked_up_from_the_iban_when_the_bank_is_known():
    assert rules.check_bic("", GOOD_IBAN) == "COBADEFFXXX"


# --- US bank details and PayPal ---------------------------------------------------------------


def test_routing_numbers_are_checked_by_their_check_digit():
    assert rules.check_routing_number("011000015") == "011000015"
    assert rules.check_routing_number("0110-0001-5") == "011000015"
    assert "check digit does not match" in refused(rules.check_routing_number, "011000016").message
    assert "9 digits and nothing else" in refused(rules.check_routing_number, "01100001").message
    assert "9 digits and nothing else" in refused(rules.check_routing_number, "01100001A").message


def test_account_numbers_are_4_to_17_digits():
    assert rules.check_account_number("0001234567") == "0001234567"
    for bad in ("123", "123456789012345678", "12345A"):
        assert refused(rules.check_account_number, bad).field == "account_number"


def test_paypal_needs_an_email_address():
    assert rules.check_paypal_email(" pay@example.com ") == "pay@example.com"
    assert "valid e-mail" in refused(rules.check_paypal_email, "pay@").message


# --- Tax IDs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("DE", "DE136695976", "136695976"),
        ("DE", "DE 136 695 976", "136695976"),
        ("FR", "FR40303265045", "40303265045"),
        ("GB", "GB980780684", "980780684"),
        ("US", "12-3456789", "123456789"),  # an EIN
        ("US", "123-45-6789", "123456789"),  # an SSN's format
        ("NG", "12345678-0001", "123456780001"),  # no validator for the country: a sane format
    ],
)
def test_good_tax_ids_are_accepted_per_country(country, typed, stored):
    assert rules.check_tax_id(typed, country) == stored


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("DE", "DE136695977", "check digit does not match"),
        ("DE", "DE13669597", "too many or too few digits"),
        ("FR", "FR41303265045", "check digit does not match"),
        ("GB", "GB980780685", "check digit does not match"),
        ("US", "12-34567", "digits do not follow the country's format"),
        ("US", "12-ABCDEFG", "characters that do not belong"),
        ("NG", "12", "4 to 30 letters and digits"),
        ("DE", "", "Enter the payee's tax ID"),
    ],
)
def test_bad_tax_ids_are_refused_per_country(country, typed, message):
    error = refused(rules.check_tax_id, typed, country, {"DE": "Germany"}.get(country))
    assert message in error.message
    assert error.field == "tax_id"


def test_the_tax_id_message_names_the_country():
    assert "for Germany" in refused(rules.check_tax_id, "DE136695977", "DE", "Germany").message


# --- Tax forms --------------------------------------------------------------------------------


def test_us_payees_give_a_w9_and_others_a_w8():
    assert rules.check_tax_form("w9", "US", date(2026, 1, 5), TODAY) == rules.TaxForm.W9
    assert rules.check_tax_form("w8bene", "DE", date(2026, 1, 5), TODAY) == rules.TaxForm.W8BEN_E
    assert "gives the IRS form W-9, not W-8BEN" in refused(rules.check_tax_form, "w8ben", "US", TODAY, TODAY).message
    assert "W-8BEN or W-8BEN-E, not W-9" in refused(rules.check_tax_form, "w9", "FR", TODAY, TODAY).message


def test_a_tax_form_needs_a_past_date_and_a_w8_expires():
    assert refused(rules.check_tax_form, "w9", "US", None, TODAY).field == "tax_form_signed_on"
    assert "future" in refused(rules.check_tax_form, "w9", "US", date(2026, 12, 3), TODAY).message
    assert rules.check_tax_form("w8ben", "DE", date(2023, 1, 1), TODAY)  # in force until 31 Dec 2026
    expired = refused(rules.check_tax_form, "w8ben", "DE", date(2022, 6, 1), TODAY)
    assert "expired on 31 December 2025" in expired.message


def test_a_pdf_is_known_by_its_first_bytes():
    assert rules.is_pdf(b"%PDF-1.7\n...")
    assert not rules.is_pdf(b"\x89PNG\r\n\x1a\n")
    assert not rules.is_pdf(b"")


# --- Masking ----------------------------------------------------------------------------------


def test_numbers_are_masked_to_their_last_digits():
    assert rules.mask_iban(GOOD_IBAN) == "DE•• •••• … 3000"
    assert rules.mask_number("0001234567") == "•••• 4567"
    assert rules.mask_number("136695976") == "•••• 5976"
    assert rules.mask_number("12345") == "•••• 45"  # a short number shows less of itself
    assert rules.mask_number("1234") == "•••• 4"
    assert rules.mask_number(None) == "" and rules.mask_iban("") == ""
    assert "0532013" not in rules.mask_iban(GOOD_IBAN)


# --- What is missing --------------------------------------------------------------------------


def complete(**fields) -> rules.PayoutFacts:
    values = {
        "payee_legal_name": "Payee GmbH",
        "payee_country": "DE",
        "method": "iban",
        "iban": GOOD_IBAN,
        "bic": "COBADEFFXXX",
        "tax_id": "136695976",
        "tax_form_kind": "w8bene",
        "tax_form_signed_on": date(2026, 3, 1),
        "tax_form_file": "a.pdf",
    }
    return rules.PayoutFacts(**{**values, **fields})


def test_nothing_is_missing_from_complete_details():
    assert rules.missing_items(complete(), TODAY) == []
    us = complete(payee_country="US", method="us_bank", iban=None, bic=None, tax_form_kind="w9")
    assert rules.missing_items(us, TODAY) == ["the account and routing numbers"]
    paypal = complete(method="paypal", iban=None, bic=None, paypal_email="pay@example.com")
    assert rules.missing_items(paypal, TODAY) == []


def test_every_missing_item_is_named():
    assert rules.missing_items(None, TODAY) == [
        "the payee's legal name",
        "the payee's country",
        "the payout method and its details",
        "a tax ID or VAT number",
        "the tax form (W-9 for US payees, W-8BEN or W-8BEN-E otherwise)",
    ]
    assert rules.missing_items(complete(tax_form_file=None, tax_form_signed_on=None), TODAY) == [
        "the tax form's signing date",
        "the signed tax form as a PDF",
    ]
    assert rules.missing_items(complete(payee_country="US"), TODAY) == [  # a W-8 for a US payee
        "the tax form (W-9 for US payees, W-8BEN or W-8BEN-E otherwise)"
    ]
    assert "has expired" in rules.missing_items(complete(tax_form_signed_on=date(2022, 1, 1)), TODAY)[0]


# --- Encryption and its keys ------------------------------------------------------------------


def test_a_token_holds_no_plain_number_and_decrypts():
    keys = (Fernet.generate_key().decode(),)
    token = crypto.encrypt(GOOD_IBAN, keys)
    assert GOOD_IBAN not in token and "0532013000" not in token
    assert crypto.decrypt(token, keys) == GOOD_IBAN


def test_after_a_rotation_old_values_still_decrypt_and_rotate_to_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = crypto.encrypt(GOOD_IBAN, (old,))
    assert crypto.decrypt(token, (new, old)) == GOOD_IBAN
    rotated = crypto.rotate(token, (new, old))
    assert crypto.decrypt(rotated, (new,)) == GOOD_IBAN
    with pytest.raises(RuntimeError, match="Put the old key back"):
        crypto.decrypt(token, (new,))


def test_keys_are_parsed_and_checked():
    key = Fernet.generate_key().decode()
    assert crypto.parse_keys(f" {key} , {key}") == (key, key)
    assert crypto.parse_keys(None) == ()
    with pytest.raises(crypto.BadKey, match="Key 2 of CLOUDCODES_PAYOUT_ENCRYPTION_KEY is not a Fernet key"):
        crypto.parse_keys(f"{key},not-a-key")


def test_outside_production_a_key_is_derived_from_the_secret_key(tmp_path):
    app = create_app({"SECRET_KEY": "s", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["PAYOUT_ENCRYPTION_KEYS"] == (crypto.derive_key("s"),)
    key = Fernet.generate_key().decode()
    app = create_app({"PAYOUT_ENCRYPTION_KEY": key, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["PAYOUT_ENCRYPTION_KEYS"] == (key,)
    with pytest.raises(ConfigError, match="not a Fernet key"):
        create_app({"PAYOUT_ENCRYPTION_KEY": "nope", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


@pytest.fixture
def production(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("CLOUDCODES_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDCODES_INSTANCE_PATH", str(tmp_path / "instance"))
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_refuses_to_start_without_the_payout_key(production):
    production.delenv("CLOUDCODES_PAYOUT_ENCRYPTION_KEY")
    with pytest.raises(ConfigError) as error:
        create_app()
    (only,) = refusals(error)  # the other cases: tests/unit/test_config.py
    assert only.startswith("CLOUDCODES_PAYOUT_ENCRYPTION_KEY is not set.")


def test_production_starts_with_a_list_of_keys_and_encrypts_with_the_first(production):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    production.setenv("CLOUDCODES_PAYOUT_ENCRYPTION_KEY", f"{new}, {old}")
    assert create_app().config["PAYOUT_ENCRYPTION_KEYS"] == (new, old)
