"""Settings: defaults here, then the environment (``CLOUDCODES_*``), then a test's overrides.

Only ``load_config`` reads the environment, and only when an app is created, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cloudcodes.crypto import BadKey, derive_key, parse_keys

ENVIRONMENTS = ("production", "development", "test")
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105 - never used in production
DEV_SITE_URL = "http://127.0.0.1:5000"  # flask run's own address; production must say its own


class ConfigError(RuntimeError):
    """The app cannot start with these settings; the message says what to set."""


DEFAULTS: dict[str, Any] = {
    "ENV": "production",
    "DATABASE_URL": None,  # SQLite under instance/ when unset
    "SECRET_KEY": None,
    "WEBHOOK_SECRET": None,
    "SMTP_URL": None,  # messages go to instance/mail/ when unset
    "MAIL_FROM": "CloudCodes Partner Program <partners@cloudcodes.example>",
    "RATELIMIT_STORAGE_URL": "memory://",  # refused in production: each worker would count on its own
    # Said explicitly: the limiter is one object, and it keeps the last app's choice otherwise.
    "RATELIMIT_ENABLED": True,
    "SITE_URL": None,  # the public address links are built from; DEV_SITE_URL outside production
    # The billing system's payment page; outside production the built-in test page (/dev/billing/pay).
    "BILLING_PAYMENT_URL": None,
    "HTTPS": False,
    "PROXY_HOPS": 0,  # how many reverse proxies in front set X-Forwarded-For / -Proto
    # The task queue (Celery): Redis in production; unset outside it, the embedded broker (cloudcodes.jobs).
    "BROKER_URL": None,
    # Where instance/ lives (the SQLite default, written mail, the embedded broker); never site-packages.
    "INSTANCE_PATH": None,
    # Who may read /metrics: comma-separated networks.
    "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    "SENTRY_DSN": None,  # set: errors are reported to Sentry
    # Fernet keys for bank numbers and tax IDs, comma-separated (the first encrypts, all decrypt); derived
    # from SECRET_KEY outside production when unset.
    "PAYOUT_ENCRYPTION_KEY": None,
    "LOG_FORMAT": None,  # "json" or "text"; unset: JSON in production, text otherwise
    # The nameserver for the domain checks (registration proofs, MX evidence): "127.0.0.1:5353" or
    # "127.0.0.1"; empty, the system's resolver. Each lookup gives up after DNS_TIMEOUT_SECONDS.
    "DNS_RESOLVER": "",
    "DNS_TIMEOUT_SECONDS": 3,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whichever way the URL names it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _scheme(url: str) -> str:
    """The part before ``://``, for messages: never the rest, which may hold a password."""
    return url.split("://", 1)[0] + "://" if "://" in url else repr(url[:20])


