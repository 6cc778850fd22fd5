"""Where each request's time goes, in process: what bounds the figures of bench/serve.py.

    .venv/bin/python bench/request_costs.py [--db sqlite|postgres] [--patients 5000] [-n 50]

Loads the demo (plus N generated patients) into a fresh database, then runs each request type
of bench/serve.py through the WSGI app in this process (no server, no network) and splits its
CPU time into SQL (the driver's execute and fetch, from SQLAlchemy's cursor events), template
rendering (Flask's template signals) and the rest (Flask, extensions, views, services, ORM
object loading, JSON).  The floor is the bare Flask view of bench/bare_app.py, timed the same
way.  Ratios to the floor here leave out what a server adds to every request alike (gunicorn,
sockets, HTTP parsing), so they are smaller than bench/serve.py's.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "epro-demo-2026"


class Meter:
    """SQL and template time of the requests run while it listens."""

    def __init__(self, engine, app) -> None:
        from flask import before_render_template, template_rendered

        self.sql = self.template = 0.0
        self.statements = 0
        self._sql_start = self._tpl_start = 0.0

        def before_sql(*_args):
            self._sql_start = time.process_time()

        def after_sql(*_args):
            self.sql += time.process_time() - self._sql_start
            self.statements += 1

        def before_tpl(*_args, **_kw):
            self._tpl_start = time.process_time()

        def after_tpl(*_args, **_kw):
            self.template += time.process_time() - self._tpl_start

        event.listen(engine, "before_cursor_execute", before_sql)
        event.listen(engine, "after_cursor_execute", after_sql)
        before_render_template.connect(before_tpl, app, weak=False)
        template_rendered.connect(after_tpl, app, weak=False)

    def reset(self) -> None:
        self.sql = self.template = 0.0
        self.statements = 0


def csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def load(db: str, patients: int) -> None:
    os.environ["EPRO_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="epro-costs-")
    os.environ.setdefault("EPRO_SECRET_KEY", "bench-secret-key-0123456789-0123456789-0123456789")
    os.environ["EPRO_REQUIRE_SECOND_FACTOR"] = "false"
    if db == "postgres":
        from serve import database_uri  # bench/serve.py: a fresh PostgreSQL database per cohort size

        os.environ["EPRO_SQLALCHEMY_DATABASE_URI"] = database_uri("postgres", patients, Path(tempfile.gettempdir()))
    import subprocess

    extra = ["--patients", str(patients)] if patients else []
    subprocess.run([str(Path(sys.executable).with_name("epro")), "demo", "--no-serve", *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    load(args.db, args.patients)

    sys.path.insert(0, str(ROOT / "bench"))
    import bare_app

    from epro.app.factory import create_app
    from epro.base.orm import db

    app = create_app({"SERVING": True})
    with app.app_context():
        engine = db.engine
        a001 = db.session.execute(text("select id from patients where subject_code = 'A-001'")).scalar()
        many = db.session.execute(text(
            "select p.id from patients p join visit_progress v on v.patient_id = p.id and v.visit_code = 'M3'"
            " join sites s on s.id = p.site_id where s.code = 'A' and p.disposition is null"
            " and v.window_start <= current_date and p.subject_code like 'G-%' order by p.id limit 201")
        ).scalars().all()
        many, spread = many[0], many[1:]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "clinician.a", "password": PASSWORD, "csrf_token": csrf(page)})
    token = csrf(client.get("/clinic/").get_data(as_text=True))
    anonymous = app.test_client()

    turn = iter(range(10**9))

    def submit(pids):
        def run():
            body = {"id": str(uuid.uuid4()), "patient_id": pids[next(turn) % len(pids)], "visit": "M3",
                    "instrument": "mrs", "answers": {"MRS0101": 2}, "respondent": "clinician",
                    "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            return client.post("/api/v1/responses", json=body, headers={"X-CSRFToken": token})
        return run

    bare = bare_app.app.test_client()
    cases = {
        "floor: bare Flask JSON view": lambda: bare.get("/healthz"),
        "/healthz": lambda: anonymous.get("/healthz"),
        "submit, spread over 200 patients": submit(spread),
        "submit, one patient with hundreds of responses": submit([many]),
        "API timeline": lambda: client.get(f"/api/v1/patients/{a001}/timeline"),
        "timeline page": lambda: client.get(f"/clinic/patients/{a001}"),
        "site list, 50 rows": lambda: client.get("/clinic/"),
        "site list, late filter": lambda: client.get("/clinic/?filter=late"),
    }
    meter = Meter(engine, app)
    rows = []
    for label, run in cases.items():
        for _ in range(max(5, args.n // 5) if "one patient" not in label else 300):  # warm-up
            # (for one patient: 300 responses before the measured ones)
            answer = run()
            assert answer.status_code < 400, (label, answer.status_code)
        best = None
        for _ in range(5):
            meter.reset()
            start = time.process_time()
            for _ in range(args.n):
                run()
            total = (time.process_time() - start) / args.n
            sample = (total, meter.sql / args.n, meter.template / args.n, meter.statements / args.n)
            best = sample if best is None or sample[0] < best[0] else best
        rows.append((label, *best))
    floor = rows[0][1]
    print(f"\n## CPU per request in process, ms (best of 5 x {args.n}), {args.db}, "
          f"{args.patients} generated patients\n")
    print("| request | total | ratio to floor | SQL (statements) | templates | rest |")
    print("|---|---|---|---|---|---|")
    for label, total, sql, tpl, statements in rows:
        print(f"| {label} | {total * 1000:.2f} | {floor / total:.3f} | {sql * 1000:.2f} ({statements:.0f}) | "
              f"{tpl * 1000:.2f} | {(total - sql - tpl) * 1000:.2f} |")


if __name__ == "__main__":
    main()
