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
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy import Engine

PATH = "/healthz"
_log = logging.getLogger(__name__)


class HealthCheck:
    """WSGI middleware: ``/healthz`` here, everything else to the application."""

    OK = b'{"status":"ok"}\n'
    DOWN = b'{"status":"unavailable"}\n'

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        from epro.base.orm import db

        with app.app_context():
            self.engine: Engine = db.engine
        self.wsgi_app = wsgi_app

    def database_answers(self) -> bool:
        """One trivial query on a pooled connection: no ORM session, no transaction of ours."""
        try:
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                cursor.close()
            finally:
                connection.close()  # back to the pool
        except Exception:  # any failure of the database is the answer "unavailable", never a 500 page
            _log.exception("health check: the database does not answer")
            return False
        return True

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
