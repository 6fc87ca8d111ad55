from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudcodes.billing.commission import RefundTooLarge, commission_for, reversal_for
from cloudcodes.money import Money


def usd(minor):
    return Money(minor, "USD")


def refunds_in_cuts(amount: int, commission: Money, cuts: list[int]) -> list[tuple[int, int]]:
    """Refund ``amount`` in ``cuts`` (each capped at what is left): the refunded and reversed totals after each."""
    refunded = reversed_ = 0
    totals = []
    for cut in cuts:
        refund = min(cut, amount - refunded)
        if refund <= 0:
            break
        reversed_ += reversal_for(
            amount=usd(amount),
            commission=commission,
            refunded_before=usd(refunded),
            reversed_before=usd(reversed_),
            refund=usd(refund),
        ).minor
        refunded += refund
        totals.append((refunded, reversed_))
    return totals


@pytest.mark.parametrize(
    ("amount", "margin", "points", "expected"),
    [
        (123450, "15", "0", 18518),  # 185.175 rounds half up to 185.18
        (123450, "30", "0", 37035),
        (100000, "30", "2", 32000),  # 100+ seats
        (100000, "30", "5", 35000),  # 500+ seats
        (1, "15", "0", 0),
        (3, "50", "0", 2),  # 1.5 cents -> 2
    ],
)
def test_commission_is_amount_times_rate_rounded_half_up(amount, margin, points, expected):
    assert commission_for(usd(amount), Decimal(margin), Decimal(points)) == usd(expected)


def test_a_partial_refund_reverses_in_proportion():
    reversal = reversal_for(
        amount=usd(100000), commission=usd(15000), refunded_before=usd(0), reversed_before=usd(0), refund=usd(25000)
    )
    assert reversal == usd(3750)


def test_the_last_refund_takes_exactly_what_remains():
    reversal = reversal_for(
        amount=usd(1000), commission=usd(150), refunded_before=usd(333), reversed_before=usd(50), refund=usd(667)
    )
    assert reversal == usd(100)


def test_a_refund_beyond_what_is_left_is_refused():
    with pytest.raises(RefundTooLarge) as refused:
        reversal_for(
            amount=usd(1000), commission=usd(150), refunded_before=usd(900), reversed_before=usd(135), refund=usd(101)
        )
    assert refused.value.remaining == usd(100)
    assert "$1.00" in str(refused.value)


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    rate=st.decimals(min_value=0, max_value=40, places=2),
    cuts=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=8),
)
def test_reversals_never_exceed_and_finally_equal_the_commission(amount, rate, cuts):
    commission = commission_for(usd(amount), rate, Decimal(0))
    totals = refunds_in_cuts(amount, commission, cuts)
    assert all(0 <= reversed_ <= commission.minor for _, reversed_ in totals)
    refunded, reversed_ = totals[-1]
    if refunded < amount:
        last = reversal_for(
            amount=usd(amount),
            commission=commission,
            refunded_before=usd(refunded),
            reversed_before=usd(reversed_),
            refund=usd(amount - refunded),
        )
        reversed_ += last.minor
    assert reversed_ == commission.minor


def test_a_purchase_refunded_one_cent_at_a_time_reverses_in_proportion_all_the_way():
    """The review's case: 10.00 with 1.50 commission; each cent rounded on its own reversed 0.00 until the end."""
    [*_, (refunded, reversed_)] = refunds_in_cuts(1000, usd(150), [1] * 997)
    assert refunded == 997
    # 1.50 x 9.97 / 10.00 = 1.4955, which is 149.55 cents: rounded half up, 150.
    assert reversed_ == 150


@given(
    amount=st.integers(min_value=1, max_value=10**7),
    rate=st.decimals(min_value=0, max_value=40, places=2),
    cuts=st.lists(st.integers(min_value=1, max_value=10**5), min_size=1, max_size=40),
)
def test_the_reversed_total_is_always_the_rounded_proportion_of_what_was_refunded(amount, rate, cuts):
    commission = commission_for(usd(amount), rate, Decimal(0))
    for refunded, reversed_ in refunds_in_cuts(amount, commission, cuts):
        exact = Decimal(commission.minor) * refunded / amount
        # Within half a cent of the exact proportion, whatever the sequence: no drift.
        assert abs(Decimal(reversed_) - exact) <= Decimal("0.5"), (refunded, reversed_, exact)
