"""Fixtures for the reliability tests ("never lose an answer", issue 5).

Servers run on SQLite (the instance folder's file) or on a fresh PostgreSQL
database (127.0.0.1:5432, user postgres, created and dropped here).  Tests
that take the `backend` fixture run on both, grouped by module; `--db sqlite`
narrows them and leaves out the PostgreSQL-only tests.  The `servers` and
`pg_databases` fixtures come from tests/conftest.py (shared with every test).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from live_epro import Client

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        backends = BACKENDS if chosen == "all" else (chosen,)
        metafunc.parametrize("backend", [
            pytest.param(b, marks=[pytest.mark.postgres] if b == "postgresql" else []) for b in backends
        ], scope="module")


def pytest_collection_modifyitems(config, items):
    """`--db sqlite` leaves out this directory's PostgreSQL-only tests too."""
    if config.getoption("--db") != "sqlite":
        return
    here = Path(__file__).resolve().parent
    dropped = [i for i in items if i.get_closest_marker("postgres") and Path(str(i.fspath)).resolve().parent == here]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


@pytest.fixture
def clients():
    """clients(base_url, username) -> a signed-in Client; all are closed at teardown."""
    made: list[Client] = []

    def make(base_url: str, username: str) -> Client:
        client = Client(base_url, username)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
