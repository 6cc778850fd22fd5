"""A server killed mid-write (SIGKILL, no clean-up) loses no acknowledged answer.

Writers send responses to a real gunicorn; once enough have been
acknowledged the whole process group is killed with SIGKILL while requests
are in flight.  After a restart on the same database, every response a client
got 201/200 for is stored exactly once.  The unacknowledged ones are what a
phone would retry (same UUID, same body, same session cookie): each retry
gets 201, or 200 if the server had committed it before it died, and ends up
stored once.

Why acknowledged means durable here: epro.responses commits before it
answers.  `epro demo` / `epro serve` run SQLite in WAL mode with
`synchronous = NORMAL` (epro/database.py): a committed transaction is in the
WAL file when COMMIT returns, so it survives the death of the process (this
test) but not necessarily a power cut or an OS crash, for which SQLite
documents `synchronous = FULL`.  PostgreSQL's default (fsync on commit)
survives both.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from live_epro import create_events, open_or_past, patient_ids, query, response_body, stored_responses

WRITERS = 12
#: Kill once this many responses were acknowledged (the writers keep going meanwhile).
KILL_AFTER_ACKS = 60
ACCOUNTS = ("patient.a1", "caregiver.a1", "clinician.a")


def test_sigkill_mid_write_loses_no_acknowledged_response(backend, database_uri, servers, clients, tmp_path):
    instance = tmp_path / "instance"
    server = servers(instance, database_uri).start("demo", workers=2)
    with ThreadPoolExecutor(WRITERS) as pool:
        sessions = list(pool.map(lambda w: clients(server.url, ACCOUNTS[w % 3]), range(WRITERS)))
    a001 = patient_ids(sessions[0])["A-001"]
    clinic_work = open_or_past(sessions[2], a001)
    before = stored_responses(server.db_url)

    seed = random.randrange(2**32)
    outcomes: dict[str, tuple] = {}  # uuid -> (session, body, status or None, error)
    acked = threading.Semaphore(0)
    lock = threading.Lock()

    def writer(w: int) -> None:
        session = sessions[w]
        rng = random.Random(seed * 100 + w)
        while True:
            if session.username == "clinician.a":
                visit, instrument = rng.choice(clinic_work)
                body = response_body(a001, visit, instrument, "clinician", rng)
            else:
                respondent = "patient" if session.username == "patient.a1" else "caregiver-proxy"
                body = response_body(a001, "M3", rng.choice(("bi", "gds15")), respondent, rng)
            try:
                status, error = session.submit(body).status_code, None
            except requests.RequestException as exc:
                status, error = None, type(exc).__name__
            with lock:
                outcomes[body["id"]] = (session, body, status, error)
            if status is None:
                return  # the server is gone
            if status in (200, 201):
                acked.release()
            else:
                return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for _ in range(KILL_AFTER_ACKS):
        assert acked.acquire(timeout=60), "writers stalled before the kill"
    server.kill()
    killed_at = time.monotonic()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    statuses = {rid: o[2] for rid, o in outcomes.items()}
    refused = {rid: s for rid, s in statuses.items() if s is not None and s not in (200, 201)}
    assert not refused, f"error responses before the kill: {refused}"
    acknowledged = {rid for rid, s in statuses.items() if s in (200, 201)}
    unacknowledged = {rid for rid, s in statuses.items() if s is None}
    assert len(acknowledged) >= KILL_AFTER_ACKS

    restarted = servers(instance, database_uri, port=server.port).start("serve", workers=2)
    restart_seconds = time.monotonic() - killed_at
    if backend == "sqlite":
        assert query(restarted.db_url, "PRAGMA integrity_check") == [("ok",)]

    stored = stored_responses(restarted.db_url)
    missing = acknowledged - set(stored)
    assert not missing, f"{len(missing)} acknowledged responses lost in the crash: {sorted(missing)[:5]}"
    events = create_events(restarted.db_url)
    assert all(events.get(rid) == 1 for rid in acknowledged)
    in_doubt = {rid for rid in unacknowledged if rid in stored}  # committed, but the answer never left

    # Retry every unacknowledged response as the phone would: same session, same UUID, same body.
    retried = {}
    for rid in sorted(unacknowledged):
        session, body = outcomes[rid][0], outcomes[rid][1]
        retried[rid] = session.submit(body).status_code
    assert all(s in (200, 201) for s in retried.values()), retried
    assert {rid for rid, s in retried.items() if s == 200} == in_doubt

    final = stored_responses(restarted.db_url)
    new = {rid for rid in final if rid not in before}
    assert new == set(outcomes)
    assert len(final) == len(before) + len(outcomes)
    events = create_events(restarted.db_url)
    assert {rid: events.get(rid) for rid in new} == {rid: 1 for rid in new}
    for rid in new:
        body = outcomes[rid][1]
        assert final[rid][:4] == (body["patient_id"], body["visit"], body["instrument"], body["respondent"])
    assert not restarted.errors_in_log(), restarted.log_tail()
    print(f"\n[{backend}] killed after {len(acknowledged)} acknowledged; {len(unacknowledged)} unacknowledged "
          f"({len(in_doubt)} of them committed before the kill); restart {restart_seconds:.1f} s; seed {seed}")
