"""The account lock-out, counted in the database so that it holds everywhere.

Failed sign-ins are counted per *name tried* (lower-cased, known or not, so the
lock-out tells nobody which names exist) in ``sign_in_locks``.  Every worker and
every server shares the table and a restart forgets nothing.  After
``LOGIN_LIMIT_ACCOUNT`` failures (default ``"5 per 15 minutes"``: five failures
in a window of 15 minutes from the first) the name is locked for
``LOGIN_LOCK_MINUTES`` (15); while it is locked *every* attempt is refused,
the right password included, before any password is looked at.

How a sign-in view uses it::

    locked = sign_in_limits.check(username)   # before verifying anything
    if locked: answer 429 with Retry-After: locked.retry_after
    ... verify ...
    sign_in_limits.failed(username)           # a wrong password (or a wrong second factor)
    sign_in_limits.succeeded(username)        # fully signed in: the count starts again

Counting never reads and writes in Python: :func:`failed` is one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (SQLite ≥ 3.35 and PostgreSQL),
so two workers failing at once both count.  It must hold although the failed
request is rolled back:

- PostgreSQL: it runs at once on its own autocommit connection, and
  :func:`check` takes a transaction-level advisory lock on the name, so
  attempts of one name are verified one at a time across every worker and
  server, each seeing the count of the one before: exact even for parallel
  guesses.
- SQLite has one writer and :func:`check` takes its lock for the request
  (:func:`epro.base.database.take_write_lock`), so a second connection would wait for our own lock: the
  statement is kept with :func:`epro.services.unit_of_work.keep` and runs
  right after the rollback, with the security events.  Requests are serialized
  by that lock; only the instant between a rollback and its count is open.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from limits import parse
from sqlalchemy import Table, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from epro.base import database
from epro.base.orm import db
from epro.models import SignInLock
from epro.models.types import UTCDateTime
from epro.services import audit, unit_of_work

LOCKS: Table = SignInLock.__table__  # type: ignore[assignment]
#: The key column's length.
KEY_LENGTH = 160
#: First key of PostgreSQL's two-key advisory locks taken here (the second is the name's hash).
ADVISORY_CLASS = 0x5147


@dataclass(frozen=True)
class Locked:
    """The name is locked until ``until``; answer 429 with ``Retry-After: retry_after``."""

    until: datetime
    now: datetime

    @property
    def retry_after(self) -> int:
        """Whole seconds until the lock ends (at least 1)."""
        return max(1, math.ceil((self.until - self.now).total_seconds()))

    @property
    def minutes(self) -> int:
        """Whole minutes until the lock ends (at least 1), for the message."""
        return max(1, math.ceil(self.retry_after / 60))


@dataclass(frozen=True)
class Policy:
    failures: int
    window: timedelta
    lock: timedelta


def policy() -> Policy:
    item = parse(str(current_app.config["LOGIN_LIMIT_ACCOUNT"]))
    return Policy(item.amount, timedelta(seconds=item.get_expiry()),
                  timedelta(minutes=float(current_app.config["LOGIN_LOCK_MINUTES"])))


def key_of(username: str | None) -> str:
    """The name tried, as counted: stripped, lower-cased, cut to the column's length."""
    return (username or "").strip().lower()[:KEY_LENGTH]


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def check(username: str | None, *, now: datetime | None = None) -> Locked | None:
    """Whether this name is locked now; a refused attempt is audited (``login_locked``).

    Call it before the password is verified, and refuse the attempt when it
    returns a :class:`Locked`.
    """
    moment = _now(now)
    key = key_of(username)
    if _dialect() == "postgresql":  # one attempt of this name at a time, until this request ends
        db.session.execute(select(func.pg_advisory_xact_lock(ADVISORY_CLASS, func.hashtext(key))))
    else:  # SQLite: one attempt at a time, of any name (its one write lock)
        database.take_write_lock(db.session)
    until = db.session.scalar(select(SignInLock.locked_until).where(SignInLock.key == key))
    if until is None or until <= moment:
        return None
    from epro.services import accounts

    user = accounts.by_username((username or "").strip())
    audit.security_event("login_locked", "users", user.id if user else "-",
                         new={"username_known": user is not None, "locked_until": until.isoformat()})
    return Locked(until, moment)


def failed(username: str | None, *, now: datetime | None = None) -> None:
    """Count one failed attempt for this name; it holds even though the request is rolled back.

    Call :func:`check` first in the same request (on PostgreSQL it serializes the attempts).
    """
    statement = failure_statement(key_of(username), policy(), _now(now))
    if _dialect() == "postgresql":
        from epro.services.rate_storage import own_engine

        with own_engine(db.engine).connect() as conn:  # autocommit: kept whatever the request does
            # Never wait for ever: this request must not hold the row (no succeeded() before failed()).
            conn.exec_driver_sql("SET lock_timeout = '10s'")
            conn.execute(statement)
    else:
        unit_of_work.keep(statement)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def succeeded(username: str | None) -> None:
    """The name signed in (every factor passed): its failures are forgotten."""
    db.session.execute(delete(LOCKS).where(LOCKS.c.key == key_of(username)))


def failure_statement(key: str, rule: Policy, now: datetime):
    """One atomic upsert: a new window if the last one is over, else one more failure; lock at the limit.

    ``SET`` expressions see the row as it was, so the new count is spelt out
    where the lock needs it.
    """
    insert = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    at = literal(now, UTCDateTime())
    lock_end = literal(now + rule.lock, UTCDateTime())
    window_over = LOCKS.c.window_started_at <= literal(now - rule.window, UTCDateTime())
    count = case((window_over, 1), else_=LOCKS.c.failures + 1)
    statement = insert(LOCKS).values(
        key=key, failures=1, window_started_at=now, locked_until=now + rule.lock if rule.failures <= 1 else None)
    return statement.on_conflict_do_update(
        index_elements=[LOCKS.c.key],
        set_={
            "failures": count,
            "window_started_at": case((window_over, at), else_=LOCKS.c.window_started_at),
            "locked_until": case((count >= rule.failures, lock_end),
                                 (window_over, literal(None, UTCDateTime())),
                                 else_=LOCKS.c.locked_until),
        },
    ).returning(LOCKS.c.failures, LOCKS.c.locked_until)


def state(username: str | None) -> tuple[int, datetime | None] | None:
    """(failures, locked_until) of a name, or None when nothing is counted (for tests and support)."""
    row = db.session.execute(select(SignInLock.failures, SignInLock.locked_until)
                             .where(SignInLock.key == key_of(username))).first()
    return (row[0], row[1]) if row else None
