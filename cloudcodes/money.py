"""Money as integer minor units with a currency code: no floats anywhere.

Decimal is used only at the edges (parsing what people and the billing system send, and
formatting what they read).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor units per major unit for the currencies the program can be run in.  The program runs in
# USD today; the table keeps formatting and parsing honest if an admin picks another currency.
MINOR_UNIT_DIGITS = {"USD": 2, "EUR": 2, "GBP": 2, "INR": 2, "AUD": 2, "CAD": 2, "JPY": 0}


class MoneyError(ValueError):
    """An amount or currency that cannot be accepted; the message says why."""


def minor_digits(currency: str) -> int:
    try:
        return MINOR_UNIT_DIGITS[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency {currency!r}.") from None


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in integer minor units (cents for USD) of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError("Money is counted in whole minor units (an int).")
        minor_digits(self.currency)

    @classmethod
    def parse(cls, text: str | Decimal | int, currency: str) -> Money:
        """Read a decimal amount such as ``"1234.50"``; more decimals than the currency has is an error."""
        digits = minor_digits(currency)
        try:
            value = Decimal(str(text).strip().replace(",", ""))
        except InvalidOperation:
            raise MoneyError(f"{text!r} is not an amount: write it like 1234.50.") from None
        if not value.is_finite():
            raise MoneyError(f"{text!r} is not an amount: write it like 1234.50.")
        scaled = value.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{currency} amounts have at most {digits} decimals.")
        return cls(int(scaled), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"Cannot combine {self.currency} and {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def percent(self, rate: Decimal) -> Money:
        """This amount times ``rate`` per cent, rounded half up to the minor unit."""
        exact = Decimal(self.minor) * Decimal(rate) / Decimal(100)
        return Money(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), self.currency)

    def format(self) -> str:
        """``$25,000.00``, as people read it: ``cloudcodes.formatting.money`` writes it."""
        from cloudcodes.formatting import money  # formatting imports this module

        return money(self)

    def __str__(self) -> str:
        return self.format()
