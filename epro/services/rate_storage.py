"""A Flask-Limiter (``limits``) storage in the app's own database: ``database://``.

The embedded default for per-address throttling.  Unlike ``memory://`` it is
shared by every worker and server on the same database and survives restarts,
so "20 bad codes per hour" means 20 whatever process answers.  Production with
several servers may use Redis instead (``EPRO_RATELIMIT_STORAGE_URI=redis://…``).

Fixed windows in ``rate_counters`` (key, count, expires_at as epoch seconds).
:meth:`DatabaseStorage.incr` is one ``INSERT … ON CONFLICT DO UPDATE …
RETURNING`` (a new window when the old one is over, else ``count + amount``), so
concurrent hits never lose a count.

It runs on its own engine (same URL, autocommit, no pool) rather than the
request's session: the limiter tests before the request's unit of work has
touched the database and deducts after it has committed or rolled back (its
``after_request`` hook runs after the boundary's), so it never waits for the
request's own SQLite lock, and a rolled-back request keeps its count.
"""
from __future__ import annotations

import random
import time
import weakref
from typing import Any

from limits.storage import Storage
from sqlalchemy import Engine, Table, case, create_engine, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from epro.models import RateCounter

COUNTERS: Table = RateCounter.__table__  # type: ignore[assignment]
#: One incr in this many also deletes windows that ended (the table stays small).
PURGE_ONE_IN = 200

_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def own_engine(app_engine: Engine) -> Engine:
    """An autocommit engine on the app's database: each statement is its own short transaction."""
    engine = _engines.get(app_engine)
    if engine is None:
        url = app_engine.url
        options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "poolclass": NullPool}
        if url.get_backend_name() == "sqlite":
            from flask import current_app

            options["connect_args"] = {"timeout": int(current_app.config["SQLITE_BUSY_TIMEOUT_MS"]) / 1000}
        engine = create_engine(url, **options)
        _engines[app_engine] = engine
    return engine


class DatabaseStorage(Storage):
    """``database://``: rate-limit counters in the current app's database (see the module)."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    @staticmethod
    def engine() -> Engine:
        from epro.base.orm import db  # the app of the current context
        from epro.services import unit_of_work

        if unit_of_work.current() is None and db.session().in_transaction() and db.engine.dialect.name == "sqlite":
            # A stray transaction after the boundary closed the request's work (it may hold SQLite's one
            # write lock): end it, or our own write would wait for this thread's lock until the timeout.
            db.session.rollback()
        return own_engine(db.engine)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = self.engine()
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        over = COUNTERS.c.expires_at <= literal(now)
        statement = insert(COUNTERS).values(key=key, count=amount, expires_at=now + expiry).on_conflict_do_update(
            index_elements=[COUNTERS.c.key],
            set_={
                "count": case((over, amount), else_=COUNTERS.c.count + amount),
                "expires_at": case((over, now + expiry), else_=COUNTERS.c.expires_at),
            },
        ).returning(COUNTERS.c.count)
        with engine.connect() as conn:
            count = conn.execute(statement).scalar_one()
            if random.randrange(PURGE_ONE_IN) == 0:
                conn.execute(delete(COUNTERS).where(COUNTERS.c.expires_at <= now))
        return int(count)

    def get(self, key: str) -> int:
        with self.engine().connect() as conn:
            count = conn.scalar(select(COUNTERS.c.count).where(COUNTERS.c.key == key,
                                                               COUNTERS.c.expires_at > time.time()))
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with self.engine().connect() as conn:
            expires = conn.scalar(select(COUNTERS.c.expires_at).where(COUNTERS.c.key == key,
                                                                      COUNTERS.c.expires_at > now))
        return float(expires) if expires is not None else now

    def check(self) -> bool:
        try:
            with self.engine().connect() as conn:
                conn.scalar(select(func.count()).select_from(COUNTERS))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine().connect() as conn:
            return conn.execute(delete(COUNTERS)).rowcount

    def clear(self, key: str) -> None:
        with self.engine().connect() as conn:
            conn.execute(delete(COUNTERS).where(COUNTERS.c.key == key))
