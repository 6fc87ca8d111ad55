"""factory_boy factories; they add to the app's session, and tests commit when they need to."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from cloudcodes.auth.models import Role, User
from cloudcodes.auth.passwords import hash_password
from cloudcodes.extensions import db

DEFAULT_PASSWORD = "correct horse battery staple"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - resolved per app context
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@partner.example")
    full_name = factory.Faker("name")
    role = Role.PARTNER.value
    password_hash = factory.LazyFunction(lambda: hash_password(DEFAULT_PASSWORD))


class StaffFactory(UserFactory):
    email = factory.Sequence(lambda n: f"staff{n}@cloudcodes.example")
    role = Role.MANAGER.value


def make_partner(
    name,
    *,
    level="reseller",
    manager=None,
    owner_email=None,
    effective_from=None,
    country="France",
):
    """An active partner with its first level record (and an owner, when an address is given), committed."""
    from cloudcodes.partners.models import MemberRole
    from cloudcodes.partners.services import add_member, create_partner

    partner = create_partner(
        name=name,
        website=f"https://{name.lower().replace(' ', '-')}.example",
        country=country,
        level=level,
        channel_manager=manager,
        effective_from=effective_from,
    )
    if owner_email:
        add_member(partner, UserFactory(email=owner_email), MemberRole.OWNER)
    db.session.commit()
    return partner


def give_payout_details(partner, **fields):
    """Complete payout details for ``partner`` (a Partner or its id), committed: its statements can be paid.

    A German payee paid by IBAN, with a VAT number and a W-8BEN-E signed recently; ``fields`` override.
    """
    from cloudcodes import clock
    from cloudcodes.partners.models import PartnerPayoutDetails

    values = {
        "payee_legal_name": "Payee GmbH",
        "payee_country": "DE",
        "method": "iban",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "tax_id": "136695976",
        "tax_form_kind": "w8bene",
        "tax_form_signed_on": clock.today(),
        "tax_form_file": "0" * 32 + ".pdf",
        **fields,
    }
    details = PartnerPayoutDetails(partner_id=getattr(partner, "id", partner), **values)
    db.session.add(details)
    db.session.commit()
    return details
