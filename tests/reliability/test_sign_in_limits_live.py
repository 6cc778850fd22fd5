"""Sign-in limits that hold on the real production server, `epro serve --workers 2` (issue 9).

The account lock-out lives in the database and the per-address throttle in a
storage shared by both workers (``database://`` by default, Redis when
configured), so a locked name never lets a password through and the 21st bad
activation code is refused whichever worker answers — and a restart changes
nothing.  Every request goes on a new connection, so the two workers share them.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from live_epro import csrf_from, epro_command, query, server_env

USERNAME = "alice.admin"
PASSWORD = "Tall-Harbour-Lantern-2026!"


def prepare(instance: Path, database_uri: str | None) -> None:
    """An instance folder with a secret key and a migrated database holding one administrator."""
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "secret_key").write_text(uuid.uuid4().hex * 2)
    env = server_env(instance, database_uri)
    for args, extra in ((["db", "upgrade"], {}), (["create-admin", USERNAME], {"EPRO_ADMIN_PASSWORD": PASSWORD})):
        done = subprocess.run([*epro_command(), *args], env=env | extra, cwd=str(instance), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == 0, f"epro {' '.join(args)}: {done.stdout}\n{done.stderr}"


def sign_in(base_url: str, username: str, password: str) -> requests.Response:
    """One attempt on a fresh connection and a fresh session, as a stranger would make it."""
    with requests.Session() as http:
        http.headers["Connection"] = "close"
        token = csrf_from(http.get(base_url + "/login?lang=en", timeout=30).text)
        response = http.post(base_url + "/login", data={"username": username, "password": password,
                                                        "csrf_token": token}, allow_redirects=False, timeout=30)
        if response.status_code == 303:  # a refusal: its page says which (post–redirect–get)
            response = http.get(urljoin(base_url + "/", response.headers["Location"]), timeout=30)
        return response


def bad_code(base_url: str) -> int:
    response = requests.get(base_url + "/activate", params={"code": "WRONG-" + uuid.uuid4().hex[:8], "lang": "en"},
                            headers={"Connection": "close"}, timeout=30)
    return response.status_code


def assert_locked_out(base_url: str, username: str = USERNAME) -> None:
    statuses = [sign_in(base_url, username, "not-the-password").status_code for _ in range(12)]
    assert statuses == [401] * 5 + [429] * 7, statuses
    right = sign_in(base_url, username, PASSWORD)
    assert right.status_code == 429, "the right password must not get through a locked name"
    assert "please wait 15 minutes" in right.text
    assert 890 <= int(right.headers["Retry-After"]) <= 900


def test_lockout_and_activation_limit_are_exact_with_two_workers_and_survive_a_restart(
        backend, tmp_path, servers, pg_databases):
    instance = tmp_path / "instance"
    uri = pg_databases("epro_limits") if backend == "postgresql" else None
    prepare(instance, uri)
    server = servers(instance, uri).start("serve", workers=2)

    assert_locked_out(server.url)
    # An unknown name is locked the same way (nobody learns which names exist).
    statuses = [sign_in(server.url, "nobody.here", "guess").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]

    codes = [bad_code(server.url) for _ in range(21)]
    assert codes == [400] * 20 + [429], codes

    server.stop()
    restarted = servers(instance, uri, port=server.port).start("serve", workers=2)
    assert sign_in(restarted.url, USERNAME, PASSWORD).status_code == 429  # the lock outlived the restart
    assert sign_in(restarted.url, USERNAME.upper(), PASSWORD).status_code == 429  # names are case-blind
    assert bad_code(restarted.url) == 429  # and so did the address's count

    (failures,) = query(restarted.db_url, "SELECT failures FROM sign_in_locks WHERE key = :k", k=USERNAME)[0]
    assert failures == 5
    (locked_events,) = query(restarted.db_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'login_locked'")[0]
    assert locked_events >= 10  # 7 + the right password + unknown name + after the restart
    assert not server.errors_in_log() and not restarted.errors_in_log(), restarted.log_tail()


def test_redis_storage_keeps_the_address_limit_exact_with_two_workers(tmp_path, servers):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/1")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("CI needs Redis on 127.0.0.1:6379 (.ci/prepare starts it)")
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = "epro-test-" + uuid.uuid4().hex[:10]
    instance = tmp_path / "instance"
    prepare(instance, None)
    server = servers(instance)
    server.env = {"EPRO_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/1", "EPRO_RATELIMIT_KEY_PREFIX": prefix}
    server.start("serve", workers=2)
    try:
        codes = [bad_code(server.url) for _ in range(21)]
        assert codes == [400] * 20 + [429], codes
        keys = [k.decode() for k in client.scan_iter(f"*{prefix}*")]
        assert keys, "the counts must be in Redis"
        assert query(server.db_url, "SELECT COUNT(*) FROM rate_counters")[0][0] == 0  # not in the database
        assert_locked_out(server.url)  # the account lock-out stays in the database
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()
