"""The production shape (issue 12): two `epro serve` behind nginx, one PostgreSQL, one Redis.

Once per module: a fresh PostgreSQL database copied from the demo template, two
`epro serve` processes on free ports with the settings of deploy/epro.env.example
(the same secret key, Redis for the per-address throttle under a key prefix of
this run, PROXY_FIX_HOPS=1, Secure cookies), and a real nginx running
deploy/nginx/epro.conf with only its ports, certificate and static folder
replaced.  Each server runs one worker here (production: two) to keep the
module fast; what is shared between servers is shared between workers too.

Talking to one app server directly, the tests act as nginx does: plain HTTP on
the loopback with ``X-Forwarded-Proto: https`` and the Secure cookies
(``Person._headers``).  Through nginx they use real HTTPS.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import random
import re
import secrets
import shutil
import subprocess
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from live_epro import PASSWORD, Server, csrf_from, epro_command, query, read_env_file, response_body, server_env
from support.live_server import free_port
from support.postgres import create_database, drop_database
from support.reminder_sinks import SmtpSink

from epro.base.config import Defaults

pytestmark = pytest.mark.postgresql_only  # the production database; SQLite suits one server only

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REDIS_URL = "redis://127.0.0.1:6379/1"


class Person:
    """One browser: a cookie jar shared by every server it talks to (both are 127.0.0.1)."""

    def __init__(self, username: str, *, verify: str | bool = True):
        self.username = username
        self.http = requests.Session()
        self.http.headers["Connection"] = "close"
        self.verify = verify  # per request: a session's own is overridden by REQUESTS_CA_BUNDLE
        self.csrf = ""

    def _headers(self, base: str) -> dict[str, str]:
        if base.startswith("http://"):
            # Straight to an app server, as nginx forwards a request: the Secure cookies
            # (requests keeps them for https) and X-Forwarded-Proto.
            cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
            return {"X-Forwarded-Proto": "https", "Referer": "https://" + base.removeprefix("http://") + "/",
                    **({"Cookie": cookies} if cookies else {})}
        return {"Referer": base + "/"}

    def get(self, base: str, path: str, **kwargs) -> requests.Response:
        return self.http.get(base + path, headers=self._headers(base), timeout=30, allow_redirects=False,
                             verify=self.verify, **kwargs)

    def post(self, base: str, path: str, **kwargs) -> requests.Response:
        headers = self._headers(base) | {"X-CSRFToken": self.csrf}
        return self.http.post(base + path, headers=headers, timeout=30, allow_redirects=False, verify=self.verify,
                              **kwargs)

    def sign_in(self, base: str, password: str = PASSWORD) -> requests.Response:
        token = csrf_from(self.get(base, "/login?lang=en").text)
        response = self.http.post(base + "/login", headers=self._headers(base), timeout=30, allow_redirects=False,
                                  verify=self.verify,
                                  data={"username": self.username, "password": password, "csrf_token": token})
        if response.status_code == 302:
            self.csrf = self.get(base, "/pwa/session").json()["csrf_token"]  # renewed with the session
        elif response.status_code == 303:  # a refusal: its page says which (post–redirect–get)
            response = self.get(base, response.headers["Location"].removeprefix(base))
        return response

    def close(self) -> None:
        self.http.close()


@dataclass
class Shape:
    servers: list[Server]
    db_url: str
    env: dict[str, str]
    prefix: str


@pytest.fixture(scope="module")
def shape(tmp_path_factory, db_backend, demo_template):
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    try:
        store.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("the two-server tests need Redis on 127.0.0.1:6379 (.ci/prepare starts it)")
    name, db_url = create_database("epro_two", template=demo_template)
    prefix = "epro-two-" + uuid.uuid4().hex[:10]
    env = read_env_file(DEPLOY / "epro.env.example") | {
        "EPRO_SECRET_KEY": secrets.token_urlsafe(48),  # one secret, both servers
        "EPRO_SQLALCHEMY_DATABASE_URI": db_url,
        "EPRO_RATELIMIT_STORAGE_URI": REDIS_URL,
        "EPRO_RATELIMIT_KEY_PREFIX": prefix,
    }
    from epro.services.reminders.channels import new_vapid_private_key

    env["EPRO_VAPID_PRIVATE_KEY"] = new_vapid_private_key()
    root = tmp_path_factory.mktemp("two-servers")
    servers = []
    try:
        for n in (1, 2):
            server = Server(root / f"server{n}", db_url)
            server.env = env
            servers.append(server.start("serve", workers=1))
        yield Shape(servers, db_url, env, prefix)
        for server in servers:
            assert not server.errors_in_log(), server.log_tail()
    finally:
        for server in servers:
            server.stop()
        drop_database(name)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        store.close()


@pytest.fixture
def people():
    made: list[Person] = []

    def make(username: str, **kwargs) -> Person:
        made.append(Person(username, **kwargs))
        return made[-1]

    yield make
    for person in made:
        person.close()


# ---- the app servers, side by side ---------------------------------------------------------------

def test_a_response_sent_through_one_server_is_seen_and_acknowledged_by_the_other(shape, people):
    one, two = (s.url for s in shape.servers)
    nurse = people("clinician.a")
    assert nurse.sign_in(one).status_code == 302
    patients = {p["subject_code"]: p["id"] for p in nurse.get(one, "/api/v1/me").json()["patients"]}
    pid = patients["A-001"]
    schedule = nurse.get(two, f"/api/v1/patients/{pid}/schedule").json()
    visit, instrument = next((v["code"], i["code"]) for v in schedule["visits"] if v["status"] != "upcoming"
                             for i in v["instruments"] if i["code"] in ("nihss", "mrs"))
    body = response_body(pid, visit, instrument, "clinician", random.Random(12))

    first = nurse.post(one, "/api/v1/responses", json=body)
    assert first.status_code == 201, first.text
    listed = nurse.get(two, f"/api/v1/patients/{pid}/responses").json()["responses"]
    assert body["id"] in {r["id"] for r in listed}

    again = nurse.post(two, "/api/v1/responses", json=body)  # the phone's retry lands on the other server
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["total"] == first.json()["total"]
    assert query(shape.db_url, "SELECT COUNT(*) FROM responses WHERE id = :i", i=body["id"]) == [(1,)]
    assert query(shape.db_url, "SELECT COUNT(*) FROM audit_events WHERE table_name = 'responses' "
                               "AND action = 'create' AND record_id = :i", i=body["id"]) == [(1,)]


def test_a_session_made_on_one_server_is_signed_in_on_the_other(shape, people):
    one, two = (s.url for s in shape.servers)
    patient = people("patient.a2")
    assert patient.get(two, "/api/v1/me").status_code == 401
    assert patient.sign_in(one).status_code == 302
    cookie = next(c for c in patient.http.cookies if c.name == "session")
    assert cookie.secure, "EPRO_SESSION_COOKIE_SECURE=true from the example must be in effect"
    for base in (one, two):
        me = patient.get(base, "/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == "patient.a2"
    assert patient.post(two, "/logout").status_code in (302, 303)  # a CSRF token from server 1, accepted by 2
    assert patient.get(one, "/api/v1/me").status_code == 401


def test_failed_sign_ins_split_over_both_servers_lock_the_name_on_both(shape, people):
    servers = [s.url for s in shape.servers]
    name = "monitor.a"
    statuses = [people(name).sign_in(servers[i % 2], "not-the-password").status_code for i in range(5)]
    assert statuses == [401] * 5
    for base in servers:
        right = people(name).sign_in(base)
        assert right.status_code == 429, f"{base}: the right password got through a locked name"
        assert 880 <= int(right.headers["Retry-After"]) <= 900
    assert query(shape.db_url, "SELECT failures FROM sign_in_locks WHERE key = :k", k=name) == [(5,)]


def test_the_per_address_throttle_is_counted_once_in_redis_for_both_servers(shape, people):
    import redis

    servers = [s.url for s in shape.servers]
    stranger = people("nobody")
    codes = [stranger.get(servers[i % 2], "/activate", params={"code": "WRONG-" + uuid.uuid4().hex[:8]}).status_code
             for i in range(22)]
    assert codes == [400] * 20 + [429] * 2, codes  # 10 + 10 bad codes on each: the 21st is refused on either
    with redis.Redis.from_url(REDIS_URL) as store:
        keys = [k.decode() for k in store.scan_iter(f"*{shape.prefix}*")]
    assert any("activat" in k for k in keys), keys
    assert query(shape.db_url, "SELECT COUNT(*) FROM rate_counters") == [(0,)]  # nothing in the database


def test_epro_remind_on_both_servers_at_once_sends_each_reminder_once(shape, tmp_path):
    """The production settings' version of tests/test_reminders_concurrency.py (four runs, both databases)."""
    morning = dt.datetime.combine(dt.datetime.now(ZoneInfo("Asia/Shanghai")).date(), dt.time(10, 0),
                                  ZoneInfo("Asia/Shanghai"))
    with SmtpSink() as smtp:
        runs = []
        for server in shape.servers:
            env = server_env(server.instance, shape.db_url) | shape.env | {
                "EPRO_MAIL_SERVER": "127.0.0.1", "EPRO_MAIL_PORT": str(smtp.port), "EPRO_MAIL_STARTTLS": "false",
                "EPRO_STAFF_ALERTS": "false"}  # staff alerts: tests/test_worklist_alerts.py
            runs.append(subprocess.Popen([*epro_command(), "remind", "--now", morning.isoformat()], env=env,
                                         cwd=str(server.instance), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True))
        outputs = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        sent = sorted(r for rcpts, _m in smtp.messages for r in rcpts)
    assert sent == ["patient.a1@example.org", "patient.a2@example.org"], outputs
    assert sum(int(out.strip().splitlines()[-1].split()[0]) for out, _err in outputs) == 2
    assert query(shape.db_url, "SELECT COUNT(*) FROM reminder_claims") == [(2,)]


