"""Throw-away PostgreSQL databases on the test server (127.0.0.1:5432, user postgres, trust)."""
from __future__ import annotations

import os
import uuid

PG_ADMIN_URL = os.environ.get("EPRO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_admin():
    """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def url_of(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_database(prefix: str, template: str | None = None) -> tuple[str, str]:
    """A new database named ``prefix_<random>`` (a copy of *template* if given): (name, SQLAlchemy URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name, url_of(name)


def drop_database(name: str) -> None:
    """Drop it even if a server killed mid-test left connections open."""
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
