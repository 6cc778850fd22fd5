"""``GET /healthz``, answered in front of Flask: is this process up and does its database answer?

A load balancer (deploy/nginx, a hospital's monitor) asks several times a second per server.
The question needs the process and one trivial query, nothing of what a page needs: no
session cookie, user, locale, CSRF token, rate limit, compression or the hooks that every
Flask request runs (about two dozen).  So a WSGI middleware answers it before the app: the
answer never carries personal data, is never cached, and says 503 when the database does not
answer (a load balancer then sends people to the other server).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy import Engine, create_engine

PATH = "/healthz"
_log = logging.getLogger(__name__)


class HealthCheck:
    """WSGI middleware: ``/healthz`` here, everything else to the application."""

    OK = b'{"status":"ok"}\n'
    DOWN = b'{"status":"unavailable"}\n'

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        from epro.base.orm import db

        with app.app_context():
            self.url = db.engine.url
        # The app's own options, but no pre-ping: the check's query is the ping (one round trip, not two).
        self.options = {k: v for k, v in dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).items()
                        if k != "pool_pre_ping"}
        self.wsgi_app = wsgi_app
        self._engine: Engine | None = None
        self._pid = 0

    def _pool(self) -> Engine:
        """A small pool of this process's own (made after gunicorn forks, never shared with the master)."""
        if self._engine is None or self._pid != os.getpid():
            self._engine = create_engine(self.url, pool_size=2, max_overflow=2, **self.options)
            self._pid = os.getpid()
        return self._engine

    def close(self) -> None:
        """Close this process's health-check connections (an app thrown away, as in the tests)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def database_answers(self) -> bool:
        """``SELECT 1`` on a pooled connection: no ORM session, no transaction of ours.  A connection
        that went bad (the database restarted) is dropped and the check tried once more on a new one."""
        for attempt in (1, 2):
            connection = None
            try:
                connection = self._pool().raw_connection()
                cursor = connection.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                cursor.close()
                connection.close()  # back to the pool
                return True
            except Exception:  # any failure of the database is the answer "unavailable", never a 500 page
                if connection is not None:
                    connection.invalidate()
                if attempt == 2:
                    _log.exception("health check: the database does not answer")
        return False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        up = self.database_answers()
        body = self.OK if up else self.DOWN
        start_response("200 OK" if up else "503 Service Unavailable", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]
