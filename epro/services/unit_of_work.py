"""One unit of work per request or CLI command, and the only place that commits.

Services add and flush; views never touch the session; the boundary (the web
hooks in :mod:`epro.web.boundary`, or :func:`unit_of_work` for the CLI and the
demo loader) commits when the work succeeded and rolls back otherwise.  A
``commit()`` anywhere else while a unit of work is open raises
:class:`CommitOutsideBoundary`, so the rule cannot be broken by accident.

Security events that must survive a failed request (a wrong password, a lock-out)
are queued with :func:`epro.services.audit.security_event` and written by the
boundary after the rollback, in their own short transaction on the same session
(SQLite allows one writer: a second connection would wait for our own lock).
Counters that must hold whatever the outcome (failed sign-ins) are kept the same
way with :func:`keep`: one atomic statement, run with the security events.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from epro.base.orm import db
from epro.core.i18n_marker import N_

_KEY = "epro.unit_of_work"
STALE = N_("Someone else changed this record after you opened it. Please look at it again.")


class CommitOutsideBoundary(RuntimeError):
    """A commit was asked for by a service or view instead of the unit of work's boundary."""


class Stale(Exception):
    """The commit found that someone else changed a record first (optimistic locking): answer 409."""

    status = 409
    message = STALE


@dataclass
class Work:
    #: Who acts: a user, or a callable giving one (the request's signed-in user), or None.
    actor: Any = None
    #: Open :func:`epro.services.audit.operation` scopes, innermost last.
    operations: list[Any] = field(default_factory=list)
    #: Audit rows (dicts for the audit_events table) written whatever the outcome.
    security_events: list[dict[str, Any]] = field(default_factory=list)
    #: Statements (atomic counter upserts) executed whatever the outcome, with the security events.
    kept: list[Any] = field(default_factory=list)
    failed: bool = False
    committing: bool = False

    def current_actor(self) -> Any:
        actor = self.actor() if callable(self.actor) else self.actor
        return getattr(actor, "_get_current_object", lambda: actor)()


def current() -> Work | None:
    return db.session.info.get(_KEY)


def begin(actor: Any = None) -> Work:
    """Open the unit of work of a request or command (an open one is kept: one per boundary)."""
    work = current()
    if work is None:
        work = Work(actor=actor)
        db.session.info[_KEY] = work
    return work


def fail() -> None:
    """Roll back now (an error page is about to be shown); the boundary will not commit."""
    work = current()
    if work is not None:
        work.failed = True
    db.session.rollback()


def keep(statement: Any) -> None:
    """Execute *statement* whatever the request's outcome (a failed sign-in counted in the database).

    It must be one self-contained atomic statement (``UPDATE … SET n = n + 1``,
    ``INSERT … ON CONFLICT DO UPDATE``): it runs in the commit's transaction, or
    after the rollback in the security events' own short transaction.  Outside a
    unit of work it runs at once on the session.
    """
    work = current()
    if work is None:
        db.session.execute(statement)
    else:
        work.kept.append(statement)


def finish(success: bool) -> None:
    """Commit (on success) or roll back, then write the queued security events; close the unit.

    Raises :class:`Stale` when the commit meets a newer version of a record.
    """
    work = current()
    if work is None:
        return
    try:
        if success and not work.failed:
            try:
                _commit(work)
                return
            except StaleDataError:
                _rollback_keeping_security_events(work)
                raise Stale() from None
            except BaseException:
                _rollback_keeping_security_events(work)
                raise
        _rollback_keeping_security_events(work)
    finally:
        db.session.info.pop(_KEY, None)


def _rollback_keeping_security_events(work: Work) -> None:
    db.session.rollback()
    _write_security_events(work)


def _commit(work: Work) -> None:
    session = db.session()
    if not (work.security_events or work.kept or session.in_transaction()
            or session.new or session.dirty or session.deleted):
        return  # nothing was read or written (a health check, a redirect): no commit to make
    if work.security_events:
        db.session.execute(insert(_audit_table()), work.security_events)
    for statement in work.kept:
        db.session.execute(statement)
    work.committing = True
    try:
        db.session.commit()
    finally:
        work.committing = False
    work.security_events, work.kept = [], []  # only now: a failed commit writes them again after its rollback


def _write_security_events(work: Work) -> None:
    if not work.security_events and not work.kept:
        return
    rows, work.security_events = work.security_events, []
    kept, work.kept = work.kept, []
    if rows:
        db.session.execute(insert(_audit_table()), rows)
    for statement in kept:
        db.session.execute(statement)
    work.committing = True
    try:
        db.session.commit()
    finally:
        work.committing = False


def _audit_table():
    from epro.services.audit import TRAIL

    return TRAIL


@contextmanager
def unit_of_work(actor: Any = None) -> Iterator[Work]:
    """The boundary of a CLI command or script: commit at the end, roll back on an exception."""
    outer = current()
    if outer is not None:  # already inside one (e.g. the demo loader called by a command)
        yield outer
        return
    work = begin(actor)
    try:
        yield work
    except BaseException:
        finish(False)
        raise
    finish(True)


@event.listens_for(Session, "before_commit")
def _only_the_boundary_commits(session: Session) -> None:
    work = session.info.get(_KEY)
    if work is None or work.committing or session.in_nested_transaction():
        return
    raise CommitOutsideBoundary("commit() inside a unit of work: services flush, the boundary commits")
