import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudcodes.referrals.codes import (
    ALPHABET,
    EXAMPLE_CODE,
    CodeError,
    check_symbol,
    generate_code,
    is_valid,
    parse_code,
)

CANONICAL = re.compile(r"^CC-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
TYPO_MESSAGE = "This code has a typo: check it against the one your partner gave you."

# Two valid codes: one plain, one whose body begins with C, C and holds the digits 0 and 1 that
# O, I and L are read as.
PLAIN = "CC-7K3Q-9M2P-XW43"
TRICKY = "CC-CC01-A0B1-DEFA"


def luhn_mod_n_is_satisfied(symbols: str, alphabet: str = ALPHABET) -> bool:
    """Validation as the Luhn mod N algorithm states it, written apart from the module's generation."""
    n = len(alphabet)
    total = 0
    factor = 1
    for symbol in reversed(symbols):
        addend = factor * alphabet.index(symbol)
        total += addend // n + addend % n
        factor = 2 if factor == 1 else 1
    return total % n == 0


def body_of(code: str) -> str:
    return code.removeprefix("CC-").replace("-", "")


def canonical(body12: str) -> str:
    return f"CC-{body12[0:4]}-{body12[4:8]}-{body12[8:12]}"


def test_check_symbol_matches_hand_worked_examples():
    assert check_symbol("00000000000") == "0"
    assert check_symbol("00000000001") == "Y"  # 1 doubled is 2; 32 - 2 = 30 is Y
    assert check_symbol("0000000000Z") == "1"  # 31 doubled is 62 = 1*32 + 30; 1 + 30 = 31; 32 - 31 = 1
    assert check_symbol("00000000010") == "Z"  # 1 not doubled; 32 - 1 = 31 is Z


@pytest.mark.parametrize("bad", ["", "0000000000", "000000000000", "0000000000U", "0000000000a", "0000000000O"])
def test_check_symbol_only_takes_eleven_canonical_symbols(bad):
    with pytest.raises(ValueError, match="11 symbols"):
        check_symbol(bad)


def test_the_example_codes_are_valid():
    for code in (PLAIN, TRICKY, EXAMPLE_CODE):
        assert parse_code(code) == code
        assert luhn_mod_n_is_satisfied(body_of(code))


def test_a_generated_code_has_the_canonical_form_and_parses_back():
    code = generate_code()
    assert CANONICAL.match(code)
    assert parse_code(code) == code


def test_ten_thousand_generated_codes_are_unique_and_all_parse_back():
    codes = [generate_code() for _ in range(10_000)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert CANONICAL.match(code)
        assert parse_code(code) == code
        assert luhn_mod_n_is_satisfied(body_of(code))
    # Eleven random symbols: every symbol turns up in every random position across 10,000 codes.
    for position in range(11):
        assert {body_of(code)[position] for code in codes} == set(ALPHABET)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (PLAIN, PLAIN),
        ("cc-7k3q-9m2p-xw43", PLAIN),
        ("CC7K3Q9M2PXW43", PLAIN),
        ("7K3Q-9M2P-XW43", PLAIN),
        ("7k3q9m2pxw43", PLAIN),
        ("cc 7k3q 9m2p xw43", PLAIN),
        ("  CC - 7K3Q  9M2P -XW43  ", PLAIN),
        ("CC-7K3Q-\t9M2P-\nXW43", PLAIN),
        ("CC–7K3Q–9M2P–XW43", PLAIN),  # en dashes, as a word processor writes them
        ("CC 7K3Q‑9M2P‑XW43", PLAIN),  # non-breaking hyphens
        ("7K 3Q 9M 2P XW 43", PLAIN),
        (TRICKY, TRICKY),
        ("CC-CCO1-AOB1-DEFA", TRICKY),  # O reads as 0
        ("CC-CC0I-A0BL-DEFA", TRICKY),  # I and L read as 1
        ("cc-cco1-aobl-defa", TRICKY),  # and so do their lower-case forms
        ("CCCC01A0B1DEFA", TRICKY),  # fourteen symbols: the first two are the prefix
        ("CC01A0B1DEFA", TRICKY),  # twelve: all body, though it begins with CC
        ("CC01-A0B1-DEFA", TRICKY),
        ("CC-CC01A0B1DEFA", TRICKY),
        ("cc ccO1 aOb1 defa", TRICKY),
    ],
)
def test_parsing_forgives_case_spaces_dashes_prefix_and_look_alikes(typed, expected):
    assert parse_code(typed) == expected
    assert is_valid(typed)


