"""How long each export format takes for the demo with N generated patients (default 5000).

Builds a fresh SQLite database (or the one in EPRO_BENCH_DATABASE_URI), loads
the demo and N generated patients, then exports the largest study in every
format, masked, as the data manager would.  Prints one table: seconds (median
of EPRO_BENCH_RUNS runs, default 3) on the clock and of this process's CPU
(the fair figure when other work shares the machine), files, rows, bytes and
the peak of Python memory during one more run (tracemalloc, timed apart).
Target (issue 10): ≤ 10 s per format on a 2-core machine.

    .venv/bin/python bench/exports.py [N]
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import func, select

from epro import create_app
from epro.base.orm import db


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    runs = int(os.environ.get("EPRO_BENCH_RUNS", "3"))
    tmp = Path(tempfile.mkdtemp())
    os.environ.setdefault("EPRO_INSTANCE_PATH", str(tmp))
    uri = os.environ.get("EPRO_BENCH_DATABASE_URI", f"sqlite:///{tmp}/bench.db")
    app = create_app({"SECRET_KEY": "bench-secret-key-0123456789-0123456789", "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        from flask_migrate import upgrade

        from epro.app import demo
        from epro.models import Patient, Response, Study, User
        from epro.services import exports

        upgrade()
        demo.load()
        start = time.perf_counter()
        print(demo.generate(extra).strip(), f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        study_id, patients = db.session.execute(
            select(Patient.study_id, func.count()).group_by(Patient.study_id).order_by(func.count().desc())
        ).first()
        study = db.session.get(Study, study_id)
        responses = db.session.scalar(
            select(func.count()).select_from(Response).join(Patient).where(Patient.study_id == study_id))
        actor = db.session.scalar(select(User).where(User.username == "datamanager"))
        print(f"study {study.code}: {patients} patients, {responses} responses", file=sys.stderr)
        rows = []
        for fmt in exports.FORMATS:
            times, cpu = [], []
            out = tmp / f"out-{fmt}"
            for _ in range(runs):
                shutil.rmtree(out, ignore_errors=True)
                begin, begin_cpu = time.perf_counter(), time.process_time()
                result = exports.run(study.code, fmt, out, actor=actor, unblinded=False)
                times.append(time.perf_counter() - begin)
                cpu.append(time.process_time() - begin_cpu)
                db.session.commit()
            # Memory in a run of its own: tracing slows Python down and would distort the times.
            shutil.rmtree(out, ignore_errors=True)
            tracemalloc.start()
            exports.run(study.code, fmt, out, actor=actor, unblinded=False)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            db.session.commit()
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            files = sum(1 for p in out.rglob("*") if p.is_file())
            rows.append((fmt, statistics.median(times), statistics.median(cpu), files,
                         sum(result.counts.values()), size, peak))
    print(f"{'format':<8} {'seconds':>8} {'cpu s':>6} {'files':>6} {'rows':>10} {'MB':>8} {'peak MiB':>9}"
          f" {'≤ 10 s':>7}")
    for fmt, seconds, cpu_seconds, files, count, size, peak in rows:
        print(f"{fmt:<8} {seconds:>8.2f} {cpu_seconds:>6.2f} {files:>6} {count:>10} {size / 1e6:>8.1f}"
              f" {peak / 2**20:>9.0f} {'yes' if seconds <= 10 else 'NO':>7}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
