import pytest

from cloudcodes import create_app
from cloudcodes.config import ConfigError, normalise_database_url


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (
        "CLOUDCODES_ENV",
        "CLOUDCODES_SECRET_KEY",
        "CLOUDCODES_DATABASE_URL",
        "CLOUDCODES_BILLING_PAYMENT_URL",
        "CLOUDCODES_RATELIMIT_STORAGE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDCODES_DATABASE_URL", f"sqlite:///{tmp_path}/config.db")
    return monkeypatch


def test_production_refuses_to_start_without_a_secret_key(clean_env):
    with pytest.raises(ConfigError, match="CLOUDCODES_SECRET_KEY is not set"):
        create_app()


def test_production_refuses_to_start_without_the_payment_page(clean_env):
    clean_env.setenv("CLOUDCODES_SECRET_KEY", "x" * 64)
    with pytest.raises(ConfigError, match="CLOUDCODES_BILLING_PAYMENT_URL is not set"):
        create_app()


@pytest.mark.parametrize("storage", [None, "memory://", ""])
def test_production_refuses_to_start_with_rate_limits_counted_in_each_worker(clean_env, storage):
    clean_env.setenv("CLOUDCODES_SECRET_KEY", "x" * 64)
    clean_env.setenv("CLOUDCODES_BILLING_PAYMENT_URL", "https://billing.cloudcodes.example/pay")
    if storage is not None:
        clean_env.setenv("CLOUDCODES_RATELIMIT_STORAGE_URL", storage)
    with pytest.raises(ConfigError) as refused:
        create_app()
    message = str(refused.value)
    assert message.startswith("CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://")
    assert "Set it to a redis:// URL" in message
    assert "each gunicorn worker counts requests on its own" in message


def test_production_starts_with_a_secret_key_from_the_environment(clean_env):
    clean_env.setenv("CLOUDCODES_SECRET_KEY", "x" * 64)
    clean_env.setenv("CLOUDCODES_BILLING_PAYMENT_URL", "https://billing.cloudcodes.example/pay")
    clean_env.setenv("CLOUDCODES_RATELIMIT_STORAGE_URL", "redis://cache.internal:6379/0")
    app = create_app()
    assert app.config["ENV"] == "production"
    assert app.config["SECRET_KEY"] == "x" * 64
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/0"
    assert not app.config["TESTING"]


@pytest.mark.parametrize("env", ["development", "test"])
def test_rate_limits_are_counted_in_memory_outside_production_by_default(clean_env, env):
    clean_env.setenv("CLOUDCODES_ENV", env)
    assert create_app().config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_development_starts_without_a_secret_key(clean_env):
    clean_env.setenv("CLOUDCODES_ENV", "development")
    assert create_app().config["SECRET_KEY"]


def test_an_unknown_environment_is_refused(clean_env):
    clean_env.setenv("CLOUDCODES_ENV", "staging")
    with pytest.raises(ConfigError, match="CLOUDCODES_ENV must be one of"):
        create_app()


def test_test_overrides_come_last(clean_env):
    clean_env.setenv("CLOUDCODES_SITE_URL", "https://from-env.example")
    app = create_app({"SITE_URL": "https://from-test.example"})
    assert app.config["SITE_URL"] == "https://from-test.example"
    assert app.config["TESTING"]


def test_the_database_defaults_to_sqlite_under_instance(clean_env):
    clean_env.delenv("CLOUDCODES_DATABASE_URL")
    clean_env.setenv("CLOUDCODES_ENV", "development")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/cloudcodes.db"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg_3(given, used):
    assert normalise_database_url(given) == used


def test_cookies_are_secure_when_the_site_runs_on_https(clean_env):
    app = create_app({"HTTPS": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
