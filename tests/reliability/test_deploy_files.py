"""The deployment files in deploy/ say what README "Production: two servers" says (issue 12).

What is checked here, and how:

- systemd units: systemd's own ``systemd-analyze verify`` on the three units, rendered
  with this checkout's path in place of /srv/epro so that their ExecStart exists
  (unknown keys, bad values, a missing executable fail it); ``systemd-analyze security
  --offline`` for the hardening's overall exposure; and the settings README promises,
  read from the files.  The units are not started: this machine (and CI) runs no
  systemd.  The command they start is the one tests/reliability/test_two_servers.py
  runs, with one worker instead of two.
- the environment file: every variable is a setting epro reads and README documents,
  and as shipped (no secret) `epro serve` refuses to start.
- nginx: tests/reliability/test_two_servers.py runs the site for real.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from live_epro import epro_command, read_env_file, server_env

from epro.base.config import Defaults

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
UNITS = ("epro@.service", "epro-remind.service", "epro-remind.timer")
HARDENING = {
    "NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true",
    "PrivateDevices": "true", "ReadWritePaths": "/var/lib/epro", "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "true", "SystemCallArchitectures": "native",
}
#: Settings epro reads that are not in epro/base/config.Defaults, and who reads them.
OUTSIDE_DEFAULTS = {
    "SECRET_KEY": "Flask; epro/app/factory.py refuses to start without one",
    "SQLALCHEMY_DATABASE_URI": "Flask-SQLAlchemy; default set in epro/app/factory.py",
    "INSTANCE_PATH": "epro/app/factory.instance_path (the environment variable itself)",
    "RATELIMIT_KEY_PREFIX": "Flask-Limiter",
    "STAFF_ALERTS": "epro/app/cli.py (epro remind)",
}


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as systemd reads it: sections of keys, each with every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{name}: not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI needs systemd-analyze (.ci/prepare installs Debian's systemd)")
        pytest.skip("no systemd-analyze on this machine")
    return found


@pytest.fixture
def rendered(tmp_path) -> Path:
    """The units with this checkout in place of /srv/epro, and epro@8001.service, an instance of the template."""
    epro = epro_command()
    assert len(epro) == 1 and Path(epro[0]).is_file(), "the units start the epro script of a virtualenv"
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        assert "/srv/epro/.venv/bin/epro" in text or name.endswith(".timer")
        text = text.replace("/srv/epro/.venv/bin/epro", epro[0]).replace("/srv/epro", str(ROOT))
        (tmp_path / name).write_text(text)
    shutil.copy(tmp_path / "epro@.service", tmp_path / "epro@8001.service")
    return tmp_path


def test_systemd_verifies_the_units(rendered):
    files = [str(rendered / n) for n in ("epro@8001.service", "epro-remind.service", "epro-remind.timer")]
    done = subprocess.run([systemd_analyze(), "verify", "--man=no", *files], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


@pytest.mark.parametrize("name", ["epro@8001.service", "epro-remind.service"])
def test_the_services_are_hardened_by_systemds_own_measure(rendered, name):
    done = subprocess.run([systemd_analyze(), "security", "--offline=true", str(rendered / name)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert exposure, done.stdout[-500:]
    assert float(exposure.group(1)) <= 2.0, done.stdout  # 0 = fully locked down, 10 = none; "OK" below 4.5


def test_the_web_unit_runs_epro_serve_on_its_instance_port_as_the_epro_user():
    service = unit("epro@.service")["Service"]
    (command,) = service["ExecStart"]
    assert command == "/srv/epro/.venv/bin/epro serve --host 127.0.0.1 --port %i --workers 2"
    assert service["User"] == ["epro"] and service["EnvironmentFile"] == ["/etc/epro/epro.env"]
    assert service["Environment"] == ["EPRO_INSTANCE_PATH=/var/lib/epro"] and service["StateDirectory"] == ["epro"]
    assert service["Restart"] == ["on-failure"] and service["KillMode"] == ["mixed"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], key
    assert unit("epro@.service")["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_reminder_timer_runs_epro_remind_every_15_minutes():
    service = unit("epro-remind.service")["Service"]
    assert service["Type"] == ["oneshot"] and service["ExecStart"] == ["/srv/epro/.venv/bin/epro remind"]
    assert service["EnvironmentFile"] == ["/etc/epro/epro.env"] and service["User"] == ["epro"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], key
    timer = unit("epro-remind.timer")
    assert timer["Timer"]["OnCalendar"] == ["*:0/15"] and timer["Timer"]["Unit"] == ["epro-remind.service"]
    assert timer["Timer"]["Persistent"] == ["true"] and timer["Install"]["WantedBy"] == ["timers.target"]


def test_every_variable_of_the_environment_file_is_a_documented_setting():
    example = ROOT / "deploy" / "epro.env.example"
    named = set(re.findall(r"^#?(EPRO_[A-Z0-9_]+)=", example.read_text(), re.MULTILINE))
    assert set(read_env_file(example)) <= named
    documented = set(re.findall(r"EPRO_[A-Z0-9_]+", (ROOT / "README.md").read_text()))
    assert named <= documented, named - documented
    settings = {k for k in vars(Defaults) if k.isupper()} | set(OUTSIDE_DEFAULTS)
    assert {n.removeprefix("EPRO_") for n in named} <= settings, {n for n in named if n[5:] not in settings}
    for must in ("EPRO_SECRET_KEY", "EPRO_SQLALCHEMY_DATABASE_URI", "EPRO_RATELIMIT_STORAGE_URI",
                 "EPRO_PROXY_FIX_HOPS", "EPRO_SESSION_COOKIE_SECURE", "EPRO_REMEMBER_COOKIE_SECURE",
                 "EPRO_BASE_URL", "EPRO_MAIL_SERVER", "EPRO_VAPID_PRIVATE_KEY"):
        assert must in read_env_file(example), must


def test_the_environment_file_as_shipped_does_not_start_a_server(tmp_path):
    """Its secret is empty on purpose: a copy nobody filled in must not run with a guessable key."""
    env = server_env(tmp_path, None) | read_env_file(ROOT / "deploy" / "epro.env.example")
    env["EPRO_SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(tmp_path / "never.db")
    done = subprocess.run([*epro_command(), "serve", "--port", "1"], env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "refuses to start without a strong secret key" in done.stderr, done.stderr[-800:]
