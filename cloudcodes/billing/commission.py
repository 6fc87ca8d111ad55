"""The commission arithmetic. No Flask, no database: integers in minor units and Decimal rates.

Commission = amount x (level margin + volume points) / 100, rounded half up to the minor unit,
fixed when the purchase is recorded. A refund reverses the commission in proportion to the amount
refunded, and it is the running total that is rounded: after each refund the reversed total is
commission x refunded so far / amount, rounded half up, so many small refunds never drift from one
large one. The refund that brings the total refunded to the full amount takes exactly what remains,
so the reversals always add up to the commission and never exceed it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from cloudcodes import formatting
from cloudcodes.money import Money


def commission_for(amount: Money, margin_pct: Decimal, volume_points: Decimal) -> Money:
    return amount.percent(Decimal(margin_pct) + Decimal(volume_points))


class RefundTooLarge(ValueError):
    """The refund is more than what is left to refund; ``remaining`` says how much is."""

    def __init__(self, remaining: Money) -> None:
        super().__init__(f"Only {formatting.money(remaining)} is left to refund on this purchase.")
        self.remaining = remaining


def reversal_for(
    *, amount: Money, commission: Money, refunded_before: Money, reversed_before: Money, refund: Money
) -> Money:
    """The commission to reverse for ``refund``, given what earlier refunds took (all as positive amounts)."""
    if refund.minor <= 0:
        raise ValueError("A refund is a positive amount.")
    remaining_amount = amount - refunded_before
    if refund.minor > remaining_amount.minor:
        raise RefundTooLarge(remaining_amount)
    remaining_commission = commission - reversed_before
    if refund.minor == remaining_amount.minor:
        return remaining_commission  # the last refund closes the purchase exactly
    refunded_so_far = refunded_before.minor + refund.minor
    share = Decimal(commission.minor) * Decimal(refunded_so_far) / Decimal(amount.minor)
    reversed_total = int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    reversal = reversed_total - reversed_before.minor
    return Money(min(max(reversal, 0), remaining_commission.minor), commission.currency)
