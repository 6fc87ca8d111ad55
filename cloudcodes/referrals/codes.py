"""Referral codes: ``CC-XXXX-XXXX-XXXX``, read forgivingly, with a check symbol that catches typos.

Twelve symbols of Crockford base32 (digits and upper-case letters without I, L, O and U, so that
nothing reads as another symbol), the first eleven from a CSPRNG, the twelfth a Luhn mod 32 check
symbol over them.  People copy codes from e-mails and read them out over the phone, so case,
spaces, dashes and the ``CC`` prefix do not matter, and the letters Crockford leaves out are read
as the digits they look like (O as 0, I and L as 1).  No Flask, no database.

What the check symbol guarantees (the Luhn mod N algorithm with N = 32):

- every single-symbol substitution is caught;
- every transposition of two adjacent, different symbols is caught except one: ``0`` and ``Z``
  (values 0 and 31) swapped, as in ``...0Z...`` typed ``...Z0...``.  Of two neighbours exactly one
  is doubled, so swapping ``a`` (doubled) and ``b`` goes unnoticed when ``d(a) - a == d(b) - b``
  modulo 32, where ``d`` doubles and adds the base-32 digits: ``d(x) = 2x`` below 16 and
  ``2x - 31`` from 16 up.  ``d(x) - x`` is then ``x`` below 16 and ``x + 1`` (mod 32) from 16 up,
  which takes every value once except 0, taken by both 0 and 31.  It is the base-32 twin of
  decimal Luhn missing ``09`` <-> ``90``; the tests check it exhaustively.

A code that passes is well formed, no more: whether it was issued, and to whom, is the database's to say.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
BASE = len(ALPHABET)
PREFIX = "CC"
BODY_LENGTH = 12  # eleven random symbols and the check symbol
RANDOM_LENGTH = BODY_LENGTH - 1
GROUP_LENGTH = 4

_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Crockford's decoding: the letters left out of the alphabet read as the digits they resemble.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Typography turns "-" into these when a code passes through a word processor or an e-mail client.
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")

EXAMPLE_CODE = "CC-7K3Q-9M2P-XW43"  # shown in messages; a valid code, as a test checks


class CodeError(ValueError):
    """A text that is not a referral code; the message tells the customer what to check.

    ``reason`` is one of ``empty``, ``bad_characters``, ``wrong_length`` and ``typo``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def generate_code() -> str:
    """A new code in canonical form; its eleven random symbols give 32**11 (about 3.8e16) possibilities."""
    random_symbols = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return _canonical(random_symbols + check_symbol(random_symbols))


def check_symbol(body11: str) -> str:
    """The Luhn mod 32 check symbol for eleven canonical symbols (upper case, alphabet only)."""
    if len(body11) != RANDOM_LENGTH or any(symbol not in _VALUES for symbol in body11):
        raise ValueError(f"The check symbol is computed over {RANDOM_LENGTH} symbols of {ALPHABET}, not {body11!r}.")
    # Luhn mod N: from the right, double every other value starting with the rightmost (the check
    # symbol will sit to its right), add the base-N digits of each product, and pick the symbol that
    # brings the sum to a multiple of N.
    total = 0
    for position, symbol in enumerate(reversed(body11)):
        addend = _VALUES[symbol] * (2 if position % 2 == 0 else 1)
        total += addend // BASE + addend % BASE
    return ALPHABET[-total % BASE]


def parse_code(text: str) -> str:
    """The canonical ``CC-XXXX-XXXX-XXXX`` form of what a person typed, or a ``CodeError`` saying what to check."""
    body = _body_symbols(text)
    if check_symbol(body[:-1]) != body[-1]:
        raise CodeError("typo", "This code has a typo: check it against the one your partner gave you.")
    return _canonical(body)


def is_valid(text: str) -> bool:
    """Whether ``text`` reads as a referral code whose check symbol holds (not whether it was ever issued)."""
    try:
        parse_code(text)
    except CodeError:
        return False
    return True


def search_fragment(text: str) -> str:
    """Part of a code as a person typed it, in the form of a stored code without its dashes.

    Separators go, letters are upper case and the look-alikes read as digits, as in ``parse_code``;
    nothing else is checked, so a search can find ``7K3Q-9M`` inside ``CC-7K3Q-9M2P-XW43``.
    """
    return "".join(char for char in text if not _is_separator(char)).upper().translate(_LOOKALIKES)


def _body_symbols(text: str) -> str:
    """The twelve symbols of ``text`` with the prefix, separators and look-alike letters dealt with."""
    typed = text.strip()
    if all(_is_separator(char) for char in typed):  # nothing, or only spaces and dashes
        raise CodeError("empty", f"Enter the referral code your partner gave you; it looks like {EXAMPLE_CODE}.")
    # Judged before upper-casing, which would turn some non-ASCII letters into valid ones ("ß" into "SS").
    stray = next((char for char in typed if not (_is_separator(char) or _is_symbol(char))), None)
    if stray is not None:
        raise CodeError(
            "bad_characters",
            f"{stray!r} cannot appear in a referral code: codes use the digits 0-9 and the letters A-Z except U. "
            "Check the code against the one your partner gave you.",
        )
    typed = typed.upper()
    # The body itself may begin with the symbols C, C (CC-CCAB-...), so "CC" counts as the prefix
    # only when a separator follows it, or when it is the extra two of fourteen symbols typed without
    # separators.  Twelve symbols are always the body: stripping "CC" from them would turn a valid
    # code into a short one.
    prefixed = typed.startswith(PREFIX) and len(typed) > len(PREFIX) and _is_separator(typed[len(PREFIX)])
    if prefixed:
        typed = typed[len(PREFIX) :]
    symbols = "".join(char for char in typed if not _is_separator(char)).translate(_LOOKALIKES)
    if not prefixed and len(symbols) == len(PREFIX) + BODY_LENGTH and symbols.startswith(PREFIX):
        symbols = symbols[len(PREFIX) :]
    if len(symbols) != BODY_LENGTH:
        raise CodeError(
            "wrong_length",
            f"A referral code has {BODY_LENGTH} characters after CC- (this one has {len(symbols)}), like "
            f"{EXAMPLE_CODE}: check it against the one your partner gave you.",
        )
    return symbols


def _is_separator(char: str) -> bool:
    return char.isspace() or char in _DASHES


def _is_symbol(char: str) -> bool:
    """A code symbol in either case, or a look-alike letter that reads as one."""
    return char.isascii() and char.upper().translate(_LOOKALIKES) in _VALUES


def _canonical(body: str) -> str:
    groups = [body[start : start + GROUP_LENGTH] for start in range(0, BODY_LENGTH, GROUP_LENGTH)]
    return "-".join([PREFIX, *groups])
