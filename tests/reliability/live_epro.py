"""Real servers, signed-in HTTP clients and database look-ups for tests/reliability.

These tests talk HTTP to `epro demo` / `epro serve` (tests/support/live_server.py,
shared with the browser tests) and look at the database directly afterwards.
A plain module (not conftest.py) so the test modules can import it by name.
"""
from __future__ import annotations

import random
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from support.live_server import Server, epro_command, server_env
from support.postgres import PG_ADMIN_URL, create_database, drop_database, pg_admin

#: Re-exported for the test modules, which import everything live from here.
__all__ = ["PG_ADMIN_URL", "Server", "create_database", "drop_database", "epro_command", "pg_admin", "server_env"]

PASSWORD = "epro-demo-2026"


# ---- databases ----------------------------------------------------------------------------------

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


# ---- settings -----------------------------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path.name}:{number}: not KEY=value: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


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
