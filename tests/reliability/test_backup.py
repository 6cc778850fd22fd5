"""`epro backup` while the server writes, `epro restore` into a fresh database, every row compared.

The commands run as a user would run them, in a subprocess with the
server's environment.
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
from live_epro import (Server, connect, epro_command, open_or_past, patient_ids, response_body,
                       server_env)
from sqlalchemy import inspect, text

SECRET = "reliability-test-secret-key-0123456789abcdef"


def epro(instance: Path, database_uri: str | None, *args: str, stdin: str | None = None):
    env = server_env(instance, database_uri)
    env["EPRO_SECRET_KEY"] = SECRET
    instance.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*epro_command(), *args], env=env, cwd=str(instance), capture_output=True, text=True,
                          input=stdin if stdin is not None else "", timeout=120)


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
        for a, b in zip(rows, restored[table]):
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
        started = time.monotonic()
        done = epro(instance, None, "backup", str(online))
        backup_seconds = time.monotonic() - started
        acked_during = len(acked)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Backed up" in done.stdout
    assert not problems, problems
    assert len(acked) > 10  # the server was writing while the copy was taken

    # The online copy is one consistent snapshot: intact, and each response has its audit event.
    with sqlite3.connect(online) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        orphans = copy.execute(
            "SELECT COUNT(*) FROM responses r WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.table_name = 'responses' AND a.action = 'create' AND a.record_id = r.id)").fetchone()
        assert orphans == (0,)
    copy.close()
    assert not list(online.parent.glob("*.partial"))

    # Quiet now: a second backup, restored into a fresh database, equals the original row by row.
    quiet = tmp_path / "backups" / "quiet.db"
    assert epro(instance, None, "backup", str(quiet)).returncode == 0
    original = every_row(server.db_url)
    fresh = tmp_path / "fresh"
    fresh_uri = "sqlite:///" + str(fresh / "restored.db")

    refused = epro(fresh, fresh_uri, "restore", str(quiet), stdin="n\n")
    assert refused.returncode != 0 and "Aborted" in refused.stderr
    assert not (fresh / "restored.db").exists()

    restored = epro(fresh, fresh_uri, "restore", "--yes", str(quiet))
    assert restored.returncode == 0, restored.stderr
    assert_same_rows(original, every_row(fresh_uri))

    # The restored database serves: the clinic sees the same responses of A-001.
    shutil.copy(instance / "secret_key", fresh / "secret_key")  # as on a new machine with the old instance folder
    copy_server = servers(fresh, fresh_uri).start("serve", workers=1)
    clinician = clients(copy_server.url, "clinician.a")
    listed = clinician.get_json(f"/api/v1/patients/{a001}/responses")["responses"]
    assert {r["id"] for r in listed} >= set(acked)
    print(f"\n[sqlite] online backup of {online.stat().st_size:,} bytes in {backup_seconds:.1f} s while "
          f"{len(acked) - acked_during}+ responses were being written; {len(acked)} written in all; "
          f"{sum(map(len, original.values()))} rows compared")


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
    done = epro(instance, source_uri, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert archive.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    original = every_row(source_uri)

    restored = epro(instance, fresh_uri, "restore", "--yes", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert_same_rows(original, every_row(fresh_uri))
    # Again, over the now non-empty database: --clean replaces, nothing is doubled.
    again = epro(instance, fresh_uri, "restore", "--yes", str(archive))
    assert again.returncode == 0, again.stderr
    assert_same_rows(original, every_row(fresh_uri))
    # Sequences come back too: the next insert does not collide with a restored id.
    with connect(fresh_uri) as conn:
        (max_id,) = conn.execute(text("SELECT MAX(id) FROM audit_events")).one()
        (next_id,) = conn.execute(text("SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))")).one()
    assert next_id > max_id


def test_backup_and_restore_explain_what_is_wrong(tmp_path):
    instance = tmp_path / "instance"
    missing = epro(instance, "sqlite:///" + str(tmp_path / "nope.db"), "backup", str(tmp_path / "b.db"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "nope.db").exists()

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello " * 1000)
    target = tmp_path / "target.db"
    bad = epro(instance, "sqlite:///" + str(target), "restore", "--yes", str(not_a_backup))
    assert bad.returncode != 0 and "is not a readable SQLite database" in bad.stderr, bad.stderr
    assert not target.exists()


@pytest.mark.postgres
def test_missing_pg_dump_is_a_clear_error(tmp_path, pg_databases):
    instance = tmp_path / "instance"
    env = server_env(instance, pg_databases())
    env.update(EPRO_SECRET_KEY=SECRET, PATH=str(Path(epro_command()[0]).parent))  # no pg_dump on PATH
    instance.mkdir()
    result = subprocess.run([*epro_command(), "backup", str(tmp_path / "x.dump")], env=env, cwd=str(instance),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout
    assert "pg_dump was not found" in result.stderr and "README" in result.stderr, result.stderr
    assert not (tmp_path / "x.dump").exists()


def test_server_still_serves_after_restore_over_its_database(tmp_path, servers, clients):
    """Restoring a SQLite backup over a database goes through SQLite's locking, not a file copy."""
    instance = tmp_path / "live"
    server: Server = servers(instance).start("demo", workers=1)
    backup = tmp_path / "before.db"
    assert epro(instance, None, "backup", str(backup)).returncode == 0
    before = every_row(server.db_url)
    clinician = clients(server.url, "clinician.a")
    a001 = patient_ids(clinician)["A-001"]
    body = response_body(a001, "M3", "mrs", "clinician", random.Random(7))
    assert clinician.submit(body).status_code == 201
    server.stop()

    assert epro(instance, None, "restore", "--yes", str(backup)).returncode == 0
    assert_same_rows(before, every_row(server.db_url))
    restarted = servers(instance, port=server.port).start("serve", workers=1)
    again = clients(restarted.url, "clinician.a")
    assert body["id"] not in {r["id"] for r in again.get_json(f"/api/v1/patients/{a001}/responses")["responses"]}
