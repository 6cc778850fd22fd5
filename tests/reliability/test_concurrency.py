"""Many phones and a clinic at once: every answer is stored exactly once, none fails.

32 writers, each its own signed-in HTTP session (patient, caregiver and
clinician accounts), send responses to a real gunicorn with two workers.
At three moments every writer sends, behind a barrier, the same response
(same UUID, same body) as the others of its account: one of them must get
201 and the rest 200 with the same stored response.  Each writer also resends
its last response once, as a phone does when the acknowledgement is lost.
Afterwards the database must hold exactly the acknowledged responses, once
each, with one audit event each.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests
from live_epro import (create_events, open_or_past, patient_ids, query, response_body,
                       stored_responses)

WRITERS = 32
UNIQUE_PER_WRITER = 8
#: Before these steps every writer waits at the barrier, then sends its account's shared response.
DUPLICATE_STEPS = (1, 4, 7)
PATIENT_INSTRUMENTS = ("bi", "gds15")


def account_of(writer: int) -> str:
    return ("patient.a1", "caregiver.a1", "clinician.a")[min(writer * 3 // WRITERS, 2)]


def test_concurrent_writers_store_each_acknowledged_response_once(backend, database_uri, servers, clients,
                                                                    tmp_path):
    server = servers(tmp_path / "instance", database_uri).start("demo", workers=2)

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as pool:
        sessions = list(pool.map(lambda w: clients(server.url, account_of(w)), range(WRITERS)))
    login_seconds = time.monotonic() - started

    a001 = patient_ids(sessions[0])["A-001"]
    clinician = next(s for s in sessions if s.username == "clinician.a")
    site_a = patient_ids(clinician)
    clinic_work = [(pid, visit, instrument) for pid in site_a.values()
                   for visit, instrument in open_or_past(clinician, pid)]
    assert len(clinic_work) >= 10, clinic_work
    assert ("M3", "bi") in open_or_past(sessions[0], a001), "patient.a1 should have M3 open for bi"

    def new_body(account: str, rng: random.Random) -> dict:
        if account == "clinician.a":
            pid, visit, instrument = rng.choice(clinic_work)
            return response_body(pid, visit, instrument, "clinician", rng)
        respondent = "patient" if account == "patient.a1" else rng.choice(("caregiver-assisted", "caregiver-proxy"))
        return response_body(a001, "M3", rng.choice(PATIENT_INSTRUMENTS), respondent, rng)

    seed = random.randrange(2**32)
    shared_rng = random.Random(seed)
    shared = {(account, step): new_body(account, shared_rng)
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
            body = new_body(session.username, rng)
            send(session, "unique", body)
        send(session, "retry", body)

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(writer, w) for w in range(WRITERS)]:
            future.result()
    seconds = time.monotonic() - started
    print(f"\n[{backend}] {len(results)} POSTs from {WRITERS} writers in {seconds:.1f} s "
          f"({len(results) / seconds:.0f}/s); {WRITERS} logins in {login_seconds:.1f} s; seed {seed}")

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
    assert {rid: events.get(rid) for rid in new} == {rid: 1 for rid in new}
    (distinct,) = query(server.db_url, "SELECT COUNT(DISTINCT id) FROM responses")[0]
    assert distinct == len(after)

    # And the API shows every one of them.
    listed = {r["id"] for pid in site_a.values()
              for r in clinician.get_json(f"/api/v1/patients/{pid}/responses")["responses"]}
    assert set(new) <= listed