# ---- nginx in front of them ----------------------------------------------------------------------

@dataclass
class Nginx:
    https: str
    http: str
    cafile: str
    test_output: str


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render_site(ports: tuple[int, int], https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/epro.conf with this machine's ports and paths: nothing else changes."""
    text = (DEPLOY / "nginx" / "epro.conf").read_text()
    replacements = {
        "127.0.0.1:8001": f"127.0.0.1:{ports[0]}",
        "127.0.0.1:8002": f"127.0.0.1:{ports[1]}",
        "listen 443 ssl": f"listen 127.0.0.1:{https_port} ssl",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "/etc/ssl/epro/fullchain.pem": str(cert),
        "/etc/ssl/epro/privkey.pem": str(key),
        "/srv/epro/static/": str(ROOT / "static") + "/",
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx/epro.conf no longer has {old!r}: update the test's rendering"
        text = text.replace(old, new)
    # No IPv6 on every test machine: the [::] listeners are left out.
    return "\n".join(line for line in text.splitlines() if "listen [::]" not in line) + "\n"


@pytest.fixture(scope="module")
def nginx(shape, tmp_path_factory):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        pytest.fail("the two-server tests need nginx (.ci/prepare installs nginx-light)")
    prefix = tmp_path_factory.mktemp("nginx")
    cert, key = self_signed(prefix)
    https_port, http_port = free_port(), free_port()
    (prefix / "epro.conf").write_text(render_site((shape.servers[0].port, shape.servers[1].port),
                                                  https_port, http_port, cert, key))
    temp = {t: prefix / t for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    (prefix / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {prefix}/epro.conf;
}}
""")
    args = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{https_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            with suppress(requests.RequestException):
                if requests.get(base + "/healthz", verify=str(cert), timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, (prefix / "error.log").read_text()
            time.sleep(0.1)
        yield Nginx(base, f"http://127.0.0.1:{http_port}", str(cert), checked.stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()


def test_nginx_accepts_the_shipped_site(nginx):
    assert "syntax is ok" in nginx.test_output and "test is successful" in nginx.test_output
    assert "[warn]" not in nginx.test_output and "[emerg]" not in nginx.test_output, nginx.test_output


def test_https_through_nginx_reaches_the_app_with_its_own_headers(nginx, people):
    health = requests.get(nginx.https + "/healthz", verify=nginx.cafile, timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    login = requests.get(nginx.https + "/login?lang=en", verify=nginx.cafile, timeout=10)
    assert login.status_code == 200 and 'name="csrf-token"' in login.text
    # The app's headers, once each: nginx adds or overrides none of them.
    assert login.raw.headers.getlist("Content-Security-Policy") == [login.headers["Content-Security-Policy"]]
    assert "default-src 'self'" in login.headers["Content-Security-Policy"]
    # HSTS is the app's answer to https: X-Forwarded-Proto reached it and EPRO_PROXY_FIX_HOPS=1 trusted it.
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000"

    patient = people("patient.a1", verify=nginx.cafile)
    assert patient.sign_in(nginx.https).status_code == 302  # CSRF's same-origin check passes through nginx
    assert patient.get(nginx.https, "/api/v1/me").json()["username"] == "patient.a1"


def _hits(server: Server, path: str) -> int:
    return server.log_path.read_text(errors="replace").count(f'"GET {path}"')


def test_nginx_uses_both_servers_and_carries_on_when_one_dies(shape, nginx):
    before = [_hits(s, "/healthz") for s in shape.servers]
    for _ in range(6):
        assert requests.get(nginx.https + "/healthz", verify=nginx.cafile, timeout=10).status_code == 200
    time.sleep(0.2)  # the access log line follows the answer
    gained = [_hits(s, "/healthz") - b for s, b in zip(shape.servers, before, strict=True)]
    assert all(g >= 1 for g in gained) and sum(gained) == 6, gained

    second = shape.servers[1]
    second.kill()  # a crash: SIGKILL to its whole process group
    try:
        statuses = [requests.get(nginx.https + "/login?lang=en", verify=nginx.cafile, timeout=10).status_code
                    for _ in range(6)]
        assert statuses == [200] * 6
    finally:
        second.start("serve", workers=1)


def test_plain_http_is_sent_to_https(nginx):
    response = requests.get(nginx.http + "/login?lang=en", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/login?lang=en"


def test_nginx_serves_static_files_itself_with_a_year_for_versioned_urls(shape, nginx):
    page = requests.get(nginx.https + "/login?lang=en", verify=nginx.cafile, timeout=10).text
    match = re.search(r'/static/css/app\.css\?v=([0-9a-f]+)', page)
    assert match, "the page links a versioned stylesheet"
    versioned = requests.get(nginx.https + match.group(0), verify=nginx.cafile, timeout=10)
    assert versioned.status_code == 200
    assert versioned.content == (ROOT / "static" / "css" / "app.css").read_bytes()
    assert versioned.headers["Cache-Control"] == f"public, max-age={Defaults.STATIC_MAX_AGE}, immutable"
    assert versioned.headers["Content-Type"].startswith("text/css")
    assert versioned.headers["X-Content-Type-Options"] == "nosniff"
    plain = requests.get(nginx.https + "/static/js/app.js", verify=nginx.cafile, timeout=10)
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache"
    assert not any(_hits(s, "/static/css/app.css") for s in shape.servers), "nginx, not the app, served it"


def test_nginx_refuses_bodies_over_the_apps_limit(nginx):
    limit = re.search(r"client_max_body_size (\d+)k;", (DEPLOY / "nginx" / "epro.conf").read_text())
    assert limit and int(limit.group(1)) * 1024 == Defaults.MAX_CONTENT_LENGTH
    too_big = requests.post(nginx.https + "/api/v1/responses", data=b"x" * (Defaults.MAX_CONTENT_LENGTH + 1),
                            headers={"Content-Type": "application/json"}, verify=nginx.cafile, timeout=10)
    assert too_big.status_code == 413
