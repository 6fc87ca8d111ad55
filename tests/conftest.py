"""Fixtures: an app per test on a clean database, SQLite and PostgreSQL alike.

Each database is cloned from a template migrated once per session (a file copy for SQLite,
``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so every test starts from exactly what
``flask db upgrade`` builds, can commit for real, and costs a few milliseconds to set up.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event

from cloudcodes import create_app
from cloudcodes.extensions import db as _db
from tests.support import dns as dn
from tests.support import postgres as pg
from tests.support import redis as rd

REQUIRED = {name.strip() for name in os.environ.get("CLOUDCODES_REQUIRE", "").split(",") if name.strip()}
_database_numbers = itertools.count(1)


def unavailable(dependency: str, reason: str) -> None:
    """Skip on a developer's machine; fail where CLOUDCODES_REQUIRE says the dependency must be there."""
    if dependency in REQUIRED:
        pytest.fail(f"{dependency} is required here (CLOUDCODES_REQUIRE) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"{dependency} unavailable: {reason}")


DEAD_DNS = "127.0.0.1:9"
DEFAULT_DNS = {"address": DEAD_DNS}  # replaced by the session's default dnsmasq when it starts


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WEBHOOK_SECRET": "test-webhook-secret",
        "SERVER_NAME": None,
        # Never the system's resolver, so no test asks the internet: the session's default dnsmasq, where
        # every name resolves and says nothing more (so registering a domain costs no wait), or without
        # dnsmasq a dead loopback port, which times out fast. A test that needs answers passes
        # DNS_RESOLVER=dns.address() (the ``dns`` fixture).
        "DNS_RESOLVER": DEFAULT_DNS["address"],
        "DNS_TIMEOUT_SECONDS": 0.5,
    }
    config.update(overrides)
    return create_app(config)


def migrate_to_head(database_url: str) -> None:
    app = make_test_app(database_url)
    with app.app_context():
        upgrade()
        _db.engine.dispose()


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[pg.ThrowawayCluster]:
    """A PostgreSQL cluster of the test module's own, with a migrated database at ``database_url``:
    for tests that stop the server or change its settings, which no other test may see."""
    try:
        server = pg.ThrowawayCluster()
        url = server.start()
    except pg.PostgresUnavailable as error:
        unavailable("postgres", str(error))
    database = pg.create_database(url, "private")
    migrate_to_head(database)
    server.database_url = database  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A server URL to create databases on, or None with the reason kept for the tests that need it."""
    configured = os.environ.get("CLOUDCODES_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    try:
        cluster = pg.ThrowawayCluster()
    except pg.PostgresUnavailable as error:
        pytest.postgres_unavailable_reason = str(error)  # type: ignore[attr-defined]
        yield None
        return
    try:
        yield cluster.start()
    except pg.PostgresUnavailable as error:
        pytest.postgres_unavailable_reason = str(error)  # type: ignore[attr-defined]
        yield None
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str | None) -> Iterator[tuple[str, str] | None]:
    if postgres_server is None:
        yield None
        return
    name = f"cc_template_{os.getpid()}"
    pg.drop_database(postgres_server, name)
    url = pg.create_database(postgres_server, name)
    migrate_to_head(url)
    yield postgres_server, name
    pg.drop_database(postgres_server, name)


@pytest.fixture
def postgres_database(postgres_template: tuple[str, str] | None) -> Iterator[str]:
    if postgres_template is None:
        unavailable("postgres", getattr(pytest, "postgres_unavailable_reason", "no server"))
    server, template = postgres_template  # type: ignore[misc]
    name = f"cc_test_{os.getpid()}_{next(_database_numbers)}"
    url = pg.create_database(server, name, template=template)
    yield url
    pg.drop_database(server, name)


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[rd.ThrowawayRedis]:
    """A throw-away Redis for the session; skipped (or failed, where required) without redis-server."""
    try:
        server = rd.ThrowawayRedis()
    except rd.RedisUnavailable as error:
        unavailable("redis", str(error))
    try:
        server.start()
    except rd.RedisUnavailable as error:
        server.stop()
        unavailable("redis", str(error))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: rd.ThrowawayRedis) -> str:
    """The Redis URL for a test's rate limits, with nothing left in it by an earlier test."""
    redis_server.flush()
    return redis_server.url


# --- DNS --------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def default_dns() -> Iterator[str]:
    """The resolver every test app asks unless told otherwise: a dnsmasq where every name resolves."""
    try:
        server = dn.ThrowawayDns(every_name_resolves=True)
        server.start()
    except dn.DnsmasqUnavailable as error:
        if "dns" in REQUIRED:
            pytest.fail(f"dns is required here (CLOUDCODES_REQUIRE) but unavailable: {error}", pytrace=False)
        yield DEAD_DNS  # registrations then wait for a timeout each: slower, the same outcome
        return
    DEFAULT_DNS["address"] = server.address()
    try:
        yield server.address()
    finally:
        DEFAULT_DNS["address"] = DEAD_DNS
        server.stop()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[dn.ThrowawayDns]:
    """A throw-away dnsmasq for the session; skipped (or failed, where required) without dnsmasq."""
    try:
        server = dn.ThrowawayDns()
    except dn.DnsmasqUnavailable as error:
        unavailable("dns", str(error))
    try:
        server.start()
    except dn.DnsmasqUnavailable as error:
        server.stop()
        unavailable("dns", str(error))
    yield server
    server.stop()


@pytest.fixture
def dns(dns_server: dn.ThrowawayDns) -> dn.ThrowawayDns:
    """The DNS server with no records left by an earlier test: ``dns.set_records([...])``, then an app
    with ``DNS_RESOLVER=dns.address()``. Every name it has no record for answers NXDOMAIN."""
    dns_server.set_records(())
    return dns_server


@pytest.fixture
def silent_dns() -> Iterator[str]:
    """The "host:port" of a nameserver that never answers: every lookup through it times out."""
    server = dn.SilentDns()
    yield server.address()
    server.stop()


# --- The app ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_database_url(request, tmp_path_factory) -> Iterator[str]:
    """One clean, migrated database per engine for a whole module, for modules whose data is costly to
    build (volume tests): such a module's own ``database_url`` fixture answers this one."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("module") / "module.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    found = request.getfixturevalue("postgres_template")
    if found is None:
        unavailable("postgres", getattr(pytest, "postgres_unavailable_reason", "no PostgreSQL server"))
    server, template_name = found
    name = f"cc_module_{os.getpid()}_{next(_database_numbers)}"
    yield pg.create_database(server, name, template=template_name)
    pg.drop_database(server, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A clean, migrated database: every test that asks for one runs once on each engine."""
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = make_test_app(database_url)
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def seeded_app(request, tmp_path: Path, postgres_server: str | None, database_url: str) -> Iterator[Flask]:
    """An app on a database of its own (same engine as ``database_url``), migrated and seeded: for
    tests that move its migrations down and up again, which a template's clone must not share."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/seeded.db"
    else:
        name = f"cc_seeded_{os.getpid()}_{next(_database_numbers)}"
        pg.drop_database(postgres_server, name)
        url = pg.create_database(postgres_server, name)
        request.addfinalizer(lambda: pg.drop_database(postgres_server, name))
    application = make_test_app(url)
    with application.app_context():
        upgrade()
    assert application.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask):
    """The database extension inside an app context, for calling services directly."""
    with app.app_context():
        yield _db
        _db.session.rollback()


class QueryCounter:
    IGNORED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(self.IGNORED):
            self.statements.append(statement)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """``with count_queries() as counter: ...`` counts the SQL statements the block sends."""

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        with app.app_context():
            engine = _db.engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting
