"""Hostile and broken input to the JSON API: always a problem+json answer, never a 500.

Schemathesis generates requests from /api/v1/openapi.json (valid ones and,
in its negative mode, ones that break the schema) and sends them to a real
`epro demo` server as patient.a1 with the CSRF header, and checks every
answer against the description too (status code, content type, body
schema).  Three in four generated bodies and paths are steered to the
patient's own id and half of the bodies to a valid M3 answer set, so the
requests get past "not found" into validation, scoring and storage.  The targeted tests below cover what a
generator finds only by luck.
"""
from __future__ import annotations

import json
import random
import re
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_epro import Client, Server, create_database, drop_database, patient_ids, query, response_body
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from epro.base.config import Defaults
from epro.core import instruments

#: Per operation, mode (positive, negative) and backend: 6 operations x 2 x 35 = 420 requests per backend.
MAX_EXAMPLES = 35
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_CONTENT_LENGTH = Defaults.MAX_CONTENT_LENGTH


@pytest.fixture(scope="module")
def live(backend, tmp_path_factory):
    """A demo server on *backend* and patient.a1 signed in, for the whole module."""
    pg_name, uri = create_database("epro_fuzz") if backend == "postgresql" else (None, None)
    server = Server(tmp_path_factory.mktemp(f"fuzz-{backend}") / "instance", uri)
    client = None
    try:
        server.start("demo", workers=2)
        client = Client(server.url, "patient.a1")
        yield SimpleNamespace(server=server, client=client, pid=patient_ids(client)["A-001"])
    finally:
        if client is not None:
            client.close()
        server.stop()
        if pg_name:
            drop_database(pg_name)


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def count_responses(live) -> int:
    return query(live.server.db_url, "SELECT COUNT(*) FROM responses")[0][0]


# ---- the description and the fuzzer ---------------------------------------------------------------

def test_openapi_json_is_valid_openapi_3_1(live):
    schema = schemathesis.openapi.from_url(live.server.url + "/api/v1/openapi.json")
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert schema.raw_schema["openapi"].startswith("3.1.")
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert {"POST /api/v1/responses", "GET /api/v1/me", "GET /api/v1/patients/{patient_id}/timeline"} <= operations


def _valid_answers(code: str):
    return st.fixed_dictionaries({item.key: st.sampled_from([c.value for c in item.choices])
                                  for item in instruments.get(code).items})


def _steered(strategy, pid: int):
    """Most cases aim at the patient's own id; half of the bodies become a valid M3 answer set."""
    answers = st.one_of(*[st.tuples(st.just(code), _valid_answers(code)) for code in ("bi", "gds15")])

    def steer(args):
        case, own_id, valid = args
        if own_id and case.path_parameters and "patient_id" in case.path_parameters:
            case.path_parameters["patient_id"] = pid
        if isinstance(case.body, dict):
            if own_id:
                case.body["patient_id"] = pid
            if valid is not None:
                case.body["instrument"], case.body["answers"] = valid
                case.body.update(visit="M3", respondent="patient")
        return case

    return st.tuples(strategy, st.sampled_from([True, True, True, False]), st.none() | answers).map(steer)


def _fuzzer(strategy, live, headers: dict[str, str], statuses: dict[int, int]):
    """One Hypothesis test per operation and mode, counting into its own ``statuses``.

    Built by a function so each test binds its own strategy and counter (a closure
    defined in the loop would see only the loop's last values once it runs later).
    """

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=strategy)
    def run(case):
        response = case.call(base_url=live.server.url, session=live.client.http, headers=headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    return run


SCRIPT = "<script>alert('x')</script>"


def test_markup_in_the_web_questionnaire_is_escaped_on_output(live):
    """The no-JavaScript form echoes what was sent (on the page after its redirect); Jinja must escape it.
    It runs before the fuzzing, which may answer the GDS-15 (an answered questionnaire opens as answered)."""
    url = f"{live.server.url}/patients/{live.pid}/visits/M3/gds15"
    page = live.client.http.get(url)
    assert page.status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    response = live.client.http.post(url, data={
        "csrf_token": token, "GDS0201": SCRIPT, "GDS0202": '"><img src=x onerror=alert(1)>',
        "response_id": '"><script>alert(2)</script>', "completed_at": SCRIPT,
    })
    assert [r.status_code for r in response.history] == [303]  # post–redirect–get
    assert response.status_code == 422, response.status_code
    assert "<script>alert(" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script&gt;" in response.text


def test_fuzzed_requests_get_no_server_error(live):
    schema = schemathesis.openapi.from_url(live.server.url + "/api/v1/openapi.json")
    headers = {"X-CSRFToken": live.client.csrf}
    failures: list[str] = []
    seen: dict[str, dict[int, int]] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} ({mode.value})"
            strategy = _steered(operation.as_strategy(generation_mode=mode), live.pid)
            run = _fuzzer(strategy, live, headers, seen.setdefault(label, {}))
            try:
                run()
            except Exception as exc:
                failures.append(f"{label}: {exc}")
    seconds = time.monotonic() - started
    total = sum(sum(s.values()) for s in seen.values())
    print(f"\nschemathesis: {total} requests in {seconds:.1f} s; statuses per operation: {seen}")
    assert not failures, "\n\n".join(failures)
    assert not live.server.errors_in_log(), live.server.log_tail()
    posts = {**seen["POST /api/v1/responses (positive)"]}
    assert posts.get(201, 0) > 0 and posts.get(422, 0) > 0, f"the fuzzer never got deep enough: {posts}"


# ---- targeted -------------------------------------------------------------------------------------

def _body(live, **changes):
    body = response_body(live.pid, "M3", "bi", "patient", random.Random())
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_oversize_body_is_413_problem(live):
    """Each oversize request goes on a new connection: gunicorn drains at most 64 KiB of a body the
    app did not read, then closes the keep-alive connection, so the *next* request on it would fail."""
    before = count_responses(live)
    big = _body(live)
    big["answers"]["padding"] = "x" * (MAX_CONTENT_LENGTH + 1)
    data = json.dumps(big).encode()

    def chunks():  # chunked (no Content-Length): Werkzeug alone would cut the body at the limit
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    for payload in (data, chunks()):
        with requests.Session() as http:
            http.cookies.update(live.client.http.cookies)
            response = http.post(live.server.url + "/api/v1/responses", data=payload, timeout=30,
                                 headers={"Content-Type": "application/json", "X-CSRFToken": live.client.csrf})
            problem_of(response, 413)
    # A chunked body under the limit is fine.
    small = json.dumps(_body(live)).encode()
    response = live.client.post("/api/v1/responses", data=iter([small[:50], small[50:]]),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert count_responses(live) == before + 1


def test_not_json_or_too_deep_is_400_problem(live):
    for data in (b"", b"not json", b"[1, 2]", b'"text"', b"null", b"[" * 50_000 + b"]" * 50_000,
                 b'{"a": ' * 20_000 + b"1" + b"}" * 20_000, b"\xff\xfe\x00"):
        problem_of(live.client.post("/api/v1/responses", data=data,
                                    headers={"Content-Type": "application/json"}), 400)
    problem_of(live.client.post("/api/v1/responses", data="id=1",
                                headers={"Content-Type": "application/x-www-form-urlencoded"}), 400)


WRONG_TYPES = [None, True, 123456, 1.5, -1, "", "x", [], ["M3"], {}, {"a": 1}]


@pytest.mark.parametrize("field", ["id", "patient_id", "visit", "instrument", "answers", "respondent",
                                   "completed_at"])
def test_every_wrong_type_of_every_field_is_422_naming_it(live, field):
    before = count_responses(live)
    for value in WRONG_TYPES:
        if field == "patient_id" and type(value) is int:
            # An id of no visible patient is "not found", as for every other patient.
            problem_of(live.client.submit(_body(live, patient_id=value)), 404)
            continue
        if field == "completed_at" and value is None:
            continue  # optional: the server's time is used
        body = problem_of(live.client.submit(_body(live, **{field: value})), 422)
        fields = {e["field"] for e in body["errors"]}
        assert field in fields or any(f.startswith(field + ".") for f in fields), (field, value, body)
    assert count_responses(live) == before


def test_missing_fields_are_422(live):
    for field in ("id", "visit", "instrument", "answers", "respondent"):
        body = problem_of(live.client.submit(_body(live, **{field: ...})), 422)
        assert field in {e["field"] for e in body["errors"]}
    problem_of(live.client.submit(_body(live, patient_id=...)), 422)


@pytest.mark.parametrize("changes, field", [
    ({"visit": "M4"}, "visit"),
    ({"visit": "m3"}, "visit"),
    ({"instrument": "phq9"}, "instrument"),
    ({"instrument": "BI"}, "instrument"),
    ({"respondent": "nurse"}, "respondent"),
    ({"respondent": "clinician"}, "respondent"),
    ({"answers": {"feeding": 10, "unknown_item": 1}}, "answers.unknown_item"),
    ({"answers": {"feeding": 7}}, "answers.feeding"),
    ({"answers": {"feeding": 10.0}}, "answers.feeding"),
    ({"answers": {"feeding": True}}, "answers.feeding"),
    ({"answers": {"feeding": None}}, "answers.feeding"),
    ({"answers": {"feeding": 2**80}}, "answers.feeding"),
])
def test_unknown_codes_and_answers_are_422_naming_them(live, changes, field):
    body = problem_of(live.client.submit(_body(live, **changes)), 422)
    assert field in {e["field"] for e in body["errors"]}, body


def test_impossible_patient_ids_are_404(live):
    for pid in (0, -5, 2**31, 2**40, 2**63, 2**80, -(2**80)):
        problem_of(live.client.submit(_body(live, patient_id=pid)), 404)
    for path in (f"/api/v1/patients/{2**31}", f"/api/v1/patients/{2**40}/schedule",
                 f"/api/v1/patients/{10**40}/responses", f"/api/v1/patients/{2**64}/timeline"):
        problem_of(live.client.http.get(live.server.url + path), 404)


@pytest.mark.parametrize("value", [
    "not-a-uuid", "", "1234", "g" * 32, "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-4266141740000",
    "123e4567-e89b-12d3-a456-42661417400z", " " * 36, "<script>alert(1)</script>", "\u0000" * 36,
])
def test_malformed_uuids_are_422(live, value):
    body = problem_of(live.client.submit(_body(live, id=value)), 422)
    assert "id" in {e["field"] for e in body["errors"]}


def test_uuid_spellings_are_one_response(live):
    """Upper case, braces and urn: name the same UUID, so a retry in any of them is the same response."""
    body = _body(live)
    first = live.client.submit(body)
    assert first.status_code == 201, first.text
    for spelling in (body["id"].upper(), "{" + body["id"] + "}", "urn:uuid:" + body["id"]):
        again = live.client.submit({**body, "id": spelling})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == body["id"]


@pytest.mark.parametrize("value", [
    "2026-01-01", "2026-01-01T10:00:00", "01/02/2026 10:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-01-01T25:00:00Z", "yesterday", "2026-01-01T10:00:00+25:00", "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00", "2999-01-01T00:00:00Z", "1700000000",
])
def test_dates_in_the_wrong_format_or_range_are_422(live, value):
    body = problem_of(live.client.submit(_body(live, completed_at=value)), 422)
    assert "completed_at" in {e["field"] for e in body["errors"]}


@pytest.mark.parametrize("completed_at", ["2026-01-01T10:00:00Z", "2026-01-01T18:00:00+08:00",
                                          "2026-01-01T10:00:00.123456+00:00"])
def test_rfc3339_dates_are_accepted(live, completed_at):
    response = live.client.submit(_body(live, completed_at=completed_at))
    assert response.status_code == 201, response.text


def test_markup_in_api_fields_is_refused_as_json_never_html(live):
    before = count_responses(live)
    for changes in ({"respondent": SCRIPT}, {"visit": SCRIPT}, {"instrument": SCRIPT},
                    {"answers": {SCRIPT: 1, "feeding": SCRIPT}}, {"completed_at": SCRIPT}):
        response = live.client.submit(_body(live, **changes))
        problem_of(response, 422)
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
        assert "text/html" not in response.headers["Content-Type"]
    assert count_responses(live) == before


def test_nothing_unexpected_was_logged(live):
    assert not live.server.errors_in_log(), live.server.log_tail()


def test_uuid_is_stored_in_canonical_form(live):
    rid = str(uuid.uuid4())
    response = live.client.submit(_body(live, id=rid.upper()))
    assert response.status_code == 201
    assert query(live.server.db_url, "SELECT id FROM responses WHERE id = :id", id=rid) == [(rid,)]
