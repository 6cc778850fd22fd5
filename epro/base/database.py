"""Engine settings that keep SQLite safe for many writers.

WAL lets readers carry on while one connection writes; the busy timeout makes a
second writer wait instead of failing with "database is locked"; foreign keys
are off in SQLite unless asked for.  Transactions start with BEGIN IMMEDIATE
(the SQLAlchemy recipe for pysqlite) so a transaction that reads and then
writes never hits SQLITE_BUSY_SNAPSHOT, which no timeout can cure.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import event


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
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
