import os
from pathlib import Path

import pytest

import cloudcodes
from cloudcodes import create_app
from cloudcodes.config import DEV_SITE_URL, ConfigError, normalise_database_url
from cloudcodes.urls import external_url


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("CLOUDCODES_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDCODES_DATABASE_URL", f"sqlite:///{tmp_path}/config.db")
    # What the app writes on its own (the embedded broker outside tests) lands here, not in the checkout.
    monkeypatch.setenv("CLOUDCODES_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


# What a production host sets (README, "Running in production"); nothing is contacted at start.
PRODUCTION = {
    "CLOUDCODES_SECRET_KEY": "x" * 64,
    "CLOUDCODES_DATABASE_URL": "postgresql://cloudcodes:db-password@db.internal/cloudcodes",
    "CLOUDCODES_SMTP_URL": "smtps://portal:mail-password@mail.internal:465",
    "CLOUDCODES_BROKER_URL": "redis://cache.internal:6379/1",
    "CLOUDCODES_RATELIMIT_STORAGE_URL": "redis://cache.internal:6379/0",
    "CLOUDCODES_BILLING_PAYMENT_URL": "https://billing.cloudcodes.example/pay",
    "CLOUDCODES_SITE_URL": "https://partners.cloudcodes.example",
    "CLOUDCODES_PAYOUT_ENCRYPTION_KEY": "lvTRmN2b8h3nq9cQv8oJ4yq2JmH8s0d3zq8cQx0Zr1E=",
}


@pytest.fixture
def production_env(clean_env, tmp_path):
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    return clean_env


def refusals(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The settings a refusal names, one per line of its list."""
    lines = str(error.value).splitlines()
    assert lines[0].startswith("The app will not start in production until")
    return [line.removeprefix("- ") for line in lines[1:]]


def test_production_starts_with_every_setting_given(production_env, tmp_path):
    app = create_app()
    assert app.config["ENV"] == "production"
    assert app.config["SECRET_KEY"] == "x" * 64
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/0"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://cloudcodes:db-password@db.internal/cloudcodes"
    assert app.config["SITE_URL"] == "https://partners.cloudcodes.example"
    assert not app.config["TESTING"]
    assert not (tmp_path / "instance").exists()  # nothing falls back to a file in the instance folder


@pytest.mark.parametrize(
    ("setting", "value", "refusal"),
    [
        ("SECRET_KEY", None, "CLOUDCODES_SECRET_KEY is not set. It signs sessions and links"),
        ("DATABASE_URL", None, "CLOUDCODES_DATABASE_URL is not set, so the database would be an SQLite file"),
        ("DATABASE_URL", "sqlite:////srv/cloudcodes.db", "CLOUDCODES_DATABASE_URL is a sqlite:// URL (an SQLite file"),
        ("DATABASE_URL", "mysql://portal:db-password@db.internal/x", "CLOUDCODES_DATABASE_URL is a mysql:// URL"),
        ("SMTP_URL", None, "CLOUDCODES_SMTP_URL is not set, so every e-mail would be written to"),
        ("SMTP_URL", "smpt://portal:mail-password@mail.internal", "CLOUDCODES_SMTP_URL is a smpt:// URL; it must"),
        ("BROKER_URL", None, "CLOUDCODES_BROKER_URL is not set, so jobs would queue in the embedded broker"),
        ("BROKER_URL", "amqp://guest:queue-password@rabbit.internal//", "CLOUDCODES_BROKER_URL is a amqp:// URL"),
        ("BROKER_URL", "sqla+sqlite:////srv/broker.db", "CLOUDCODES_BROKER_URL is a sqla+sqlite:// URL"),
        ("RATELIMIT_STORAGE_URL", None, "CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://"),
        ("RATELIMIT_STORAGE_URL", "memory://", "CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://"),
        ("RATELIMIT_STORAGE_URL", "", "CLOUDCODES_RATELIMIT_STORAGE_URL is unset or memory://"),
        ("BILLING_PAYMENT_URL", None, "CLOUDCODES_BILLING_PAYMENT_URL is not set"),
        ("SITE_URL", None, "CLOUDCODES_SITE_URL is not set, so every link in an e-mail would point at"),
        ("PAYOUT_ENCRYPTION_KEY", None, "CLOUDCODES_PAYOUT_ENCRYPTION_KEY is not set. It encrypts the partners'"),
        ("PAYOUT_ENCRYPTION_KEY", "not-a-key", "Key 1 of CLOUDCODES_PAYOUT_ENCRYPTION_KEY is not a Fernet key"),
    ],
)
def test_production_refuses_each_development_fallback_and_names_the_setting(
    production_env, tmp_path, setting, value, refusal
):
    if value is None:
        production_env.delenv(f"CLOUDCODES_{setting}")
    else:
        production_env.setenv(f"CLOUDCODES_{setting}", value)
    with pytest.raises(ConfigError) as refused:
        create_app()
    assert str(refused.value).startswith("The app will not start in production until 1 setting is fixed:\n")
    (only,) = refusals(refused)
    assert only.startswith(refusal)
    assert "Set it to" in only or "must start with" in only  # says what to do
    for password in ("db-password", "mail-password", "queue-password"):
        assert password not in only  # a URL's credentials never reach a log
    assert not (tmp_path / "instance").exists()  # refused before anything is written


def test_production_refusals_name_the_instance_folder_the_fallbacks_would_use(production_env, tmp_path):
    for setting in ("DATABASE_URL", "SMTP_URL", "BROKER_URL"):
        production_env.delenv(f"CLOUDCODES_{setting}")
    with pytest.raises(ConfigError) as refused:
        create_app()
    database, mail, broker = refusals(refused)
    assert f"an SQLite file in {tmp_path / 'instance'}, one per host" in database
    assert f"written to {tmp_path / 'instance' / 'mail'} and marked sent without reaching anyone" in mail
    assert f"the embedded broker in {tmp_path / 'instance'}, seen by this host only" in broker


def test_production_reports_every_refusal_at_once(clean_env):
    clean_env.delenv("CLOUDCODES_DATABASE_URL")
    with pytest.raises(ConfigError) as refused:
        create_app()
    assert str(refused.value).startswith("The app will not start in production until 8 settings are fixed:")
    named = [line.split(" ", 1)[0] for line in refusals(refused)]
    assert named == [
        "CLOUDCODES_SECRET_KEY",
        "CLOUDCODES_DATABASE_URL",
        "CLOUDCODES_SMTP_URL",
        "CLOUDCODES_BROKER_URL",
        "CLOUDCODES_RATELIMIT_STORAGE_URL",
        "CLOUDCODES_BILLING_PAYMENT_URL",
        "CLOUDCODES_PAYOUT_ENCRYPTION_KEY",
        "CLOUDCODES_SITE_URL",
    ]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("DATABASE_URL", "postgres://cloudcodes@db.internal:5433/cloudcodes"),
        ("DATABASE_URL", "postgresql+psycopg://cloudcodes@db.internal/cloudcodes"),
        ("SMTP_URL", "smtp://portal:secret@mail.internal:587"),
        ("BROKER_URL", "rediss://:secret@cache.internal:6380/1"),
        ("RATELIMIT_STORAGE_URL", "rediss://cache.internal:6380/0"),
    ],
)
def test_production_accepts_each_real_service(production_env, setting, value):
    production_env.setenv(f"CLOUDCODES_{setting}", value)
    assert create_app().config["ENV"] == "production"


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


def test_the_instance_folder_is_where_cloudcodes_instance_path_says(clean_env, tmp_path):
    clean_env.delenv("CLOUDCODES_DATABASE_URL")
    clean_env.setenv("CLOUDCODES_ENV", "development")
    clean_env.chdir(tmp_path)
    clean_env.setenv("CLOUDCODES_INSTANCE_PATH", "data/portal")  # relative: to the working folder
    app = create_app()
    folder = tmp_path / "data" / "portal"
    assert app.instance_path == str(folder)
    assert app.config["INSTANCE_PATH"] == str(folder)
    # The SQLite default follows it (the written mail too: the outbox writes to <instance>/mail).
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{folder}/cloudcodes.db"
    assert folder.is_dir()


def test_a_checkout_keeps_its_instance_folder_and_app_folders_wherever_it_runs_from(clean_env, tmp_path):
    checkout = Path(cloudcodes.__file__).resolve().parent.parent
    clean_env.delenv("CLOUDCODES_INSTANCE_PATH")
    clean_env.setenv("CLOUDCODES_ENV", "development")
    clean_env.chdir(tmp_path)
    app = create_app()
    assert not cloudcodes.INSTALLED
    assert app.instance_path == str(checkout / "instance")
    assert app.template_folder == str(checkout / "templates")
    assert app.static_folder == str(checkout / "static")
    assert app.extensions["migrate"].directory == str(checkout / "migrations")
    assert not list(tmp_path.iterdir())  # nothing written to the working folder


def test_links_in_e_mails_use_the_site_url_from_the_environment(clean_env):
    # make run PORT=5101 sets CLOUDCODES_SITE_URL=http://127.0.0.1:5101 for each process it starts.
    clean_env.setenv("CLOUDCODES_ENV", "development")
    clean_env.setenv("CLOUDCODES_SITE_URL", "http://127.0.0.1:5101")
    app = create_app()
    with app.app_context():
        assert external_url("auth.reset_password", token="t0ken") == "http://127.0.0.1:5101/reset-password/t0ken"


def test_links_outside_production_default_to_flask_run_s_address(clean_env):
    clean_env.setenv("CLOUDCODES_ENV", "development")
    app = create_app()
    assert app.config["SITE_URL"] == DEV_SITE_URL == "http://127.0.0.1:5000"
    with app.app_context():
        assert external_url("public.faq").startswith("http://127.0.0.1:5000/")
