"""Shared fixtures: a real database built from migrations, demo data, clients.

Each app test runs twice: on a real SQLite file and on a real PostgreSQL
database (127.0.0.1:5432, user postgres).  `pytest --db sqlite` narrows it
for a quick local run.  The demo database is built once per backend from the
migrations and copied for every test.

The PostgreSQL databases and the live servers of every directory come from
tests/support (`pg_databases` and `servers` below; the browser tests' module
server and the reliability tests' servers are built on the same Server).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from argon2 import profiles
from support.live_server import Server
from support.postgres import create_database, drop_database
from support.web import PASSWORD, Session, _config, _dispose, csrf_from, make_app  # noqa: F401  (re-exported)

from epro import create_app
from epro.services import passwords

BACKENDS = ("sqlite", "postgresql")

# In this process the demo's passwords are hashed, and every sign-in verified, with argon2's cheapest
# parameters: the production ones cost about 130 ms a sign-in, and the suite signs in thousands of
# times.  The live servers (tests/support/live_server.py) are processes of their own and hash for real.
passwords.use_parameters(profiles.CHEAPEST)


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("EPRO_TEST_DATABASE", "all"),
                     choices=("all", *BACKENDS), help="database backend(s) for app tests (default: both)")


#: Run first, slowest first (measured with `pytest --junitxml`).  With ``--dist loadfile`` a
#: module runs whole on one worker, and a long one handed out last leaves the other worker idle
#: for minutes at the end; started first, the short modules fill in around it.  (pyproject's
#: ``--no-loadscope-reorder`` keeps this order: xdist would otherwise sort modules by their number of
#: tests, which puts the few long browser tests last.)
SLOWEST_MODULES = ("test_every_page_large_text.py", "test_every_page.py", "test_api_fuzz.py",
                   "test_masking_walk.py", "test_clinic_list.py", "test_clinician_fit_and_print.py")
#: Then whole directories by their modules' typical length.
SLOW_DIRECTORIES = ("browser", "reliability", "trial_web")


def _start_order(item) -> tuple[int, int]:
    path = Path(str(item.fspath))
    if path.name in SLOWEST_MODULES:
        return (0, SLOWEST_MODULES.index(path.name))
    if path.parent.name in SLOW_DIRECTORIES:
        return (1, SLOW_DIRECTORIES.index(path.parent.name))
    return (2, 0)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_start_order)  # stable: a module's tests keep their order


def pytest_generate_tests(metafunc):
    """Every test that touches the database runs on SQLite and on PostgreSQL."""
    if "db_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        backends = BACKENDS if chosen == "all" else (chosen,)
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = tuple(b for b in backends if b == "sqlite")
        if metafunc.definition.get_closest_marker("postgresql_only"):
            backends = tuple(b for b in backends if b == "postgresql")
        metafunc.parametrize("db_backend", backends, scope="session")


@pytest.fixture
def pg_databases():
    """pg_databases(prefix="epro_test", template=None) -> the URL of a new PostgreSQL database; dropped at teardown."""
    names: list[str] = []

    def make(prefix: str = "epro_test", template: str | None = None) -> str:
        name, url = create_database(prefix, template)
        names.append(name)
        return url

    yield make
    for name in names:
        drop_database(name)


@pytest.fixture
def servers():
    """servers(instance, database_uri=None, port=None) -> a Server (not started); every one is stopped at teardown."""
    made: list[Server] = []

    def make(instance: Path, database_uri: str | None = None, port: int | None = None) -> Server:
        server = Server(instance, database_uri, port)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def build_demo_database(uri: str) -> None:
    """Migrate an empty database to head and load the demo data into it."""
    from flask_migrate import upgrade

    from epro.app import demo
    from epro.base.orm import db
    from epro.services.reminders.channels import ensure_vapid_key

    app = create_app(_config(uri))
    ensure_vapid_key(app.instance_path)  # as `epro demo` does: web push works on the demo
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
        name, uri = create_database("epro_tpl")
        build_demo_database(uri)
        yield name
        drop_database(name)
    else:
        path = tmp_path_factory.mktemp("template") / "demo.db"
        build_demo_database("sqlite:///" + str(path))
        yield str(path)


@pytest.fixture
def empty_app(tmp_path, db_backend):
    """An app on a new, empty database (no migrations run yet)."""
    if db_backend == "postgresql":
        _name, uri = create_database("epro_empty")
    else:
        uri = "sqlite:///" + str(tmp_path / "empty.db")
    app = create_app(_config(uri))
    yield app
    _dispose(app)


@pytest.fixture
def app(tmp_path, db_backend, demo_template):
    app = make_app(tmp_path, db_backend, demo_template)
    yield app
    _dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    def _login(username: str) -> Session:
        return Session(app.test_client(), username)

    return _login


@pytest.fixture
def ids(app):
    """Patient ids of the demo subjects by subject code."""
    from sqlalchemy import select

    from epro.base.orm import db
    from epro.models import Patient

    with app.app_context():
        return dict(db.session.execute(select(Patient.subject_code, Patient.id)).all())
