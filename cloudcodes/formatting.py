"""How the portal writes money, dates, numbers, plurals and level names for people to read.

One set of functions, built on Babel. The pages and e-mails use them as Jinja filters (``register``);
the Python that builds flash messages, e-mail bodies and command-line output calls them directly.
There is no Flask import: they work the same in a request, a CLI command, a task or a test, with or
without an app context.

The reader's locale comes from a provider the web layer registers (``set_locale_provider``): in a
request it follows the browser's Accept-Language (en-US, en-GB, de, fr), and formats follow CLDR for
that locale. Without a provider, without a header, outside a request, and inside ``default_locale()``
(every e-mail) the portal's house style applies: "$25,000.00", "1 March 2027". The words stay English.

Machine formats are not made here: the JSON API, the CSV exports and the audit log keep ISO dates and
plain decimals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import idna
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from cloudcodes.program.terms import LEVEL_NAMES

if TYPE_CHECKING:
    from flask import Flask

    from cloudcodes.money import Money

# The portal's own locale: its house style below, used whenever no reader's locale applies.
DEFAULT_LOCALE = Locale.parse("en")

# The portal's house style: day, month, year ("1 March 2027"), which CLDR's plain "en" has no name
# for; so the patterns are spelled out (CLDR notation, see babel.dates.format_date).
DATE_FORMATS = {
    "long": "d MMMM y",  # 1 March 2027
    "short": "d MMM y",  # 1 Mar 2027
    "month": "MMMM y",  # March 2027
}
# Times are shown in UTC, as everything is stored.
DATETIME_FORMATS = {
    "medium": "d MMM y, HH:mm 'UTC'",  # 5 Mar 2027, 14:30 UTC
}
# Any other locale writes CLDR's own formats: the named CLDR date format for each of ours, or a skeleton.
CLDR_DATE_FORMATS = {
    "long": "long",  # en_US "March 1, 2027", de "1. März 2027"
    "short": "medium",  # en_US "Mar 1, 2027", de "01.03.2027"
}
CLDR_DATE_SKELETONS = {
    "month": "yMMMM",  # en_US "March 2027", de "März 2027"
}
NONE_TEXT = "—"

Number = int | Decimal

LocaleProvider = Callable[[], Locale | None]

_locale_provider: LocaleProvider | None = None
# Set by default_locale(): the house style, whatever the provider would answer.
_house_style_only: ContextVar[bool] = ContextVar("cloudcodes_formatting_house_style_only", default=False)


def set_locale_provider(provider: LocaleProvider | None) -> LocaleProvider | None:
    """Who says the reader's locale: a callable answering a Locale, or None for the portal's own.

    The web layer registers one that reads the request; None removes it. Returns the one it replaces.
    """
    # One hook for the whole process, set by the app factory.
    global _locale_provider
    previous, _locale_provider = _locale_provider, provider
    return previous


@contextlib.contextmanager
def default_locale() -> Iterator[None]:
    """Write in the portal's house style inside this block, whoever is reading the page around it.

    For what is not read by the person in front of the browser: e-mails, stored texts.
    """
    token = _house_style_only.set(True)
    try:
        yield
    finally:
        _house_style_only.reset(token)


def reader_locale() -> Locale | None:
    """The reader's locale, or None when the house style applies."""
    if _house_style_only.get() or _locale_provider is None:
        return None
    return _locale_provider()


def get_locale(locale: Locale | str | None = None) -> Locale:
    """The locale to write in: the one asked for, else the reader's, else the portal's."""
    if locale is None:
        locale = reader_locale()
        if locale is None:
            return DEFAULT_LOCALE
    return locale if isinstance(locale, Locale) else Locale.parse(locale)


def html_lang(locale: Locale | str | None = None) -> str:
    """The page's ``lang``: ``en`` for the house style, else the locale as a language tag (``en-US``, ``de``)."""
    return str(get_locale(locale)).replace("_", "-")


def _is_house_style(locale: Locale) -> bool:
    return locale == DEFAULT_LOCALE


# --- Money and numbers --------------------------------------------------------------------------


def money(value: Money | None, *, locale: Locale | str | None = None) -> str:
    """``$25,000.00``, ``-$10.50``, ``¥5,000``: the currency's symbol and its own number of decimals."""
    if value is None:
        return NONE_TEXT
    return _currency_text(value, get_locale(locale))


@lru_cache(maxsize=4096)
def _currency_text(value: Money, locale: Locale) -> str:
    # Babel parses and applies the locale's pattern each time; a page shows the same few amounts
    # (zeros, totals) many times over, and a money value and a locale always read the same.
    return babel_numbers.format_currency(value.to_decimal(), value.currency, locale=locale)


def email_address(value: str | None) -> str:
    """An address as people write it: its domain stored in ASCII (``xn--bcher-kva.de``) shown as ``bücher.de``."""
    if not value:
        return NONE_TEXT
    local, at, domain = value.rpartition("@")
    if not at or "xn--" not in domain:
        return value
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return value


def number(value: Number | None, *, locale: Locale | str | None = None) -> str:
    """``10,000``, ``12.5``: grouped, with every decimal the value has and no trailing zeros."""
    if value is None:
        return NONE_TEXT
    if isinstance(value, Decimal):
        value = value.normalize()
    return babel_numbers.format_decimal(value, locale=get_locale(locale), decimal_quantization=False)


def percent_points(value: Number | None, *, locale: Locale | str | None = None) -> str:
    """A percentage without its sign, as in "+2 margin points": ``2``, ``12.5``."""
    return number(value, locale=locale)


