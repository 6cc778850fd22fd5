"""`epro backup` while the server writes, `epro restore` into a fresh database, every row compared.

The SQLite round trip runs the commands as a user would, in a subprocess
with the server's environment; the rest invoke the same click commands in
this process, which is quicker.
"""
from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from live_epro import PASSWORD, connect, csrf_from, epro_command, open_or_past, patient_ids, response_body, server_env
from sqlalchemy import inspect, text

SECRET = "reliability-test-secret-key-0123456789abcdef"


def epro(instance: Path, database_uri: str | None, *args: str, stdin: str | None = None):
    env = server_env(instance, database_uri)
    env["EPRO_SECRET_KEY"] = SECRET
    instance.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*epro_command(), *args], env=env, cwd=str(instance), capture_output=True, text=True,
                          input=stdin if stdin is not None else "", timeout=120)


def run_cli(instance: Path, database_uri: str, *args: str, **env: str):
    """`epro ARGS` in this process, with the environment a deployment would have."""
    from epro.app.cli import cli

    instance.mkdir(parents=True, exist_ok=True)
    environ = {"EPRO_INSTANCE_PATH": str(instance), "EPRO_SQLALCHEMY_DATABASE_URI": database_uri,
               "EPRO_SECRET_KEY": SECRET, **env}
    return CliRunner().invoke(cli, list(args), env=environ, input="n\n", catch_exceptions=False)


