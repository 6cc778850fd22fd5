"""Real servers, signed-in HTTP clients and database look-ups for tests/reliability.

These tests talk HTTP to `epro demo` / `epro serve` (gunicorn, several
workers) running in a subprocess with its own instance folder, port and
database, the way a deployment runs, and look at the database directly
afterwards.  The server pattern follows tests/browser/conftest.py, which is
scoped to that directory.  A plain module (not conftest.py) so the test
modules can import it by name.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

PASSWORD = "epro-demo-2026"
#: Migrations, demo load and gunicorn start take ~5 s here; leave room for a slow CI machine.
STARTUP_TIMEOUT = 60.0
PG_ADMIN_URL = os.environ.get("EPRO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


# ---- servers ------------------------------------------------------------------------------------

def epro_command() -> list[str]:
    script = Path(sys.executable).with_name("epro")
    if script.exists():
        return [str(script)]
    found = shutil.which("epro")
    if found:
        return [found]
    return [sys.executable, "-c", "from epro.app.cli import main; main()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(instance: Path, database_uri: str | None) -> dict[str, str]:
    """The shell's environment without stray EPRO_ settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPRO_")}
    env.update(EPRO_INSTANCE_PATH=str(instance), PYTHONUNBUFFERED="1")
    if database_uri:
        env["EPRO_SQLALCHEMY_DATABASE_URI"] = database_uri
    return env


class Server:
    """One gunicorn (via `epro demo` or `epro serve`) in its own process group."""

    def __init__(self, instance: Path, database_uri: str | None = None, port: int | None = None):
        self.instance = instance
        self.database_uri = database_uri
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = instance / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def db_url(self) -> str:
        """The database the server uses, as a URL the test process can open."""
        return self.database_uri or "sqlite:///" + str(self.instance / "epro.db")

    def start(self, command: str = "demo", workers: int = 2) -> Server:
        self.instance.mkdir(parents=True, exist_ok=True)
        args = [*epro_command(), command, "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(workers)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=server_env(self.instance, self.database_uri),
                                         cwd=str(self.instance), start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/healthz", timeout=2).json().get("status") == "ok":
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"`epro {command}` did not become healthy on port {self.port} within {STARTUP_TIMEOUT:.0f} s "
                    f"(exit code {self.proc.returncode}). Log tail:\n{self.log_tail()}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL the whole process group (gunicorn master and workers): a crash, no clean-up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _wait_for_group_exit(self.proc)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        _wait_for_group_exit(self.proc)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def errors_in_log(self) -> list[str]:
        """Unhandled errors the server logged for the JSON API (a 500 is a bug even if the client retries).

        Only /api/ paths: the HTML pages belong to other tests.
        """
        text_ = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text_.splitlines()
                if ("unhandled error on" in line and " /api/" in line) or "Error handling request" in line]


def _wait_for_group_exit(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Workers die with the master's group; wait until none is left holding the port or the database."""
    if proc is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


# ---- databases ----------------------------------------------------------------------------------

def pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@contextmanager
def connect(url: str):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


# ---- clients ------------------------------------------------------------------------------------

def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf meta tag"
    return match.group(1)


class Client:
    """One signed-in user over real HTTP, as a phone or the clinic's browser would be.

    Every request goes on a new connection (`Connection: close`).  A reused
    keep-alive connection that gunicorn closes after its idle timeout (2 s) at
    the moment a request is sent fails without any response; that race is
    the client's, and with a new connection each time a request that gets no
    answer can only mean the server failed, which is what these tests look for.
    """

    def __init__(self, base_url: str, username: str, timeout: float = 30.0):
        self.base_url = base_url
        self.username = username
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Connection"] = "close"
        token = csrf_from(self.http.get(base_url + "/login?lang=en", timeout=timeout).text)
        response = self.http.post(base_url + "/login", timeout=timeout, allow_redirects=False,
                                  data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, f"login as {username}: {response.status_code}"
        # The session is renewed at login, so the token is too.
        self.csrf = csrf_from(self.http.get(base_url + "/", timeout=timeout).text)

    def get_json(self, path: str) -> Any:
        response = self.http.get(self.base_url + path, timeout=self.timeout)
        assert response.status_code == 200, f"GET {path} -> {response.status_code}: {response.text[:300]}"
        return response.json()

    def post(self, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        return self.http.post(self.base_url + path, headers=headers, timeout=self.timeout, **kwargs)

    def submit(self, body: dict[str, Any]) -> requests.Response:
        return self.post("/api/v1/responses", json=body)

    def close(self) -> None:
        self.http.close()


# ---- response bodies ----------------------------------------------------------------------------

def valid_answers(instrument: str, rng: random.Random) -> dict[str, Any]:
    """A complete set of allowed answers, drawn at random from the instrument's own choices."""
    from epro.core import instruments

    definition = instruments.get(instrument)
    return {item.key: rng.choice(item.choices).value for item in definition.items}


def response_body(patient_id: int, visit: str, instrument: str, respondent: str, rng: random.Random,
                  **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "patient_id": patient_id,
        "visit": visit,
        "instrument": instrument,
        "answers": valid_answers(instrument, rng),
        "respondent": respondent,
        "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }


def open_or_past(client: Client, patient_id: int) -> list[tuple[str, str]]:
    """(visit, instrument) pairs a clinician may enter: visits whose window has opened."""
    schedule = client.get_json(f"/api/v1/patients/{patient_id}/schedule")
    return [(v["code"], i["code"]) for v in schedule["visits"] if v["status"] != "upcoming"
            for i in v["instruments"]]


def patient_ids(client: Client) -> dict[str, int]:
    return {p["subject_code"]: p["id"] for p in client.get_json("/api/v1/me")["patients"]}


def stored_responses(db_url: str) -> dict[str, tuple]:
    """Every response row by id, with what identifies its content."""
    rows = query(db_url, "SELECT id, patient_id, visit_code, instrument, respondent, total FROM responses")
    return {row[0]: row[1:] for row in rows}


def create_events(db_url: str) -> dict[str, int]:
    """How many 'create' audit events each response has (exactly one if it was stored once)."""
    rows = query(db_url, "SELECT record_id, COUNT(*) FROM audit_events "
                         "WHERE table_name = 'responses' AND action = 'create' GROUP BY record_id")
    return dict(rows)