def production_refusals(config: Any, instance_path: str) -> list[str]:
    """Every development fallback the settings leave on, each with the setting that turns it off.

    All of them at once, so an operator fixes the host in one round.
    """
    refused = []
    if not config.get("SECRET_KEY"):
        refused.append(
            "CLOUDCODES_SECRET_KEY is not set. It signs sessions and links. Set it to a long random value, for "
            "example the output of python -c 'import secrets; print(secrets.token_hex(32))'."
        )

    database_url = str(config.get("DATABASE_URL") or config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not database_url:
        refused.append(
            f"CLOUDCODES_DATABASE_URL is not set, so the database would be an SQLite file in {instance_path}, "
            "one per host. Set it to the PostgreSQL database every host shares, for example "
            "postgresql://cloudcodes:secret@db.internal/cloudcodes."
        )
    elif not normalise_database_url(database_url).startswith("postgresql"):
        kind = "an SQLite file, one per host" if database_url.startswith("sqlite") else "not PostgreSQL"
        refused.append(
            f"CLOUDCODES_DATABASE_URL is a {_scheme(database_url)} URL ({kind}), which production refuses. "
            "Set it to the PostgreSQL database every host shares, for example "
            "postgresql://cloudcodes:secret@db.internal/cloudcodes."
        )

    smtp_url = str(config.get("SMTP_URL") or "")
    if not smtp_url:
        refused.append(
            f"CLOUDCODES_SMTP_URL is not set, so every e-mail would be written to {os.path.join(instance_path, 'mail')}"
            " and marked sent without reaching anyone. Set it to the mail server: smtp://user:password@host:587 "
            "(STARTTLS) or smtps://user:password@host:465."
        )
    elif not smtp_url.startswith(("smtp://", "smtps://")):
        refused.append(
            f"CLOUDCODES_SMTP_URL is a {_scheme(smtp_url)} URL; it must start with smtp:// or smtps://, for "
            "example smtps://user:password@host:465."
        )

    broker_url = str(config.get("BROKER_URL") or "")
    if not broker_url.startswith(("redis://", "rediss://")):
        now = (
            f"is a {_scheme(broker_url)} URL"
            if broker_url
            else f"is not set, so jobs would queue in the embedded broker in {instance_path}, seen by this host only"
        )
        refused.append(
            f"CLOUDCODES_BROKER_URL {now}. Production needs the task queue in Redis. Set it to a redis:// (or "
            "rediss://) URL that the web servers, the worker and the scheduler share, for example "
            "redis://cache.internal:6379/1."
        )

    if str(config.get("RATELIMIT_STORAGE_URL") or "memory://").startswith("memory://"):
        refused.append(
            "CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://, which production refuses: with memory:// "
            "each gunicorn worker counts requests on its own, so every rate limit is multiplied by the number "
            "of workers. Set it to a redis:// URL, for example redis://cache.internal:6379/0, that all "
            "workers share."
        )

    if not config.get("BILLING_PAYMENT_URL"):
        refused.append(
            "CLOUDCODES_BILLING_PAYMENT_URL is not set. Set it to the address of the billing system's payment "
            "page, where /redeem sends the customer to pay."
        )

    payout_key = config.get("PAYOUT_ENCRYPTION_KEY")
    if not payout_key:
        refused.append(
            "CLOUDCODES_PAYOUT_ENCRYPTION_KEY is not set. It encrypts the partners' bank account numbers and tax "
            "IDs in the database. Set it to a Fernet key, for example the output of python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())', and keep it with the "
            "database's backups: without it they cannot be read."
        )
    else:
        try:
            parse_keys(payout_key)
        except BadKey as error:
            refused.append(str(error))

    if not config.get("SITE_URL"):
        refused.append(
            f"CLOUDCODES_SITE_URL is not set, so every link in an e-mail would point at {DEV_SITE_URL}. Set it to "
            "the site's public address, for example https://partners.cloudcodes.com."
        )
    return refused


def load_config(app: Any, test_config: dict[str, Any] | None) -> None:
    config = app.config
    config.update(DEFAULTS)
    config.from_prefixed_env("CLOUDCODES")
    if test_config is not None:
        config.update(test_config)
        config["ENV"] = test_config.get("ENV", "test")

    env = str(config["ENV"]).lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"CLOUDCODES_ENV must be one of {', '.join(ENVIRONMENTS)}; it is {env!r}.")
    config["ENV"] = env
    config["TESTING"] = config.get("TESTING", False) or env == "test"

    instance_path = config.get("INSTANCE_PATH")
    if instance_path:
        app.instance_path = os.path.abspath(os.path.expanduser(str(instance_path)))
        config.root_path = app.instance_path  # instance_relative_config: files named relative to it
    config["INSTANCE_PATH"] = app.instance_path

    if env == "production":
        refused = production_refusals(config, app.instance_path)
        if refused:
            count = f"{len(refused)} setting{'s' if len(refused) > 1 else ''}"
            raise ConfigError(
                f"The app will not start in production until {count} {'are' if len(refused) > 1 else 'is'} "
                "fixed:\n" + "\n".join(f"- {problem}" for problem in refused)
            )

    # from_prefixed_env parses JSON, so an all-digit key arrives as a number.
    config["SECRET_KEY"] = str(config.get("SECRET_KEY") or DEV_SECRET_KEY)
    config["SITE_URL"] = str(config.get("SITE_URL") or DEV_SITE_URL)
    try:
        payout_keys = parse_keys(config.get("PAYOUT_ENCRYPTION_KEY"))
    except BadKey as error:
        raise ConfigError(str(error)) from None
    # The parsed list (the first key encrypts): outside production, one derived from the secret key when unset.
    config["PAYOUT_ENCRYPTION_KEYS"] = payout_keys or (derive_key(config["SECRET_KEY"]),)

    ratelimit_storage_url = str(config.get("RATELIMIT_STORAGE_URL") or "memory://")
    config["RATELIMIT_STORAGE_URL"] = ratelimit_storage_url

    database_url = config.get("DATABASE_URL") or config.get("SQLALCHEMY_DATABASE_URI")
    if not database_url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = "sqlite:///" + os.path.join(app.instance_path, "cloudcodes.db")
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(str(database_url))
    config["DATABASE_URL"] = config["SQLALCHEMY_DATABASE_URI"]

    engine_options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        engine_options.setdefault("connect_args", {"connect_timeout": 5})
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options

    config["RATELIMIT_STORAGE_URI"] = ratelimit_storage_url
    if ratelimit_storage_url.startswith(("redis://", "rediss://")):
        # Redis unreachable: each worker counts on its own until it is back, rather than every
        # limited page failing; a dead server is noticed within a second, not at the OS's timeout.
        config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 1, "socket_connect_timeout": 1})

    https = bool(config["HTTPS"])
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = https
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = https
    config["PREFERRED_URL_SCHEME"] = "https" if https else "http"
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
