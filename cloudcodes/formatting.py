"""How the portal writes money, dates, numbers, plurals and level names for people to read.

One set of functions, built on Babel. The pages and e-mails use them as Jinja filters (``register``);
the Python that builds flash messages, e-mail bodies and command-line output calls them directly.
There is no Flask import: they work the same in a request, a CLI command, a task or a test, with or
without an app context.

Machine formats are not made here: the JSON API, the CSV exports and the audit log keep ISO dates and
plain decimals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import idna
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from cloudcodes.program.terms import LEVEL_NAMES

if TYPE_CHECKING:
    from flask import Flask

    from cloudcodes.money import Money

# The one locale choice for now; a later issue can pick it per request or per recipient.
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
NONE_TEXT = "—"

Number = int | Decimal


def get_locale(locale: Locale | str | None = None) -> Locale:
    """The locale to write in: the one asked for, else the portal's."""
    if locale is None:
        return DEFAULT_LOCALE
    return locale if isinstance(locale, Locale) else Locale.parse(locale)


# --- Money and numbers --------------------------------------------------------------------------


def money(value: Money | None, *, locale: Locale | str | None = None) -> str:
    """``$25,000.00``, ``-$10.50``, ``¥5,000``: the currency's symbol and its own number of decimals."""
    if value is None:
        return NONE_TEXT
    return babel_numbers.format_currency(value.to_decimal(), value.currency, locale=get_locale(locale))


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
    return babel_dates.format_date(value, DATE_FORMATS.get(format, format), locale=get_locale(locale))


def datetime(value: dt.datetime | None, format: str = "medium", *, locale: Locale | str | None = None) -> str:
    """``5 Mar 2027, 14:30 UTC`` (``medium``), or a CLDR pattern; always in UTC."""
    if value is None:
        return NONE_TEXT
    return babel_dates.format_datetime(
        _utc(value), DATETIME_FORMATS.get(format, format), tzinfo=dt.UTC, locale=get_locale(locale)
    )


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
    """
    if get_locale(locale).plural_form(count) == "one":
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
