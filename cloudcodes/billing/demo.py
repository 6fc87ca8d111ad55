"""Demo purchases for ``demo seed``: Acme Cloud's customers buy over the last two months, one refunds,
and one customer has a checkout open, waiting to be paid on the test payment page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.billing.checkout import CHECKOUT_LIFETIME, new_checkout_id
from cloudcodes.billing.models import Channel, Checkout, Product, Purchase
from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase, record_refund
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.referrals.models import ReferralCode

# (order, domain, product, seats, amount, channel, days ago, use the code)
DEMO_PURCHASES = [
    ("DEMO-1001", "northwind-traders.com", "CC-SUITE", 120, "7200.00", Channel.DIRECT, 50, True),
    ("DEMO-1002", "contoso-schools.org", "CC-ACCESS", 400, "9600.00", Channel.DIRECT, 40, False),
    ("DEMO-1003", "fabrikam.co.uk", "CC-DLP", 50, "1800.00", Channel.RESELLER, 20, True),
    ("DEMO-1004", "northwind-traders.com", "CC-BACKUP", 100, "3000.00", Channel.DIRECT, 10, True),
    ("DEMO-1005", "unreferred-customer.com", "CC-ACCESS", 25, "600.00", Channel.DIRECT, 5, False),
]


def seed_purchases() -> list[tuple[str, str, str]]:
    if db.session.scalar(select(Purchase.id).where(Purchase.order_id.startswith("DEMO-"))):
        return []
    now = clock.now()
    for order, domain, sku, seats, amount, channel, days_ago, with_code in DEMO_PURCHASES:
        code = None
        if with_code:
            code = db.session.scalar(
                select(ReferralCode.code)
                .join(ReferralCode.registration)
                .where(ReferralCode.revoked_at.is_(None), ReferralCode.registration.has(domain=domain))
            )
        data = PurchaseInput(
            order_id=order,
            customer_domain=domain,
            product_sku=sku,
            seats=seats,
            amount=Money.parse(amount, "USD"),
            channel=channel,
            purchased_at=now - timedelta(days=days_ago),
            referral_code=code,
        )
        record_purchase(data, fingerprint({"demo": order}))
    record_refund(
        "DEMO-1002", "DEMO-R-1", Money.parse("600.00", "USD"), now - timedelta(days=5), fingerprint({"demo": "R-1"})
    )
    _open_demo_checkout()
    return []


def _open_demo_checkout() -> None:
    """fabrikam.co.uk chose 20 seats with its code an hour ago and has not paid yet."""
    code = db.session.scalar(
        select(ReferralCode.code)
        .join(ReferralCode.registration)
        .where(ReferralCode.revoked_at.is_(None), ReferralCode.registration.has(domain="fabrikam.co.uk"))
    )
    product = db.session.scalar(select(Product).where(Product.sku == "CC-ACCESS"))
    opened = clock.now() - timedelta(hours=1)
    db.session.add(
        Checkout(
            public_id=new_checkout_id(),
            customer_domain="fabrikam.co.uk",
            referral_code=code,
            product_id=product.id,
            seats=20,
            price=Money(product.price_per_seat.minor * 20, product.price_per_seat.currency),
            customer_email="it@fabrikam.co.uk",
            created_at=opened,
            expires_at=opened + CHECKOUT_LIFETIME,
        )
    )
