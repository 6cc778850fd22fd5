"""Shared fixtures: a real database built from migrations, demo data, clients.

Each app test runs twice: on a real SQLite file and on a real PostgreSQL
database (127.0.0.1:5432, user postgres).  `pytest --db sqlite` narrows it
for a quick local run.  The demo database is built once per backend from the
migrations and copied for every test.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

from epro import create_app

PASSWORD = "epro-demo-2026"
PG_ADMIN_URL = os.environ.get("EPRO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("EPRO_TEST_DATABASE", "all"),
                     choices=("all", *BACKENDS), help="database backend(s) for app tests (default: both)")


def pytest_generate_tests(metafunc):
    """Every test that touches the database runs on SQLite and on PostgreSQL."""
    if "db_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        backends = BACKENDS if chosen == "all" else (chosen,)
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = tuple(b for b in backends if b == "sqlite")
        metafunc.parametrize("db_backend", backends, scope="session")


def _pg_database(name: str, template: str | None = None) -> str:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _config(uri: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": uri,
        "SERVER_NAME": None,
    }
    config.update(extra)
    return config


def build_demo_database(uri: str) -> None:
    """Migrate an empty database to head and load the demo data into it."""
    from flask_migrate import upgrade

    from epro.app import demo
    from epro.base.extensions import db

    app = create_app(_config(uri))
    with app.app_context():
        upgrade()
        demo.load()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, db_backend):
    """The demo database built once per run; each test gets a copy."""
    os.environ.setdefault("EPRO_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    if db_backend == "postgresql":
        name = f"epro_tpl_{uuid.uuid4().hex[:8]}"
        uri = _pg_database(name)
        build_demo_database(uri)
        yield name
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
    else:
        path = tmp_path_factory.mktemp("template") / "demo.db"
        build_demo_database("sqlite:///" + str(path))
        yield str(path)


def make_app(tmp_path: Path, backend: str, template: str, **extra):
    if backend == "postgresql":
        uri = _pg_database(f"epro_test_{uuid.uuid4().hex[:10]}", template=template)
    else:
        target = tmp_path / "epro-test.db"
        shutil.copyfile(template, target)
        uri = "sqlite:///" + str(target)
    return create_app(_config(uri, **extra))


@pytest.fixture
def empty_app(tmp_path, db_backend):
    """An app on a new, empty database (no migrations run yet)."""
    if db_backend == "postgresql":
        uri = _pg_database(f"epro_empty_{uuid.uuid4().hex[:10]}")
    else:
        uri = "sqlite:///" + str(tmp_path / "empty.db")
    app = create_app(_config(uri))
    yield app
    _dispose(app)


def _dispose(app) -> None:
    from epro.base.extensions import db

    with app.app_context():
        url = db.engine.url
        db.session.remove()
        db.engine.dispose()
    if url.get_backend_name() == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{url.database}"')


@pytest.fixture
def app(tmp_path, db_backend, demo_template):
    app = make_app(tmp_path, db_backend, demo_template)
    yield app
    _dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf meta tag"
    return match.group(1)


class Session:
    """A logged-in test client with the CSRF token at hand."""

    def __init__(self, client, username: str):
        self.client = client
        page = client.get("/login")
        token = csrf_from(page.get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, f"login failed for {username}"
        # The session is renewed at login, so the token is too.
        home = client.get("/", follow_redirects=True)
        self.csrf = csrf_from(home.get_data(as_text=True))

    def get(self, *a, **kw):
        return self.client.get(*a, **kw)

    def post(self, url, **kw):
        data = kw.pop("data", None)
        if data is not None:
            data = {"csrf_token": self.csrf, **data}
        return self.client.post(url, data=data, **kw)

    def api_post(self, url, body):
        return self.client.post(url, json=body, headers={"X-CSRFToken": self.csrf})


@pytest.fixture
def login(app):
    def _login(username: str) -> Session:
        return Session(app.test_client(), username)

    return _login


@pytest.fixture
def ids(app):
    """Patient ids of the demo subjects by subject code."""
    from sqlalchemy import select

    from epro.base.extensions import db
    from epro.models import Patient

    with app.app_context():
        return dict(db.session.execute(select(Patient.subject_code, Patient.id)).all())
