"""The portal's presentation formats: what people read in pages, e-mails and flash messages."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from babel import Locale
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


# --- The reader's locale ------------------------------------------------------------------------

NBSP, NNBSP = "\xa0", "\u202f"  # CLDR's no-break space, and French's narrow one between digit groups


@pytest.mark.parametrize(
    ("locale", "long", "short", "month"),
    [
        ("en_US", "March 1, 2027", "Mar 1, 2027", "March 2027"),
        ("en_GB", "1 March 2027", "1 Mar 2027", "March 2027"),
        ("de", "1. März 2027", "01.03.2027", "März 2027"),
        ("fr", "1 mars 2027", "1 mars 2027", "mars 2027"),
    ],
)
def test_a_readers_locale_writes_cldrs_own_dates(locale, long, short, month):
    day = date(2027, 3, 1)
    assert formatting.date(day, locale=locale) == long
    assert formatting.date(day, "long", locale=locale) == long
    assert formatting.date(day, "short", locale=locale) == short
    assert formatting.date(day, "month", locale=locale) == month
    assert formatting.date(day, "dd MMMM y", locale="de") == "01 März 2027"  # a pattern of one's own still holds


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en_US", "Mar 5, 2027, 14:30 UTC"),
        ("en_GB", "5 Mar 2027, 14:30 UTC"),
        ("de", "05.03.2027, 14:30 UTC"),
        ("fr", "5 mars 2027, 14:30 UTC"),
    ],
)
def test_a_readers_locale_writes_times_in_utc_the_locales_way(locale, text):
    assert formatting.datetime(datetime(2027, 3, 5, 14, 30, tzinfo=UTC), locale=locale) == text
    # 19:30 at +05:00 is still 14:30 UTC
    plus_five = timezone(timedelta(hours=5))
    assert formatting.datetime(datetime(2027, 3, 5, 19, 30, tzinfo=plus_five), locale=locale) == text


@pytest.mark.parametrize(
    ("locale", "usd", "jpy", "number", "decimal", "percent"),
    [
        ("en_US", "$25,000.00", "¥5,000", "10,000", "1,234.5", "12.5 %"),
        ("en_GB", "US$25,000.00", "JP¥5,000", "10,000", "1,234.5", "12.5 %"),
        ("de", f"25.000,00{NBSP}$", f"5.000{NBSP}¥", "10.000", "1.234,5", "12,5 %"),
        ("fr", f"25{NNBSP}000,00{NBSP}$US", f"5{NNBSP}000{NBSP}JPY", f"10{NNBSP}000", f"1{NNBSP}234,5", "12,5 %"),
    ],
)
def test_a_readers_locale_writes_money_and_numbers_its_way(locale, usd, jpy, number, decimal, percent):
    assert formatting.money(Money(25_000_00, "USD"), locale=locale) == usd
    assert formatting.money(Money(5000, "JPY"), locale=locale) == jpy  # the yen has no decimals anywhere
    assert formatting.number(10_000, locale=locale) == number
    assert formatting.number(Decimal("1234.50"), locale=locale) == decimal
    assert formatting.percent(Decimal("12.50"), locale=locale) == percent


@pytest.mark.parametrize("locale", ["en_US", "en_GB", "de", "fr"])
def test_english_words_take_englishs_plural_whatever_the_locale(locale):
    # French counts 0 as singular: the words are English, so "0 days" all the same.
    assert formatting.plural(0, "day", locale=locale) == "0 days"
    assert formatting.plural(1, "day", locale=locale) == "1 day"
    assert formatting.plural(2, "entry", "entries", locale=locale) == "2 entries"
    assert formatting.plural(1200, "seat", locale=locale) == f"{formatting.number(1200, locale=locale)} seats"


@pytest.fixture
def reader():
    """A locale provider the test sets, as the web layer does for a request; removed afterwards."""
    chosen = {}
    previous = formatting.set_locale_provider(lambda: chosen.get("locale"))
    yield chosen
    formatting.set_locale_provider(previous)


def test_the_providers_locale_is_used_when_none_is_asked_for(reader):
    reader["locale"] = Locale.parse("de")
    assert formatting.money(Money(25_000_00, "USD")) == f"25.000,00{NBSP}$"
    assert formatting.date(date(2027, 3, 1)) == "1. März 2027"
    assert formatting.html_lang() == "de"
    assert formatting.date(date(2027, 3, 1), locale="en_US") == "March 1, 2027"  # an explicit one still wins
    reader["locale"] = Locale.parse("en_US")
    assert formatting.html_lang() == "en-US"


def test_no_locale_from_the_provider_is_the_house_style(reader):
    reader["locale"] = None
    assert formatting.money(Money(25_000_00, "USD")) == "$25,000.00"
    assert formatting.date(date(2027, 3, 1)) == "1 March 2027"
    assert formatting.date(date(2027, 3, 1), "short") == "1 Mar 2027"
    assert formatting.date(date(2027, 3, 1), "month") == "March 2027"
    assert formatting.datetime(datetime(2027, 3, 5, 14, 30, tzinfo=UTC)) == "5 Mar 2027, 14:30 UTC"
    assert formatting.html_lang() == "en"


def test_default_locale_keeps_the_house_style_inside_whatever_the_reader(reader):
    reader["locale"] = Locale.parse("fr")
    with formatting.default_locale():
        assert formatting.money(Money(25_000_00, "USD")) == "$25,000.00"
        assert formatting.date(date(2027, 3, 1)) == "1 March 2027"
        assert formatting.html_lang() == "en"
    assert formatting.date(date(2027, 3, 1)) == "1 mars 2027"  # and the reader's again after the block
