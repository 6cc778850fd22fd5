"""Requests per second of `epro serve` against the floor of its stack, with wrk.

    .venv/bin/python bench/serve.py [--db sqlite,postgres] [--sizes 6,5000,20000] [--seconds 5]

For each database and cohort size: a fresh instance loaded by ``epro demo --no-serve
--patients N`` (its time is printed; size 6 is the demo alone), then ``epro serve --workers 2``
and the floor, a bare Flask view returning JSON (bench/bare_app.py) under the same gunicorn
settings, measured in the same run.  Each request type gets a warm-up, then wrk (Debian's
``wrk``: 2 threads, 8 connections) for ``--seconds``.  Every figure is printed as req/s and
as its ratio to the floor, beside the target of issue 12; memory is each worker's RSS and
PSS after the runs (PSS counts pages shared with the master and the other worker by share).
The last table shows single-request times (median of 25 sequential requests) at each size,
and their ratio to size 6 (target: within 1.2x).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent
PASSWORD = "epro-demo-2026"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SECRET = "bench-secret-key-0123456789-0123456789-0123456789"
GUNICORN = ["--workers", "2", "--threads", "4", "--worker-class", "gthread"]

#: (label, target ratio to the floor or None)
RATES = (
    ("/healthz", 0.6),
    ("submit, spread over 200 patients", 0.25),
    ("submit, one patient with many responses", 0.25),
    ("API timeline", 0.4),
    ("site list, 50 rows", 0.1),
    ("site list, late filter", None),
)
LATENCIES = ("site list", "site list, late filter", "timeline page", "API timeline")

SUBMIT_LUA = """
local ids = {%(ids)s}
local counter = 0
local seed = 0
function setup(thread) seed = seed + 1; thread:set("seed", seed) end
function init(args) math.randomseed(os.time() * 1000 + (seed or 0)); end
local function hex(n) local s = "" for i = 1, n do s = s .. string.format("%%x", math.random(0, 15)) end return s end
request = function()
  counter = counter + 1
  local pid = ids[(counter %% #ids) + 1]
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-a" .. hex(3) .. "-" .. hex(12)
  local body = '{"id":"' .. id .. '","patient_id":' .. pid .. ',"visit":"%(visit)s","instrument":"mrs",' ..
    '"answers":{"MRS0101":' .. math.random(0, 5) .. '},"respondent":"clinician","completed_at":"%(when)s"}'
  return wrk.format("POST", "/api/v1/responses", nil, body)
end
"""


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int, cwd: Path) -> Iterator[Server]:
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process, port)
    try:
        wait_for(server.url + "/healthz")
        time.sleep(0.5)  # both workers up
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, seconds: float, headers: dict[str, str] | None = None, script: str | None = None) -> float:
    cmd = ["wrk", "-t2", "-c8", f"-d{int(seconds)}s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def memory(pids: list[int]) -> tuple[float, float]:
    """Mean RSS and PSS (MiB) of these processes."""
    rss, pss = [], []
    for pid in pids:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        rss.append(int(fields["Rss"].split()[0]) / 1024)
        pss.append(int(fields["Pss"].split()[0]) / 1024)
    return statistics.mean(rss), statistics.mean(pss)


def sign_in(base: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of clinician.a."""
    s = requests.Session()
    page = s.get(base + "/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = s.post(base + "/login", data={"username": "clinician.a", "password": PASSWORD, "csrf_token": token})
    assert "/clinic" in answer.url, answer.url
    home = s.get(base + "/clinic/").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies), token


def sequential(url: str, cookie: str, runs: int = 25) -> float:
    times = []
    with requests.Session() as s:
        s.get(url, headers={"Cookie": cookie})
        for _ in range(runs):
            start = time.perf_counter()
            r = s.get(url, headers={"Cookie": cookie})
            times.append(time.perf_counter() - start)
            assert r.status_code == 200, (url, r.status_code)
    return statistics.median(times) * 1000


def database_uri(db: str, size: int, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/epro.db"
    name = f"epro_bench_{size}"
    admin = create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return PG + name


def run_one(db: str, size: int, seconds: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"epro-bench-{db}-{size}-"))
    uri = database_uri(db, size, tmp)
    env = {**os.environ, "EPRO_INSTANCE_PATH": str(tmp), "EPRO_SQLALCHEMY_DATABASE_URI": uri,
           "EPRO_SECRET_KEY": SECRET, "EPRO_REQUIRE_SECOND_FACTOR": "false", "EPRO_STAFF_IDLE_MINUTES": "600"}
    start = time.perf_counter()
    extra = ["--patients", str(size)] if size > 6 else []
    subprocess.run([str(VENV / "epro"), "demo", "--no-serve", *extra], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    load_s = time.perf_counter() - start
    engine = create_engine(uri)
    with engine.connect() as c:
        site_a = c.execute(text("select id from sites where code = 'A'")).scalar()
        spread = c.execute(text(
            "select p.id from patients p join visit_progress v on v.patient_id = p.id and v.visit_code = 'M3'"
            " where p.site_id = :s and p.disposition is null and v.window_start <= :today order by p.id limit 200"),
            {"s": site_a, "today": date.today()}).scalars().all()
        a001 = c.execute(text("select id from patients where subject_code = 'A-001'")).scalar()
        single = spread[-1]
    engine.dispose()
    result: dict = {"load_s": load_s, "rates": {}, "latency": {}}
    bare_port, epro_port = free_port(), free_port()
    bare_cmd = [str(VENV / "gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{bare_port}", "bare_app:app"]
    epro_cmd = [str(VENV / "epro"), "serve", "--port", str(epro_port), "--workers", "2"]
    with serving(bare_cmd, env, bare_port, ROOT / "bench") as bare, serving(epro_cmd, env, epro_port, ROOT) as app:
        wrk(bare.url + "/healthz", 2)
        result["floor"] = wrk(bare.url + "/healthz", seconds)
        result["bare_mem"] = memory(bare.workers())
        cookie, token = sign_in(app.url)
        auth = {"Cookie": cookie}
        post = {**auth, "X-CSRFToken": token, "Content-Type": "application/json"}
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        scripts = {}
        for label, ids in (("spread", spread), ("single", [single])):
            path = tmp / f"submit_{label}.lua"
            path.write_text(SUBMIT_LUA % {"ids": ",".join(map(str, ids)), "visit": "M3", "when": when})
            scripts[label] = str(path)
        cases = {
            "/healthz": (app.url + "/healthz", {}, None),
            "submit, spread over 200 patients": (app.url, post, scripts["spread"]),
            "submit, one patient with many responses": (app.url, post, scripts["single"]),
            "API timeline": (f"{app.url}/api/v1/patients/{a001}/timeline", auth, None),
            "site list, 50 rows": (app.url + "/clinic/", auth, None),
            "site list, late filter": (app.url + "/clinic/?filter=late", auth, None),
        }
        for label, (url, headers, script) in cases.items():
            wrk(url, min(2, seconds), headers, script)  # warm-up (and, for one patient, hundreds of responses)
            result["rates"][label] = wrk(url, seconds, headers, script)
        result["epro_mem"] = memory(app.workers())
        for label, url in (("site list", "/clinic/"), ("site list, late filter", "/clinic/?filter=late"),
                           ("timeline page", f"/clinic/patients/{a001}"),
                           ("API timeline", f"/api/v1/patients/{a001}/timeline")):
            result["latency"][label] = sequential(app.url + url, cookie)
    if db == "sqlite":
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--sizes", default="6,5000,20000")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/serve.py needs wrk: apt-get install wrk")
    dbs, sizes = args.db.split(","), [int(s) for s in args.sizes.split(",")]
    results = {(db, size): run_one(db, size, args.seconds) for db in dbs for size in sizes}
    cols = [(db, size) for db in dbs for size in sizes]
    head = " | ".join(f"{db} {size}" for db, size in cols)
    print(f"\n## Requests per second (ratio to the floor), wrk -t2 -c8 -d{args.seconds:g}s, 2 workers\n")
    print(f"| request | target | {head} |")
    print("|---|---|" + "---|" * len(cols))
    print("| floor: bare Flask JSON view | 1 | " + " | ".join(f"{results[c]['floor']:.0f}" for c in cols) + " |")
    for label, target in RATES:
        cells = []
        for c in cols:
            rate, floor = results[c]["rates"][label], results[c]["floor"]
            mark = "" if target is None or rate / floor >= target else " ✗"
            cells.append(f"{rate:.0f} ({rate / floor:.3f}){mark}")
        print(f"| {label} | {'≥ ' + format(target) if target else '—'} | " + " | ".join(cells) + " |")
    print("| memory per worker, RSS / PSS MiB | ≤ 60 | " + " | ".join(
        f"{results[c]['epro_mem'][0]:.0f} / {results[c]['epro_mem'][1]:.0f}" for c in cols) + " |")
    print("| floor's worker, RSS / PSS MiB | — | " + " | ".join(
        f"{results[c]['bare_mem'][0]:.0f} / {results[c]['bare_mem'][1]:.0f}" for c in cols) + " |")
    print("| load `epro demo --patients N`, s | — | " + " | ".join(
        f"{results[c]['load_s']:.1f}" for c in cols) + " |")
    print("\n## One request at a time, median ms (ratio to the smallest cohort; target ≤ 1.2)\n")
    print(f"| request | {head} |")
    print("|---|" + "---|" * len(cols))
    for label in LATENCIES:
        cells = []
        for db, size in cols:
            ms, base = results[(db, size)]["latency"][label], results[(db, sizes[0])]["latency"][label]
            cells.append(f"{ms:.1f} ({ms / base:.2f})")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
