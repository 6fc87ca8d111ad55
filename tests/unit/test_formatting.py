"""The portal's presentation formats: what people read in pages, e-mails and flash messages."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment

from cloudcodes import formatting
from cloudcodes.money import Money
from cloudcodes.program.terms import Level


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 days"), (1, "1 day"), (2, "2 days"), (3, "3 days"), (1000, "1,000 days"), (-1, "-1 day")],
)
def test_plural_adds_an_s_except_for_one(count, text):
    assert formatting.plural(count, "day") == text


def test_plural_takes_the_plural_of_irregular_words():
    assert formatting.plural(1, "ledger entry", "ledger entries") == "1 ledger entry"
    assert formatting.plural(4, "ledger entry", "ledger entries") == "4 ledger entries"
    assert formatting.plural(1, "person", "people") == "1 person"
    assert formatting.plural(0, "person", "people") == "0 people"


def test_plural_word_is_the_word_alone_and_serves_verbs_too():
    assert formatting.plural_word(1, "statement") == "statement"
    assert formatting.plural_word(2, "statement") == "statements"
    # "1 registration matches", "2 registrations match"
    assert formatting.plural_word(1, "matches", "match") == "matches"
    assert formatting.plural_word(2, "matches", "match") == "match"


@pytest.mark.parametrize(
    ("day", "long", "short"),
    [
        (date(2027, 3, 1), "1 March 2027", "1 Mar 2027"),
        (date(2026, 9, 5), "5 September 2026", "5 Sep 2026"),
        (date(2026, 12, 31), "31 December 2026", "31 Dec 2026"),
    ],
)
def test_dates_have_no_leading_zero(day, long, short):
    assert formatting.date(day) == long
    assert formatting.date(day, "long") == long
    assert formatting.date(day, "short") == short


def test_a_month_and_a_pattern_of_ones_own():
    assert formatting.date(date(2026, 2, 1), "month") == "February 2026"
    assert formatting.date(date(2026, 12, 1), "dd MMMM y") == "01 December 2026"


def test_a_datetime_counts_by_its_day_in_utc():
    assert formatting.date(datetime(2027, 3, 1, 23, 30, tzinfo=UTC)) == "1 March 2027"
    # 01:30 on 2 March at +05:00 is still 1 March in UTC.
    plus_five = timezone(timedelta(hours=5))
    assert formatting.date(datetime(2027, 3, 2, 1, 30, tzinfo=plus_five)) == "1 March 2027"


def test_datetime_is_written_in_utc():
    assert formatting.datetime(datetime(2026, 11, 26, 12, 0, tzinfo=UTC)) == "26 Nov 2026, 12:00 UTC"
    assert formatting.datetime(datetime(2026, 11, 5, 9, 7, tzinfo=UTC)) == "5 Nov 2026, 09:07 UTC"
    assert formatting.datetime(datetime(2026, 11, 5, 14, 7, tzinfo=timezone(timedelta(hours=5)))) == (
        "5 Nov 2026, 09:07 UTC"
    )
    assert formatting.datetime(datetime(2026, 11, 5, 9, 7)) == "5 Nov 2026, 09:07 UTC"  # naive: UTC already


def test_nothing_is_a_dash():
    assert formatting.date(None) == "—"
    assert formatting.datetime(None) == "—"
    assert formatting.money(None) == "—"
    assert formatting.percent(None) == "—"


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(25_000_00, "USD"), "$25,000.00"),
        (Money(240_00, "USD"), "$240.00"),
        (Money(5, "USD"), "$0.05"),
        (Money(0, "USD"), "$0.00"),
        (Money(-10_50, "USD"), "-$10.50"),
        (Money(1_234_50, "EUR"), "€1,234.50"),
        (Money(99_00, "GBP"), "£99.00"),
        (Money(5000, "JPY"), "¥5,000"),
    ],
)
def test_money_has_its_currency_symbol_grouping_and_decimals(money, text):
    assert formatting.money(money) == text


def test_money_format_is_the_same_text():
    assert Money(25_000_00, "USD").format() == formatting.money(Money(25_000_00, "USD"))
    assert str(Money(-10_50, "USD")) == "-$10.50"


@pytest.mark.parametrize(
    ("value", "text"),
    [("15", "15 %"), ("15.00", "15 %"), ("32.5", "32.5 %"), ("32.50", "32.5 %"), ("0.25", "0.25 %"), ("100", "100 %")],
)
def test_percent(value, text):
    assert formatting.percent(Decimal(value)) == text


def test_percent_points_are_the_number_alone():
    assert formatting.percent_points(Decimal("2.00")) == "2"
    assert formatting.percent_points(Decimal("2.50")) == "2.5"


def test_numbers_are_grouped_and_keep_their_decimals():
    assert formatting.number(10_000) == "10,000"
    assert formatting.number(7) == "7"
    assert formatting.number(Decimal("1234.50")) == "1,234.5"
    assert formatting.number(Decimal("1E+3")) == "1,000"


def test_level_names():
    assert formatting.level_name("premier") == "Premier"
    assert formatting.level_name("reseller") == "Reseller"
    assert formatting.level_name(Level.PREMIER) == "Premier"
    assert formatting.level_name(None) == "—"
    assert formatting.level_name("", default="no level") == "no level"


def test_totp_groups():
    assert formatting.totp_groups("ABCDEFGHIJ") == "ABCD EFGH IJ"


@given(st.dates())
def test_long_date_is_day_month_name_year(day):
    assert formatting.date(day) == f"{day.day} {day:%B} {day.year}"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_usd_amounts_read_like_the_decimal_they_are(minor):
    text = formatting.money(Money(minor, "USD"))
    sign = "-" if minor < 0 else ""
    assert text == f"{sign}${abs(Decimal(minor) / 100):,.2f}"


def test_every_function_is_a_filter():
    env = Environment(autoescape=True)

    class App:
        jinja_env = env

    formatting.register(App())  # type: ignore[arg-type]
    template = env.from_string(
        "{{ n|plural('day') }}; {{ entries|plural('entry', 'entries') }}; {{ day|date }}; {{ day|date('short') }};"
        " {{ amount|money }}; {{ rate|percent }}; {{ level|level_name }}; {{ moment|datetime }}"
    )
    assert template.render(
        n=3,
        entries=1,
        day=date(2027, 3, 1),
        amount=Money(15_00, "USD"),
        rate=Decimal("32.5"),
        level="premier",
        moment=datetime(2027, 3, 1, 8, 0, tzinfo=UTC),
    ) == ("3 days; 1 entry; 1 March 2027; 1 Mar 2027; $15.00; 32.5 %; Premier; 1 Mar 2027, 08:00 UTC")


def test_role_label_reads_the_roles_label():
    from cloudcodes.auth.models import Role

    assert formatting.role_label(Role.MANAGER) == "Channel sales manager"
    assert formatting.role_label(Role.ADMIN) == "Administrator"
