"""SQLite transactions: reads never take the write lock; the first write takes it (epro.base.database)."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import insert, literal, select, text

from epro.base import database
from epro.base.orm import db
from epro.models import AuditEvent

pytestmark = pytest.mark.sqlite_only


def _path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def _other_writer(app) -> sqlite3.Connection:
    """A second connection, as another worker would be, holding the write lock."""
    other = sqlite3.connect(_path(app), isolation_level=None, timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_pages_and_the_api_read_while_another_worker_holds_the_write_lock(app, login):
    app.config["SQLITE_BUSY_TIMEOUT_MS"] = 3000
    clinician = login("clinician.a")
    other = _other_writer(app)
    try:
        start = time.perf_counter()
        page = clinician.client.get("/clinic/")
        health = clinician.client.get("/healthz")
        took = time.perf_counter() - start
    finally:
        other.rollback()
        other.close()
    assert page.status_code == 200 and "A-001" in page.get_data(as_text=True)
    assert health.get_json() == {"status": "ok"}
    assert took < 1.5  # a BEGIN IMMEDIATE would have waited the whole 3 s busy timeout, then failed


def test_a_write_waits_for_the_lock_and_then_succeeds(app):
    with app.app_context():
        other = _other_writer(app)
        threading.Timer(0.4, lambda: (other.rollback(), other.close())).start()
        start = time.perf_counter()
        db.session.execute(insert(AuditEvent).values(action="probe", table_name="test", record_id="1"))
        db.session.commit()
        assert time.perf_counter() - start >= 0.3
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "probe")) == "probe"


def test_read_then_write_after_another_commit_does_not_fail_with_a_stale_snapshot(app):
    """A deferred transaction that read and then writes after another connection committed would
    meet SQLITE_BUSY_SNAPSHOT ("database is locked" at once, whatever the timeout)."""
    with app.app_context():
        before = db.session.scalar(select(text("count(*)")).select_from(AuditEvent))
        other = sqlite3.connect(_path(app), isolation_level=None)
        other.execute("INSERT INTO audit_events (action, table_name, record_id, at) "
                      "VALUES ('other', 'test', '1', CURRENT_TIMESTAMP)")
        other.close()
        db.session.execute(insert(AuditEvent).values(action="mine", table_name="test", record_id="2"))
        db.session.commit()
        after = db.session.scalars(select(AuditEvent.action).where(AuditEvent.table_name == "test")).all()
        assert sorted(after) == ["mine", "other"]
        assert db.session.scalar(select(text("count(*)")).select_from(AuditEvent)) == before + 2


def test_take_write_lock_holds_the_lock_until_the_transaction_ends(app):
    with app.app_context():
        database.take_write_lock(db.session)
        probe = sqlite3.connect(_path(app), isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            probe.execute("BEGIN IMMEDIATE")
        db.session.rollback()
        probe.execute("BEGIN IMMEDIATE")  # free again
        probe.rollback()
        probe.close()


def test_which_statements_take_the_write_lock(app):
    seen: list[tuple[str, bool]] = []
    from sqlalchemy import event

    with app.app_context():
        def note(_conn, _cursor, statement, _params, context, _many):
            seen.append((statement.split()[0].upper(), database.writes(statement, context)))

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            db.session.execute(select(AuditEvent.id).limit(1))
            db.session.execute(text("WITH x AS (SELECT 1 AS n) SELECT n FROM x"))
            db.session.execute(select(literal(1)).with_for_update())
            db.session.execute(insert(AuditEvent).values(action="probe", table_name="test", record_id="3"))
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
    assert [w for s, w in seen if s in ("SELECT", "WITH", "INSERT")] == [False, False, True, True]
