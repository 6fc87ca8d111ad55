"""Enumerated columns: Python enums in memory, their values in the database, refused when unknown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, Engine, Enum, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from cloudcodes.auth.models import Role, User
from cloudcodes.billing.models import AttributionRule, Channel, LedgerEntry, LedgerKind, Purchase
from cloudcodes.extensions import db as _db
from cloudcodes.jobs.models import JobOutcome, JobRun, JobTrigger
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.program.terms import Level

BEFORE_ENUMS = "0006"  # the last revision whose levels on purchases and approvals were unchecked
WITH_ENUMS = "0007"  # compared as it leaves the data: later migrations add columns of their own


def enum_columns() -> list[tuple[str, str, type]]:
    """(table, column, enum) for every enumerated column of the models."""
    return [
        (table.name, column.name, column.type.enum_class)
        for table in _db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Enum)
    ]


def model_checks(table_name: str, engine: Engine) -> dict[str, str]:
    """The CHECK constraints the models declare for a table: name -> SQL, as this database's DDL writes it."""
    ddl = str(CreateTable(_db.metadata.tables[table_name]).compile(dialect=engine.dialect))
    found = dict(re.findall(r"CONSTRAINT (\S+) CHECK \((.*)\),?\s*$", ddl, flags=re.MULTILINE))
    names = {str(c.name) for c in _db.metadata.tables[table_name].constraints if isinstance(c, CheckConstraint)}
    assert set(found) == names, ddl
    return found


INDEXES = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname",
}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as the database stores it (no ORM types in between), and every index."""
    with engine.connect() as connection:
        tables = [name for name in inspect(connection).get_table_names() if name != "alembic_version"]
        rows = {
            name: [tuple(row) for row in connection.execute(text(f'SELECT * FROM "{name}" ORDER BY 1'))]
            for name in tables
        }
        # Partial unique indexes must keep their WHERE when SQLite's batch copies a table.
        indexes = [tuple(row) for row in connection.execute(text(INDEXES[engine.dialect.name]))]
        return {**rows, "(indexes)": indexes}


def refused(engine: Engine, statement: str) -> bool:
    """Whether the database refuses the statement; nothing it does is kept either way."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(text(statement))
        except IntegrityError:
            return True
        finally:
            transaction.rollback()
    return False


def test_every_enumerated_column_stores_values_under_its_old_constraint_name(app):
    with app.app_context():
        columns = enum_columns()
        assert {(table, column) for table, column, _ in columns} >= {
            ("users", "role"),
            ("purchases", "channel"),
            ("purchases", "source"),
            ("purchases", "attribution"),
            ("purchases", "level"),
            ("ledger_entries", "kind"),
            ("outbox_messages", "status"),
            ("partner_levels", "level"),
            ("partner_applications", "state"),
            ("application_messages", "author_kind"),
        }
        for table, column, enum in columns:
            type_ = _db.metadata.tables[table].c[column].type
            assert type_.enums == [member.value for member in enum], (table, column)
            assert not type_.native_enum and type_.create_constraint
            assert type_.name.startswith("known_")


def test_the_migrated_database_has_every_check_the_models_declare(app):
    """``flask db check`` does not compare CHECK constraints: this does, by name and (on SQLite) by text."""
    with app.app_context():
        engine = _db.engine
        inspector = inspect(engine)
        for table in _db.metadata.sorted_tables:
            declared = model_checks(table.name, engine)
            present = {check["name"]: check["sqltext"] for check in inspector.get_check_constraints(table.name)}
            assert set(present) == set(declared), table.name
            if engine.dialect.name == "sqlite":
                for name, sql in declared.items():
                    assert " ".join(present[name].split()) == " ".join(sql.split()), name


def test_the_database_refuses_a_value_that_is_no_member(app, runner):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        if _db.session.scalar(select(OutboxMessage.id).limit(1)) is None:
            _db.session.add(
                OutboxMessage(to_address="a@example.com", subject="s", text_body="t", html_body="h", template="t")
            )
        _db.session.add(JobRun(job="outbox.deliver", trigger=JobTrigger.SCHEDULE, outcome=JobOutcome.SUCCEEDED))
        _db.session.commit()
        engine = _db.engine
        for table, column, _ in enum_columns():
            with engine.connect() as connection:
                assert connection.scalar(text(f"SELECT count(*) FROM {table}")), f"{table} has no rows to try"
            assert refused(engine, f"UPDATE {table} SET {column} = 'bogus'"), (table, column)
        # A member's value, as the migrations wrote it before the enums, is still accepted.
        assert not refused(engine, "UPDATE purchases SET channel = 'reseller' WHERE channel = 'direct'")


def test_attributes_hold_members_and_refuse_other_strings(db):
    purchase = Purchase(channel="direct", attribution="none")
    assert purchase.channel is Channel.DIRECT and purchase.attribution is AttributionRule.NONE
    with pytest.raises(ValueError, match="not a valid Channel"):
        purchase.channel = "Direct"
    purchase.level = None
    assert purchase.level is None

    user = User(email="new@example.com", role="manager")
    db.session.add(user)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).role is Role.MANAGER
    stored = db.session.scalar(text("SELECT role FROM users WHERE id = :id"), {"id": user.id})
    assert stored == "manager" and type(stored) is str
    assert db.session.scalar(select(User.id).where(User.role == "manager", User.id == user.id)) == user.id


# --- The migration -------------------------------------------------------------------------------


def test_the_migration_keeps_the_data_both_ways_and_checks_the_levels(seeded_app):
    with seeded_app.app_context():
        engine = _db.engine
        assert _db.session.scalar(select(Purchase.level).where(Purchase.level.is_not(None)).limit(1)) is Level.RESELLER
        assert _db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.kind == LedgerKind.REVERSAL).limit(1))
        _db.session.remove()

        downgrade(revision=BEFORE_ENUMS)
        before = snapshot(engine)
        assert before["purchases"] and before["ledger_entries"] and before["partner_applications"]
        # Before: any text went into the levels kept on purchases and approvals.
        assert not refused(engine, "UPDATE purchases SET level = 'gold' WHERE level IS NOT NULL")
        assert not refused(engine, "UPDATE partner_applications SET approved_level = 'gold'")

        upgrade(revision=WITH_ENUMS)
        assert snapshot(engine) == before
        assert refused(engine, "UPDATE purchases SET level = 'gold' WHERE level IS NOT NULL")
        assert refused(engine, "UPDATE partner_applications SET approved_level = 'gold'")
        assert not refused(engine, "UPDATE partner_applications SET approved_level = NULL")
        # The constraints that were there keep refusing, and foreign keys still hold (SQLite copies tables).
        assert refused(engine, "UPDATE purchases SET channel = 'partner'")
        assert refused(engine, "UPDATE ledger_entries SET purchase_id = 999999 WHERE purchase_id IS NOT NULL")

        downgrade(revision=BEFORE_ENUMS)
        assert snapshot(engine) == before
        assert not refused(engine, "UPDATE purchases SET level = 'gold' WHERE level IS NOT NULL")
        upgrade()  # and on to the newest migration

    result = seeded_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