@pytest.mark.parametrize(
    ("typed", "reason", "in_message"),
    [
        ("", "empty", "Enter the referral code"),
        ("   ", "empty", "Enter the referral code"),
        (" - -- ", "empty", "Enter the referral code"),
        ("CC-7K3Q-9M2P-XW4U", "bad_characters", "'U'"),
        ("cc-7k3q-9m2p-xw4u", "bad_characters", "'u'"),
        ("CC-7K3Q-9M2P-XW4#", "bad_characters", "'#'"),
        ("CC_7K3Q_9M2P_XW43", "bad_characters", "'_'"),
        ("CC.7K3Q.9M2P.XW43", "bad_characters", "'.'"),
        ("CC-7K3Q-9M2P-XW4ß", "bad_characters", "'ß'"),  # upper-cased it would read as SS
        ("CC-7K3Q-9M2P-XW4٣", "bad_characters", "'٣'"),  # an Arabic-Indic digit three
        ("CC-", "wrong_length", "12 characters after CC-"),
        ("CC-7K3Q-9M2P-XW4", "wrong_length", "this one has 11"),
        ("CC-7K3Q-9M2P-XW433", "wrong_length", "this one has 13"),
        ("7K3Q-9M2P-XW43-0", "wrong_length", "this one has 13"),
        # The prefix and ten symbols: not read as a twelve-symbol body that begins with C, C.
        ("CC-7K3Q-9M2P-XW", "wrong_length", "this one has 10"),
        ("CC 7K3Q 9M2P XW", "wrong_length", "this one has 10"),
        ("CC-CC-7K3Q-9M2P-XW43", "wrong_length", "this one has 14"),
        ("CC-7K3Q-9M2P-XW44", "typo", TYPO_MESSAGE),
        ("CC-7K3Q-9M2P-WX43", "typo", TYPO_MESSAGE),
        ("CC-CC01-A0B1-DEF0", "typo", TYPO_MESSAGE),
    ],
)
def test_errors_say_what_is_wrong(typed, reason, in_message):
    with pytest.raises(CodeError) as error:
        parse_code(typed)
    assert error.value.reason == reason
    assert in_message in str(error.value)
    assert isinstance(error.value, ValueError)
    assert not is_valid(typed)


def test_the_typo_message_is_exactly_the_one_customers_see():
    with pytest.raises(CodeError, match=re.escape(TYPO_MESSAGE) + "$"):
        parse_code("CC-7K3Q-9M2P-XW44")


# Hypothesis: the check symbol's guarantees, on any code.

RANDOM_BODIES = st.text(alphabet=ALPHABET, min_size=11, max_size=11)
# What a person might type in place of a symbol: any symbol in either case, and the look-alikes.
TYPED_SYMBOLS = st.sampled_from(ALPHABET + ALPHABET.lower() + "OoIiLl")
READS_AS = {**{symbol: symbol for symbol in ALPHABET}, "O": "0", "I": "1", "L": "1"}


@given(RANDOM_BODIES)
def test_the_check_symbol_satisfies_luhn_mod_32(random_symbols):
    assert luhn_mod_n_is_satisfied(random_symbols + check_symbol(random_symbols))


@given(RANDOM_BODIES, st.integers(min_value=0, max_value=11), TYPED_SYMBOLS)
def test_every_single_symbol_substitution_is_a_typo(random_symbols, position, typed):
    body = random_symbols + check_symbol(random_symbols)
    changed = body[:position] + typed + body[position + 1 :]
    if READS_AS[typed.upper()] == body[position]:
        assert parse_code(changed) == canonical(body)  # the same symbol, written another way
    else:
        with pytest.raises(CodeError) as error:
            parse_code(changed)
        assert error.value.reason == "typo"


def is_zero_z_pair(first: str, second: str) -> bool:
    return {first, second} == {"0", "Z"}


@given(RANDOM_BODIES, st.integers(min_value=0, max_value=10))
def test_adjacent_transpositions_are_caught_except_zero_and_z(random_symbols, position):
    body = random_symbols + check_symbol(random_symbols)
    first, second = body[position], body[position + 1]
    swapped = body[:position] + second + first + body[position + 2 :]
    if first == second:
        assert parse_code(swapped) == canonical(body)
    elif is_zero_z_pair(first, second):
        # The one blind spot of Luhn mod 32: the swap yields another valid code.
        assert parse_code(swapped) == canonical(swapped)
    else:
        with pytest.raises(CodeError) as error:
            parse_code(swapped)
        assert error.value.reason == "typo"


def code_with_pair_at(position: int, first: str, second: str) -> str:
    """A valid body with ``first``, ``second`` at ``position`` and the place after it (11 is the check symbol)."""
    random_symbols = "7K3Q9M2PXW4"
    random_symbols = (random_symbols[:position] + first + second + random_symbols[position + 2 :])[:11]
    if position < 10:
        return random_symbols + check_symbol(random_symbols)
    # The second symbol is the check: the lead symbol moves the check through every value, so one fits.
    for lead in ALPHABET:
        candidate = lead + random_symbols[1:]
        if check_symbol(candidate) == second:
            return candidate + second
    raise AssertionError(f"no lead symbol gives the check symbol {second}")


@pytest.mark.parametrize("position", [0, 1, 9, 10])
def test_the_transposition_guarantee_holds_for_every_pair_of_symbols(position):
    """Exhaustively, at even and odd places and next to the check symbol: only 0 and Z swap unnoticed."""
    unnoticed = set()
    for first in ALPHABET:
        for second in ALPHABET:
            if first == second:
                continue
            body = code_with_pair_at(position, first, second)
            assert body[position : position + 2] == first + second and is_valid(body)
            swapped = body[:position] + second + first + body[position + 2 :]
            if is_valid(swapped):
                unnoticed.add(first + second)
    assert unnoticed == {"0Z", "Z0"}