def acked_ids_seen_by_clinic(database_uri: str, patient_id: int) -> set[str]:
    """Sign in as clinician.a on an app over *database_uri* and list the patient's response ids."""
    from epro import create_app
    from epro.base.orm import db

    app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": database_uri})
    try:
        client = app.test_client()
        token = csrf_from(client.get("/login?lang=en").get_data(as_text=True))
        login = client.post("/login", data={"username": "clinician.a", "password": PASSWORD, "csrf_token": token})
        assert login.status_code == 302
        listed = client.get(f"/api/v1/patients/{patient_id}/responses")
        assert listed.status_code == 200, listed.status_code
        return {r["id"] for r in listed.get_json()["responses"]}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, in a stable order (by primary key, else by every column as text)."""
    with connect(url) as conn:
        inspector = inspect(conn)
        out = {}
        for table in sorted(inspector.get_table_names()):
            columns = [f'"{c["name"]}"' for c in inspector.get_columns(table)]
            key = [f'"{c}"' for c in inspector.get_pk_constraint(table)["constrained_columns"]]
            order = ", ".join(key or [f"CAST({c} AS TEXT)" for c in columns])
            rows = conn.execute(text(f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY {order}')).all()
            out[table] = [tuple(r) for r in rows]
        return out


def assert_same_rows(original: dict, restored: dict) -> None:
    assert sorted(restored) == sorted(original), "tables differ"
    for table, rows in original.items():
        assert len(restored[table]) == len(rows), f"{table}: {len(rows)} rows, restored {len(restored[table])}"
        for a, b in zip(rows, restored[table], strict=True):
            assert a == b, f"{table}: {a} != {b}"


def test_sqlite_backup_while_writing_then_restore_into_a_fresh_database(servers, clients, tmp_path):
    instance = tmp_path / "live"
    server = servers(instance).start("demo", workers=2)
    writers = [clients(server.url, name) for name in ("patient.a1", "caregiver.a1", "clinician.a")]
    a001 = patient_ids(writers[0])["A-001"]
    clinic_work = open_or_past(writers[2], a001)
    stop = threading.Event()
    acked: list[str] = []
    problems: list[str] = []

    def write(session, n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            if session.username == "clinician.a":
                visit, instrument = rng.choice(clinic_work)
                body = response_body(a001, visit, instrument, "clinician", rng)
            else:
                respondent = "patient" if session.username == "patient.a1" else "caregiver-assisted"
                body = response_body(a001, "M3", rng.choice(("bi", "gds15")), respondent, rng)
            try:
                response = session.submit(body)
            except requests.RequestException as exc:
                problems.append(repr(exc))
                return
            if response.status_code == 201:
                acked.append(body["id"])
            else:
                problems.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(writers)]
    for t in threads:
        t.start()
    try:
        while len(acked) < 10 and not problems:
            time.sleep(0.05)
        online = tmp_path / "backups" / "online.db"
        acked_before = set(acked)
        started = time.monotonic()
        done = epro(instance, None, "backup", str(online))
        backup_seconds = time.monotonic() - started
        written_during = len(acked) - len(acked_before)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Backed up" in done.stdout
    assert not problems, problems
    assert written_during > 0  # the server was writing while the copy was taken

    # The online copy is one consistent snapshot: intact, and each response has its audit event.
    with sqlite3.connect(online) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        orphans = copy.execute(
            "SELECT COUNT(*) FROM responses r WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.table_name = 'responses' AND a.action = 'create' AND a.record_id = r.id)").fetchone()
        assert orphans == (0,)
        in_copy = {row[0] for row in copy.execute("SELECT id FROM responses")}
        assert acked_before <= in_copy  # acknowledged before the backup began, so in it
    copy.close()
    assert not list(online.parent.glob("*.partial"))

    # Quiet now: a second backup, restored into a fresh database, equals the original row by row.
    quiet = tmp_path / "backups" / "quiet.db"
    assert run_cli(instance, server.db_url, "backup", str(quiet)).exit_code == 0
    original = every_row(server.db_url)
    fresh = tmp_path / "fresh"
    fresh_uri = "sqlite:///" + str(fresh / "restored.db")

    restored = run_cli(fresh, fresh_uri, "restore", "--yes", str(quiet))
    assert restored.exit_code == 0, restored.output
    assert_same_rows(original, every_row(fresh_uri))

    # The restored database serves: the clinic sees every acknowledged response of A-001.
    assert acked_ids_seen_by_clinic(fresh_uri, a001) >= set(acked)

    # Back over the original (stopped, non-empty, WAL mode): it becomes the online snapshot again.
    server.stop()
    over = run_cli(instance, server.db_url, "restore", "--yes", str(online))
    assert over.exit_code == 0, over.output
    assert_same_rows(every_row("sqlite:///" + str(online)), every_row(server.db_url))
    assert sqlite3.connect(instance / "epro.db").execute("PRAGMA journal_mode").fetchone() == ("wal",)
    print(f"\n[sqlite] `epro backup` ({online.stat().st_size:,} bytes) took {backup_seconds:.1f} s while "
          f"{written_during} responses were stored; {len(acked)} in all; "
          f"{sum(map(len, original.values()))} rows compared after restore")


@pytest.mark.postgres
def test_postgresql_backup_and_restore_into_a_fresh_database(pg_databases, tmp_path):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.fail("pg_dump/pg_restore are missing: install postgresql-client (.ci/prepare installs "
                    "postgresql, which brings them).", pytrace=False)
    source_uri, fresh_uri = pg_databases(), pg_databases()
    instance = tmp_path / "instance"
    loaded = epro(instance, source_uri, "demo", "--no-serve")
    assert loaded.returncode == 0, loaded.stderr

    archive = tmp_path / "backups" / "epro.dump"
    done = run_cli(instance, source_uri, "backup", str(archive))
    assert done.exit_code == 0, done.output
    assert archive.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    original = every_row(source_uri)

    refused = run_cli(instance, fresh_uri, "restore", str(archive))  # answers "n"
    assert refused.exit_code != 0 and "Aborted" in refused.output
    assert every_row(fresh_uri) == {}

    restored = run_cli(instance, fresh_uri, "restore", "--yes", str(archive))
    assert restored.exit_code == 0, restored.output
    assert_same_rows(original, every_row(fresh_uri))
    # Again, over the now non-empty database: --clean replaces, nothing is doubled.
    again = run_cli(instance, fresh_uri, "restore", "--yes", str(archive))
    assert again.exit_code == 0, again.output
    assert_same_rows(original, every_row(fresh_uri))
    # Sequences come back too: the next insert does not collide with a restored id.
    with connect(fresh_uri) as conn:
        (max_id,) = conn.execute(text("SELECT MAX(id) FROM audit_events")).one()
        (next_id,) = conn.execute(text("SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))")).one()
    assert next_id > max_id


def test_backup_and_restore_explain_what_is_wrong(tmp_path):
    instance = tmp_path / "instance"
    missing = run_cli(instance, "sqlite:///" + str(tmp_path / "nope.db"), "backup", str(tmp_path / "b.db"))
    assert missing.exit_code != 0 and "does not exist" in missing.output, missing.output
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "nope.db").exists()

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello " * 1000)
    target = tmp_path / "target.db"
    bad = run_cli(instance, "sqlite:///" + str(target), "restore", "--yes", str(not_a_backup))
    assert bad.exit_code != 0 and "is not a readable SQLite database" in bad.output, bad.output
    assert not target.exists()

    refused = run_cli(instance, "sqlite:///" + str(target), "restore", str(tmp_path / "b.db"))
    assert refused.exit_code != 0 and "does not exist" in refused.output

    # No connection is attempted before the tool is found.
    no_tool = run_cli(instance, "postgresql+psycopg://nobody@127.0.0.1:1/none", "backup", str(tmp_path / "x.dump"),
                      PATH=str(tmp_path))
    assert no_tool.exit_code != 0, no_tool.output
    assert "pg_dump was not found" in no_tool.output and "README" in no_tool.output, no_tool.output
    assert not (tmp_path / "x.dump").exists()
