"""How the clinician's site list and a timeline scale with the number of patients.

Builds a fresh SQLite database (or the one in EPRO_BENCH_DATABASE_URI), loads
the demo, measures; adds N generated patients (default 5000), measures again.
Prints a table: median time of 5 requests and the number of SQL queries.

    .venv/bin/python bench/clinic_list.py [N]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from sqlalchemy import event

from epro import create_app
from epro.base.orm import db

PASSWORD = "epro-demo-2026"


def measure(client, url: str, counter: list[int], runs: int = 5) -> tuple[float, int, int]:
    times, queries = [], 0
    for _ in range(runs):
        counter[0] = 0
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        queries = counter[0]
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times) * 1000, queries, len(response.data)


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    tmp = tempfile.mkdtemp()
    os.environ.setdefault("EPRO_INSTANCE_PATH", tmp)
    uri = os.environ.get("EPRO_BENCH_DATABASE_URI", f"sqlite:///{tmp}/bench.db")
    app = create_app({"SECRET_KEY": "bench-secret-key-0123456789-0123456789", "SQLALCHEMY_DATABASE_URI": uri,
                      "WTF_CSRF_ENABLED": False})
    counter = [0]
    with app.app_context():
        from flask_migrate import upgrade

        from epro.app import demo

        upgrade()
        demo.load()

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_args):
            counter[0] += 1

        a1 = db.session.execute(db.text("select id from patients where subject_code='A-001'")).scalar()
    client = app.test_client()
    client.post("/login", data={"username": "clinician.a", "password": PASSWORD})
    urls = {"site list": "/clinic/", "site list, late filter": "/clinic/?filter=late",
            "site list, by next visit": "/clinic/?sort=next_visit", "timeline A-001": f"/clinic/patients/{a1}",
            "API timeline A-001": f"/api/v1/patients/{a1}/timeline"}
    rows = []
    for label, url in urls.items():
        rows.append(("demo only", label, *measure(client, url, counter)))
    with app.app_context():
        start = time.perf_counter()
        print(demo.generate(extra).strip(), f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        patients = db.session.execute(db.text("select count(*) from patients")).scalar()
    for label, url in urls.items():
        rows.append((f"{patients} patients", label, *measure(client, url, counter)))
    print(f"{'database':<16} {'page':<26} {'median ms':>10} {'queries':>8} {'bytes':>8}")
    for scale, label, ms, queries, size in rows:
        print(f"{scale:<16} {label:<26} {ms:>10.1f} {queries:>8} {size:>8}")


if __name__ == "__main__":
    main()
