"""Never lose an answer: many writers at once, and a server killed mid-write.

One real server per database backend (gunicorn, two workers, via `epro
demo`) with 32 signed-in writers (patient, caregiver and clinician accounts,
each its own HTTP session) is shared by the two tests below; the crash test
runs last because it kills that server.

Concurrency: the 32 writers send responses at once.  At three moments every
writer sends, behind a barrier, the same response (same UUID, same body) as
the others of its account: one of them must get 201 and the rest 200 with the
same stored response.  Each writer also resends its last response once, as a
phone does when the acknowledgement is lost.  No request may fail, and the
database must hold exactly the acknowledged responses, once each, with one
audit event each.

Crash: writers send responses; once enough have been acknowledged the whole
gunicorn process group is killed with SIGKILL while requests are in flight.
After a restart on the same database, every response a client got 201/200
for is stored exactly once.  The unacknowledged ones are what a phone would
retry (same UUID, same body, same session cookie): each retry gets 201, or
200 if the server had committed it before it died, and ends up stored once.

Why acknowledged means durable: epro.services.responses commits before it answers.
`epro demo` / `epro serve` run SQLite in WAL mode with `synchronous = NORMAL`
(epro/base/database.py): a committed transaction is in the WAL file when COMMIT
returns, so it survives the death of the process (this test) but not
necessarily a power cut or an OS crash, for which SQLite documents
`synchronous = FULL`.  PostgreSQL's default (fsync at commit) survives both.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
from live_epro import (
    Client,
    Server,
    create_database,
    create_events,
    drop_database,
    open_or_past,
    patient_ids,
    query,
    response_body,
    stored_responses,
)

WRITERS = 32
UNIQUE_PER_WRITER = 8
#: Before these steps every writer waits at the barrier, then sends its account's shared response.
DUPLICATE_STEPS = (1, 4, 7)
PATIENT_INSTRUMENTS = ("bi", "gds15")
ACCOUNTS = ("patient.a1", "caregiver.a1", "clinician.a")
#: Writers in the crash test (four per account), and when to kill: after this many acknowledgements.
CRASH_WRITERS = 12
KILL_AFTER_ACKS = 40


def account_of(writer: int) -> str:
    return ACCOUNTS[min(writer * 3 // WRITERS, 2)]


@pytest.fixture(scope="module")
def site(backend, tmp_path_factory):
    """A server on a fresh database of *backend* and 32 signed-in writers; stopped after the module."""
    pg_name, uri = create_database("epro_rel") if backend == "postgresql" else (None, None)
    instance = tmp_path_factory.mktemp(f"writers-{backend}") / "instance"
    started: list[Server] = []
    sessions: list[Client] = []

    def start(command: str, port: int | None = None) -> Server:
        server = Server(instance, uri, port)
        started.append(server)
        return server.start(command, workers=2)

    try:
        server = start("demo")
        begin = time.monotonic()
        with ThreadPoolExecutor(WRITERS) as pool:
            sessions.extend(pool.map(lambda w: Client(server.url, account_of(w)), range(WRITERS)))
        login_seconds = time.monotonic() - begin
        a001 = patient_ids(sessions[0])["A-001"]
        clinician = next(s for s in sessions if s.username == "clinician.a")
        site_a = patient_ids(clinician)
        yield SimpleNamespace(
            backend=backend, server=server, start=start, sessions=sessions, login_seconds=login_seconds,
            a001=a001, clinician=clinician, site_a=site_a,
            clinic_work=[(pid, visit, instrument) for pid in site_a.values()
                         for visit, instrument in open_or_past(clinician, pid)],
        )
    finally:
        for session in sessions:
            session.close()
        for server in started:
            server.stop()
        if pg_name:
            drop_database(pg_name)


def new_body(site, account: str, rng: random.Random) -> dict:
    """A valid response this account may send: M3 bi/gds15 for the patient side, anything open for the clinic."""
    if account == "clinician.a":
        pid, visit, instrument = rng.choice(site.clinic_work)
        return response_body(pid, visit, instrument, "clinician", rng)
    respondent = "patient" if account == "patient.a1" else rng.choice(("caregiver-assisted", "caregiver-proxy"))
    return response_body(site.a001, "M3", rng.choice(PATIENT_INSTRUMENTS), respondent, rng)


def test_concurrent_writers_store_each_acknowledged_response_once(site):
    server, sessions, clinician, backend = site.server, site.sessions, site.clinician, site.backend
    assert len(site.clinic_work) >= 10, site.clinic_work
    assert ("M3", "bi") in open_or_past(sessions[0], site.a001), "patient.a1 should have M3 open for bi"

    seed = random.randrange(2**32)
    shared_rng = random.Random(seed)
    shared = {(account, step): new_body(site, account, shared_rng)
              for account in ("patient.a1", "caregiver.a1", "clinician.a") for step in DUPLICATE_STEPS}

    before = stored_responses(server.db_url)
    barrier = threading.Barrier(WRITERS, timeout=120)
    results: list[tuple[str, str, int | None, dict | str]] = []  # (kind, uuid, status, body or error)
    sent: dict[str, dict] = {}

    def send(session, kind: str, body: dict) -> None:
        sent[body["id"]] = body
        try:
            response = session.submit(body)
            results.append((kind, body["id"], response.status_code,
                            response.json() if response.headers.get("content-type", "").endswith("json")
                            else response.text[:300]))
        except requests.RequestException as exc:
            results.append((kind, body["id"], None, repr(exc)))

    def writer(w: int) -> None:
        session = sessions[w]
        rng = random.Random(seed * 1000 + w + 1)
        body = None
        for step in range(UNIQUE_PER_WRITER):
            if step in DUPLICATE_STEPS:
                barrier.wait()
                send(session, "duplicate", shared[(session.username, step)])
            body = new_body(site, session.username, rng)
            send(session, "unique", body)
        send(session, "retry", body)

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(writer, w) for w in range(WRITERS)]:
            future.result()
    seconds = time.monotonic() - started
    print(f"\n[{backend}] {len(results)} POSTs from {WRITERS} writers in {seconds:.1f} s "
          f"({len(results) / seconds:.0f}/s); {WRITERS} logins in {site.login_seconds:.1f} s; seed {seed}")

    # No error responses at all.
    bad = [r for r in results if r[2] not in (200, 201)]
    assert not bad, f"{len(bad)} failed requests (seed {seed}), e.g. {bad[:5]}\n{server.log_tail()}"
    assert not server.errors_in_log(), server.log_tail()

    statuses = defaultdict(list)
    stored_as = defaultdict(set)
    for kind, rid, status, body in results:
        statuses[rid].append((kind, status))
        stored_as[rid].add((body["id"], body["total"], body["received_at"]))
    for rid, seen in statuses.items():
        counts = Counter(status for _, status in seen)
        assert counts[201] == 1 and counts[200] == len(seen) - 1, f"{rid}: {seen}"
        assert len(stored_as[rid]) == 1, f"{rid} acknowledged as different responses: {stored_as[rid]}"
    duplicates = [rid for rid, seen in statuses.items() if seen[0][0] == "duplicate"]
    assert len(duplicates) == 3 * len(DUPLICATE_STEPS)
    assert all(len(statuses[rid]) >= WRITERS // 3 for rid in duplicates)

    # The database holds exactly the acknowledged responses, each once, as sent.
    after = stored_responses(server.db_url)
    new = {rid: row for rid, row in after.items() if rid not in before}
    assert set(new) == set(statuses), (
        f"stored but not acknowledged: {sorted(set(new) - set(statuses))[:5]}; "
        f"acknowledged but not stored: {sorted(set(statuses) - set(new))[:5]}")
    assert len(after) == len(before) + len(statuses)
    for rid, (pid, visit, instrument, respondent, total) in new.items():
        body = sent[rid]
        assert (pid, visit, instrument, respondent) == (
            body["patient_id"], body["visit"], body["instrument"], body["respondent"])
        assert total == next(iter(stored_as[rid]))[1]
    events = create_events(server.db_url)
    assert {rid: events.get(rid) for rid in new} == dict.fromkeys(new, 1)
    (distinct,) = query(server.db_url, "SELECT COUNT(DISTINCT id) FROM responses")[0]
    assert distinct == len(after)

    # And the API shows every one of them.
    listed = {r["id"] for pid in site.site_a.values()
              for r in clinician.get_json(f"/api/v1/patients/{pid}/responses")["responses"]}
    assert set(new) <= listed


def test_sigkill_mid_write_loses_no_acknowledged_response(site):
    """Runs after the concurrency test: it kills the module's server."""
    server, backend = site.server, site.backend
    per_account = CRASH_WRITERS // len(ACCOUNTS)
    sessions = [s for account in ACCOUNTS for s in [s for s in site.sessions if s.username == account][:per_account]]
    before = stored_responses(server.db_url)

    seed = random.randrange(2**32)
    outcomes: dict[str, tuple] = {}  # uuid -> (session, body, status or None, error)
    acked = threading.Semaphore(0)
    lock = threading.Lock()

    def writer(w: int) -> None:
        session = sessions[w]
        rng = random.Random(seed * 100 + w)
        while True:
            body = new_body(site, session.username, rng)
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

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(len(sessions))]
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

    restarted = site.start("serve", port=server.port)
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
    assert {rid: events.get(rid) for rid in new} == dict.fromkeys(new, 1)
    for rid in new:
        body = outcomes[rid][1]
        assert final[rid][:4] == (body["patient_id"], body["visit"], body["instrument"], body["respondent"])
    assert not restarted.errors_in_log(), restarted.log_tail()
    print(f"\n[{backend}] killed after {len(acknowledged)} acknowledged; {len(unacknowledged)} unacknowledged "
          f"({len(in_doubt)} of them committed before the kill); restart {restart_seconds:.1f} s; seed {seed}")
