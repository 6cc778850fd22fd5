"""Engine settings that keep SQLite safe for many writers, and readers free of the write lock.

WAL lets readers carry on while one connection writes; the busy timeout makes a
second writer wait instead of failing with "database is locked"; foreign keys
are off in SQLite unless asked for.

Transactions start deferred (plain ``BEGIN``), so a request that only reads
never takes SQLite's single write lock: reads run in parallel in every worker.
The first statement that writes (or a ``SELECT … FOR UPDATE``, which SQLite
cannot express: it asks for the write lock) takes the lock first: the read-only
transaction is ended and a ``BEGIN IMMEDIATE`` one started in its place, which
waits for the lock (busy timeout) instead of failing.  Nothing has been written
at that point, so only the read snapshot is given up: the transaction's reads
and writes then relate as on PostgreSQL under READ COMMITTED, the production
database, and a transaction that reads and then writes never meets
SQLITE_BUSY_SNAPSHOT, which no timeout can cure.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

#: connection.info key: the open transaction is deferred and has written nothing yet.
_READING = "epro.reading"


def configure_engine_events(app: Flask) -> None:
    from epro.base.orm import db

    timeout = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {timeout}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_deferred(connection) -> None:
        connection.exec_driver_sql("BEGIN")
        connection.info[_READING] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(connection) -> None:
        connection.info[_READING] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _write_lock_before_first_write(connection, cursor, statement, _parameters, context, _many) -> None:
        if connection.info.get(_READING) and writes(statement, context):
            connection.info[_READING] = False
            cursor.execute("ROLLBACK")  # nothing written yet: only the read snapshot goes
            cursor.execute("BEGIN IMMEDIATE")


def writes(statement: str, context: Any) -> bool:
    """Whether *statement* needs the write lock: anything but a plain SELECT (or WITH … SELECT)."""
    compiled = getattr(context, "compiled", None)
    if compiled is not None:
        if context.isinsert or context.isupdate or context.isdelete:
            return True
        if getattr(compiled.statement, "_for_update_arg", None) is not None:
            return True
    words = statement.split(None, 1)
    return not words or words[0].upper() not in ("SELECT", "WITH")


def take_write_lock(session: Any) -> None:
    """On SQLite, take the write lock now, until the transaction ends (what a PostgreSQL advisory
    or row lock does there): the callers that must run one at a time, not just write one at a time."""
    from sqlalchemy import literal, select

    if session.get_bind().dialect.name == "sqlite":
        session.execute(select(literal(1)).with_for_update())
