"""Live `epro demo` / `epro serve` servers (gunicorn, several workers) in their own process group.

Each runs in a subprocess with its own instance folder, port and database, the way a
deployment runs.  Used by the browser tests (one server per module) and the reliability
tests (servers they start, kill and restart).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import requests

#: Migrations, demo load and gunicorn start take ~5 s here; leave room for a slow CI machine.
STARTUP_TIMEOUT = 60.0


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
        #: More EPRO_* settings for the server's environment (e.g. a Redis rate-limit storage).
        self.env: dict[str, str] = {}

    @property
    def instance_path(self) -> Path:
        return self.instance

    def get_json(self, path: str) -> Any:
        """A GET without any session (health checks, public JSON)."""
        with requests.get(self.url + path, timeout=5) as r:
            return json.loads(r.content)

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
                                         env=server_env(self.instance, self.database_uri) | self.env,
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
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
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
