"""Settings: defaults here, then the environment (``CLOUDCODES_*``), then a test's overrides.

Only ``load_config`` reads the environment, and only when an app is created, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("production", "development", "test")
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105 - never used in production


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
    "SITE_URL": "http://127.0.0.1:5000",
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
    "LOG_FORMAT": None,  # "json" or "text"; unset: JSON in production, text otherwise
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whichever way the URL names it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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

    secret_key = config.get("SECRET_KEY")
    if not secret_key:
        if env == "production":
            raise ConfigError(
                "CLOUDCODES_SECRET_KEY is not set. It is required outside development and tests: "
                "set it to a long random value, for example the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'."
            )
        secret_key = DEV_SECRET_KEY
    # from_prefixed_env parses JSON, so an all-digit key arrives as a number.
    config["SECRET_KEY"] = str(secret_key)

    if env == "production" and not config.get("BILLING_PAYMENT_URL"):
        raise ConfigError(
            "CLOUDCODES_BILLING_PAYMENT_URL is not set. It is required in production: the address of the "
            "billing system's payment page, where /redeem sends the customer to pay."
        )

    ratelimit_storage_url = str(config.get("RATELIMIT_STORAGE_URL") or "memory://")
    if env == "production" and ratelimit_storage_url.startswith("memory://"):
        raise ConfigError(
            "CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://, which production refuses: with memory:// "
            "each gunicorn worker counts requests on its own, so every rate limit is multiplied by the number "
            "of workers. Set it to a redis:// URL, for example redis://cache.internal:6379/0, that all "
            "workers share."
        )
    config["RATELIMIT_STORAGE_URL"] = ratelimit_storage_url

    database_url = config.get("DATABASE_URL") or config.get("SQLALCHEMY_DATABASE_URI")
    if not database_url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = "sqlite:///" + os.path.join(app.instance_path, "cloudcodes.db")
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(str(database_url))
    config["DATABASE_URL"] = config["SQLALCHEMY_DATABASE_URI"]

    engine_options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        engine_options.setdefault("pool_pre_ping", True)
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