def percent(value: Number | None, *, locale: Locale | str | None = None) -> str:
    """``15 %``, ``32.5 %``: ``value`` is in per cent already (30 means 30 %, not 3000 %)."""
    if value is None:
        return NONE_TEXT
    return f"{percent_points(value, locale=locale)} %"


# --- Dates and times ----------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    """An aware time in UTC; a naive one is taken to be in UTC already (as the database keeps them)."""
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def date(value: dt.date | dt.datetime | None, format: str = "long", *, locale: Locale | str | None = None) -> str:
    """``1 March 2027`` (``long``), ``1 Mar 2027`` (``short``), ``March 2027`` (``month``), or a CLDR pattern.

    A datetime counts by its day in UTC.
    """
    if value is None:
        return NONE_TEXT
    if isinstance(value, dt.datetime):
        value = _utc(value).date()
    locale = get_locale(locale)
    if _is_house_style(locale):
        return babel_dates.format_date(value, DATE_FORMATS.get(format, format), locale=locale)
    if format in CLDR_DATE_SKELETONS:
        return babel_dates.format_skeleton(CLDR_DATE_SKELETONS[format], value, locale=locale)
    return babel_dates.format_date(value, CLDR_DATE_FORMATS.get(format, format), locale=locale)


def datetime(value: dt.datetime | None, format: str = "medium", *, locale: Locale | str | None = None) -> str:
    """``5 Mar 2027, 14:30 UTC`` (``medium``), or a CLDR pattern; always in UTC.

    For a reader's locale, ``medium`` is CLDR's medium date and a 24-hour time, joined the locale's way
    (en_US ``Mar 5, 2027, 14:30 UTC``, de ``05.03.2027, 14:30 UTC``).
    """
    if value is None:
        return NONE_TEXT
    value = _utc(value)
    locale = get_locale(locale)
    if _is_house_style(locale) or format != "medium":
        return babel_dates.format_datetime(value, DATETIME_FORMATS.get(format, format), tzinfo=dt.UTC, locale=locale)
    day = babel_dates.format_date(value.date(), "medium", locale=locale)
    time = babel_dates.format_time(value, "HH:mm 'UTC'", tzinfo=dt.UTC, locale=locale)
    # As Babel joins a named date and time: the pattern's quotes dropped, {1} the date, {0} the time.
    joined = str(locale.datetime_formats["medium"]).replace("'", "")
    return joined.replace("{1}", day).replace("{0}", time)


def duration(value: dt.timedelta | None, *, locale: Locale | str | None = None) -> str:
    """How long something took: ``under a second``, ``4 seconds``, ``2 minutes 5 seconds``, ``1 hour 3 minutes``."""
    if value is None:
        return NONE_TEXT
    seconds = int(value.total_seconds())
    if seconds < 1:
        return "under a second"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, "hour"), (minutes, "minute")] if hours else [(minutes, "minute"), (seconds, "second")]
    return " ".join(plural(count, unit, locale=locale) for count, unit in parts if count)


# --- Words --------------------------------------------------------------------------------------


def plural_word(count: Number, singular: str, plural: str | None = None, *, locale: Locale | str | None = None) -> str:
    """The form of a word that goes with ``count``: ``day`` or ``days``.

    ``plural`` is for words that do not just take an "s" (``entry``/``entries``, ``person``/``people``);
    for a verb, the singular is the form that goes with one (``matches``/``match``).
    The words are English, so English's rule picks the form whatever the reader's locale (French
    counts 0 as "one": "0 day" would be wrong English); a translation will bring its own forms.
    ``locale`` is kept for the callers' symmetry with ``plural``.
    """
    if DEFAULT_LOCALE.plural_form(count) == "one":
        return singular
    return plural if plural is not None else f"{singular}s"


def plural(count: Number, singular: str, plural: str | None = None, *, locale: Locale | str | None = None) -> str:
    """``1 day``, ``3 days``, ``1,200 seats``; ``plural(2, "entry", "entries")`` for irregular words."""
    return f"{number(count, locale=locale)} {plural_word(count, singular, plural, locale=locale)}"


def level_name(level: str | None, default: str = NONE_TEXT) -> str:
    """``Premier`` for ``premier``, ``Reseller`` for ``reseller``; ``default`` when there is no level."""
    if not level:
        return default
    return LEVEL_NAMES.get(level) or str(level)


def role_label(role: Any) -> str:
    """``Channel sales manager`` for ``Role.MANAGER``: a role (any enumeration with a ``label``) as people read it.

    Duck-typed, so that this foundation module needs no import of the auth package.
    """
    label = getattr(role, "label", None)
    return label if isinstance(label, str) else str(role)


def totp_groups(secret: str) -> str:
    """A two-factor secret in groups of four letters, easier to type: ``ABCD EFGH IJKL``."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- Jinja --------------------------------------------------------------------------------------

FILTERS: dict[str, Any] = {
    "money": money,
    "number": number,
    "email_address": email_address,
    "percent": percent,
    "percent_points": percent_points,
    "date": date,
    "datetime": datetime,
    "duration": duration,
    "plural": plural,
    "plural_word": plural_word,
    "level_name": level_name,
    "role_label": role_label,
    "totp_groups": totp_groups,
}


def register(app: Flask) -> None:
    """Make every function above a Jinja filter of ``app``, for its pages and e-mails alike."""
    app.jinja_env.filters.update(FILTERS)
