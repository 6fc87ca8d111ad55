from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudcodes.money import Money, MoneyError


def test_parse_reads_decimal_text_into_minor_units():
    assert Money.parse("1234.50", "USD") == Money(123450, "USD")
    assert Money.parse("25,000", "USD") == Money(2_500_000, "USD")
    assert Money.parse(" 0.01 ", "USD") == Money(1, "USD")


@pytest.mark.parametrize("text", ["12.345", "abc", "", "NaN", "Infinity"])
def test_parse_refuses_what_is_not_an_amount(text):
    with pytest.raises(MoneyError):
        Money.parse(text, "USD")


def test_floats_and_unknown_currencies_are_refused():
    with pytest.raises(MoneyError):
        Money(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="Unsupported currency"):
        Money(100, "XXX")


def test_format_shows_symbol_grouping_and_sign():
    assert Money(2_500_000, "USD").format() == "$25,000.00"
    assert Money(-1050, "USD").format() == "-$10.50"
    assert Money(5000, "JPY").format() == "¥5,000"


def test_percent_rounds_half_up_to_the_cent():
    assert Money(1, "USD").percent(Decimal(50)) == Money(1, "USD")  # 0.5 cent -> 1
    assert Money(123450, "USD").percent(Decimal(15)) == Money(18518, "USD")  # 185.175 -> 185.18
    assert Money(-3, "USD").percent(Decimal(50)) == Money(-2, "USD")  # half away from zero


def test_arithmetic_refuses_mixed_currencies():
    assert Money(100, "USD") + Money(50, "USD") == Money(150, "USD")
    with pytest.raises(MoneyError):
        Money(100, "USD") - Money(50, "EUR")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_parsing_what_to_decimal_gives_back_the_same_amount(minor):
    money = Money(minor, "USD")
    assert Money.parse(str(money.to_decimal()), "USD") == money


@given(st.integers(min_value=0, max_value=10**12), st.decimals(min_value=0, max_value=100, places=2))
def test_a_percentage_never_exceeds_the_amount(minor, rate):
    share = Money(minor, "USD").percent(rate)
    assert 0 <= share.minor <= minor
