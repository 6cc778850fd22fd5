"""Online backup and tested restore of the configured database (`epro backup`, `epro restore`).

Why not just copy the file: a plain copy of a live SQLite database in WAL
mode can pair a main file from before a commit with a WAL from after it, and
a trial's records would come back torn.  SQLite's backup API copies one
consistent snapshot through SQLite's own locking while gunicorn keeps
writing (readers never block WAL writers).  PostgreSQL's pg_dump takes its
snapshot in one transaction, and pg_restore is its inverse; they are called,
not re-implemented.

21 CFR 11.10(c) asks that records be protected so they can be retrieved
accurately for the whole retention period; a backup is only proven by a
restore, so tests/reliability/test_backup.py restores one into a fresh
database and compares every row.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

#: How long the copy waits for a writer to finish before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 30.0


class BackupError(Exception):
    """The backup or restore could not be made; the message says what to do."""


def describe(uri: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(uri).render_as_string(hide_password=True)


def backup(uri: str, target: str | Path) -> str:
    """Write a consistent copy of the live database to *target*; return a one-line summary."""
    url = make_url(uri)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place: an interrupted backup never looks complete.
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_file(url, must_exist=True), partial)
            kind = "SQLite database copy"
        elif url.get_backend_name() == "postgresql":
            _pg("pg_dump", url, "--format=custom", "--file", str(partial))
            kind = "pg_dump custom-format archive"
        else:
            raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return f"Backed up {describe(uri)} to {target} ({kind}, {target.stat().st_size:,} bytes)."


def restore(uri: str, source: str | Path) -> str:
    """Replace everything in the configured database with the backup at *source*."""
    url = make_url(uri)
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No backup at {source}.")
    if url.get_backend_name() == "sqlite":
        _sqlite_restore(source, _sqlite_file(url, must_exist=False))
    elif url.get_backend_name() == "postgresql":
        _pg("pg_restore", url, "--clean", "--if-exists", "--no-owner", "--no-privileges",
            "--single-transaction", "--exit-on-error", str(source))
    else:
        raise BackupError(f"Restoring {url.get_backend_name()} databases is not supported.")
    return f"Restored {describe(uri)} from {source}."


# ---- SQLite -------------------------------------------------------------------------------------

def _sqlite_file(url: URL, *, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"{describe(str(url))} is not a database file.")
    path = Path(url.database)
    if must_exist and not path.is_file():
        raise BackupError(f"The database file {path} does not exist.")
    return path


def _check(conn: sqlite3.Connection, what: str) -> None:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database ({exc}).") from None
    if result != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {result}")
    if "alembic_version" not in tables:
        raise BackupError(f"{what} is not an epro database (it has no alembic_version table).")


def _sqlite_backup(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT)
    try:
        dst = sqlite3.connect(target)
        try:
            # One step (pages=-1): the whole database under one read transaction, i.e. one snapshot.
            src.backup(dst)
            # A self-contained single file: no -wal or -shm beside the copy.
            dst.execute("PRAGMA journal_mode = DELETE")
            _check(dst, "The copy")
        finally:
            dst.close()
    finally:
        src.close()


def _sqlite_restore(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check(src, f"The backup {source}")
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT)
        try:
            # Page by page through SQLite's locking, not a file copy over the live file: a
            # WAL-mode target keeps its WAL consistent (and stays in WAL mode).
            src.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _check(dst, "The restored database")
        finally:
            dst.close()
    finally:
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- PostgreSQL ---------------------------------------------------------------------------------

def _pg(tool: str, url: URL, *args: str) -> None:
    """Run pg_dump or pg_restore against *url*; the password goes in the environment, not argv."""
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(
            f"{tool} was not found. Install the PostgreSQL client tools (Debian: apt-get install "
            f"postgresql-client, the same major version as the server or newer) or run it yourself: "
            + ("pg_dump --format=custom --file PATH DBURL" if tool == "pg_dump" else
               "pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction "
               "--dbname DBURL PATH")
            + " (README, Backup and restore)."
        )
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                          database=url.database, query=url.query).render_as_string(hide_password=False)
    result = subprocess.run([executable, "--dbname", conninfo, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed (exit code {result.returncode}): {result.stderr.strip()}")
