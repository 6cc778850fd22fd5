"""The application factory: it wires extensions, blueprints, error handlers and
commands in named steps, so a reader finds each concern in one place.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache

MIN_SECRET_LENGTH = 32
SECRET_FILE = "secret_key"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _CompiledTemplates(BytecodeCache):
    """Compiled templates, shared by every app of this process.

    A server builds one app per worker, so this changes nothing there; the test suite builds an
    app for every test, and parsing and compiling the same templates again cost each test more
    than its requests did.  Jinja keys each entry by the template's name and its source's
    checksum, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=instance_path(),
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    # Before anything touches app.jinja_env (Flask-Babel adds its extension to it).
    app.jinja_options = {**app.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}
    os.makedirs(app.instance_path, exist_ok=True)
    configure(app, test_config)
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    register_extensions(app)
    if not app.config.get("SERVING"):
        register_migrations(app)
    register_sessions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_hooks(app)
    from epro.app.health import HealthCheck

    app.wsgi_app = HealthCheck(app, app.wsgi_app)  # type: ignore[method-assign]  # /healthz before Flask
    return app


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    from epro.base import config

    app.config.from_object(config.Defaults)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "epro.db")
    app.config.from_prefixed_env("EPRO")
    if test_config:
        app.config.update(test_config)
    days = timedelta(days=int(app.config["PATIENT_SESSION_DAYS"]))
    app.config["PERMANENT_SESSION_LIFETIME"] = days
    app.config["REMEMBER_COOKIE_DURATION"] = days
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_instance_secret(app.instance_path)
    key = app.config.get("SECRET_KEY") or ""
    if len(key) < MIN_SECRET_LENGTH and not app.config.get("TESTING"):
        raise RuntimeError(
            "epro refuses to start without a strong secret key: set EPRO_SECRET_KEY "
            f"(at least {MIN_SECRET_LENGTH} random characters) or run `epro demo` once "
            "to create one in the instance folder."
        )


def instance_path() -> str:
    """The instance folder: EPRO_INSTANCE_PATH, else ./instance beside the package."""
    return os.environ.get("EPRO_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def read_instance_secret(instance_path: str) -> str | None:
    path = Path(instance_path) / SECRET_FILE
    return path.read_text().strip() if path.exists() else None


def ensure_instance_secret(instance_path: str) -> None:
    """Create the instance folder's secret key once (used by `epro demo`)."""
    path = Path(instance_path) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)


def register_extensions(app: Flask) -> None:
    from flask_compress import Compress

    from epro.base import database, i18n
    from epro.base.extensions import csrf, limiter, login_manager
    from epro.base.orm import db

    db.init_app(app)
    database.configure_engine_events(app)
    csrf.init_app(app)
    from epro.services import rate_storage  # noqa: F401  (registers the database:// limiter storage)

    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    Compress(app)
    from epro.services import audit  # noqa: F401  (the session writes the audit trail)
    from epro.web import login as auth  # noqa: F401  (registers the user loader)


def register_migrations(app: Flask) -> None:
    """`epro db …`, the demo and the tests migrate; the server (SERVING, epro/app/wsgi.py) does not,
    and so never loads Alembic, Mako and Pygments (5 MiB in every worker)."""
    from flask_migrate import Migrate

    from epro.base.orm import db

    Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)


def register_sessions(app: Flask) -> None:
    from epro.web.sessions import StaticAwareSessionInterface

    app.session_interface = StaticAwareSessionInterface()


def register_blueprints(app: Flask) -> None:
    from epro.web import converters

    converters.register(app)  # before any route is added: ids in URLs are bounded
    from epro.web.account import bp as account_bp
    from epro.web.admin import bp as admin_bp
    from epro.web.api import bp as api_bp
    from epro.web.auth import bp as auth_bp
    from epro.web.care import bp as care_bp
    from epro.web.clinic import bp as clinic_bp
    from epro.web.data import bp as data_bp
    from epro.web.main import bp as main_bp
    from epro.web.patient import bp as patient_bp
    from epro.web.pwa import bp as pwa_bp
    from epro.web.queries import bp as queries_bp
    from epro.web.reminders import bp as reminders_bp
    from epro.web.report import bp as report_bp
    from epro.web.trial import bp as trial_bp
    from epro.web.worklists import bp as worklists_bp

    for bp in (main_bp, auth_bp, patient_bp, clinic_bp, api_bp, pwa_bp, trial_bp, report_bp, account_bp, admin_bp,
               care_bp, data_bp, reminders_bp, worklists_bp, queries_bp):
        app.register_blueprint(bp)


def register_errorhandlers(app: Flask) -> None:
    from epro.web import errors

    errors.register(app)


def register_hooks(app: Flask) -> None:
    from epro.web import boundary, hooks, prg, shown_codes

    hooks.register(app)
    prg.register(app)  # a failed form kept for its page is dropped when another page opens
    shown_codes.register(app)  # so is a one-time code kept for the page that shows it
    boundary.register(app)  # last: its after_request (the commit) runs first
