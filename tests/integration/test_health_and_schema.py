import os
from datetime import datetime
from decimal import Decimal

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.program.models import ProgramSettings
from cloudcodes.program.services import SettingsError, program_terms, update_program_terms
from tests.conftest import make_test_app


def test_healthz_answers_ok_with_the_schema_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["schema"]


def test_healthz_answers_503_when_the_database_is_gone(app, client, database_url):
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        _db.engine.dispose()
    if database_url.startswith("sqlite"):
        os.remove(database_url.removeprefix("sqlite:///"))
    else:
        from tests.support.postgres import drop_database

        server, _, name = database_url.rpartition("/")
        drop_database(f"{server}/postgres", name)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


@pytest.fixture
def empty_database_url(request, tmp_path, postgres_server, database_url):
    """An empty database on the same engine as ``database_url``."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/empty.db"
    from tests.support.postgres import create_database, drop_database

    name = f"cc_empty_{os.getpid()}"
    drop_database(postgres_server, name)
    url = create_database(postgres_server, name)
    request.addfinalizer(lambda: drop_database(postgres_server, name))
    return url


def test_migrations_build_the_schema_from_nothing_and_check_clean(empty_database_url):
    app = make_test_app(empty_database_url)
    with app.app_context():
        upgrade()
        tables = set(inspect(_db.engine).get_table_names())
        assert {"program_settings", "volume_discount_tiers", "faq_entries", "alembic_version"} <= tables
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(_db.engine).get_table_names()) <= {"alembic_version"}
        _db.engine.dispose()


def test_settings_are_stored_with_money_and_aware_timestamps(db):
    row = db.session.get(ProgramSettings, 1)
    assert row.premier_revenue_commitment == Money(2_500_000, "USD")
    update_program_terms(premier_revenue_commitment="30000.00")
    db.session.expire_all()
    row = db.session.get(ProgramSettings, 1)
    assert row.premier_revenue_commitment == Money(3_000_000, "USD")
    assert isinstance(row.updated_at, datetime) and row.updated_at.utcoffset().total_seconds() == 0


def test_invalid_settings_are_refused_and_nothing_changes(db):
    with pytest.raises(SettingsError) as refused:
        update_program_terms(premier_margin_pct=Decimal("10"))
    assert refused.value.field == "premier_margin_pct"
    with pytest.raises(SettingsError):
        update_program_terms(reseller_margin_pct=Decimal("101"))
    db.session.expire_all()
    assert program_terms().premier_margin_pct == 30


def test_the_database_refuses_a_second_settings_row(db):
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO program_settings (id, reseller_margin_pct, premier_margin_pct, premier_commitment_minor,"
                " premier_commitment_currency, premier_trained_sales_staff, registration_lifetime_days,"
                " commission_hold_days, currency, contact_email, updated_at)"
                " VALUES (2, 15, 30, 0, 'USD', 1, 90, 30, 'USD', 'x@example.com', CURRENT_TIMESTAMP)"
            )
        )
    db.session.rollback()


def test_demo_seed_runs_twice_without_harm(runner):
    first = runner.invoke(args=["demo", "seed"])
    second = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Reseller 15 %" in second.output
