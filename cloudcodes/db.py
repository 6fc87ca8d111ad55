"""The declarative base, its naming convention and the column types the models share."""

from __future__ import annotations

import select
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, MetaData, String, Text, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, Mapper, composite, mapped_column, registry
from sqlalchemy.types import TypeDecorator

from cloudcodes.money import Money
from cloudcodes.search import search_text

# Stable constraint names, so migrations can find and alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite has no time zones and hands back naive values; this type refuses naive input (a
    programming error) and always returns aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Naive datetime given: use cloudcodes.clock.now() (aware UTC).")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def money_column(prefix: str, *, nullable: bool = False) -> Mapped[Money]:
    """A Money attribute stored as two columns: ``<prefix>_minor`` and ``<prefix>_currency``."""
    return composite(
        Money,
        mapped_column(f"{prefix}_minor", BigInteger, nullable=nullable),
        mapped_column(f"{prefix}_currency", String(3), nullable=nullable),
        # An optional amount reads back as None rather than Money(None, None).
        return_none_on=_no_amount if nullable else None,
    )


def _no_amount(minor: int | None, currency: str | None) -> bool:
    return minor is None


def enum_column(enum: type[StrEnum], *, name: str, length: int, **column: Any) -> MappedColumn[Any]:
    """A column holding one of ``enum``'s members: a VARCHAR with a CHECK constraint, on every database.

    The database stores the members' values (``"direct"``), not their names (SQLAlchemy's default).
    ``name`` names the CHECK constraint (``ck_<table>_<name>`` by the naming convention); ``length``
    fixes the VARCHAR's size rather than the longest value's, so a new member rarely needs a new type.
    The attribute always holds a member: a string assigned to it is turned into one, and a string
    that is no member's value is refused with a ValueError there and then.
    """
    return mapped_column(
        Enum(
            enum,
            name=name,
            length=length,
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
            values_callable=enum_values,
        ),
        **column,
    )


def enum_values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


@event.listens_for(Mapper, "mapper_configured")
def _coerce_enum_attributes(mapper: Mapper[Any], class_: type) -> None:
    for attribute in mapper.column_attrs:
        enum = getattr(attribute.columns[0].type, "enum_class", None)
        if enum is not None and issubclass(enum, StrEnum):
            event.listen(getattr(class_, attribute.key), "set", _enum_coercer(enum), retval=True)


def _enum_coercer(enum: type[StrEnum]) -> Any:
    def coerce(target: Any, value: Any, old: Any, initiator: Any) -> Any:
        return value if value is None or isinstance(value, enum) else enum(value)

    return coerce


def search_column() -> MappedColumn[Any]:
    """A ``search_text`` column kept to ``fields`` folded (``cloudcodes.search``), for accent-blind search.

    The model lists the fields it is built from in ``__search_fields__``; it is filled in on every
    insert and update made through the ORM.
    """
    return mapped_column(Text, default="", server_default="")


@event.listens_for(Mapper, "mapper_configured")
def _maintain_search_text(mapper: Mapper[Any], class_: type) -> None:
    fields = getattr(class_, "__search_fields__", None)
    if not fields:
        return

    def refresh(mapper: Mapper[Any], connection: Any, target: Any) -> None:
        target.search_text = search_text(*(getattr(target, field) for field in fields))

    event.listen(class_, "before_insert", refresh)
    event.listen(class_, "before_update", refresh)


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and write transactions that take the lock up front.

    pysqlite's own transaction handling begins lazily and cannot do ``BEGIN IMMEDIATE``, so it is
    switched off and the transaction is begun here; a deferred transaction that later writes can
    fail with "database is locked" instead of waiting its turn.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def configure_postgresql(engine: Engine) -> None:
    """Replace a connection the server has closed before it is used, without a round trip.

    An idle connection has nothing to read: a server that restarts or ends the session sends its
    notice and closes the socket, so a readable socket at checkout means the connection is gone (or
    holds something we never asked for), and the pool swaps it for a new one. That is what
    ``pool_pre_ping`` finds out too, but at the cost of a ``SELECT 1`` on every request. A server
    that vanished without closing anything (a cut network) is found by the first statement instead,
    which fails, answers 503 and discards the pool's connections for the next request.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise DisconnectionError("the connection was closed")
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
        if readable:
            raise DisconnectionError("the server wrote to an idle connection: it closed it")
