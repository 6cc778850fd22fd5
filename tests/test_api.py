"""The JSON API of CONTRACT.md: shapes, idempotency, errors and access."""
import uuid
from datetime import UTC

import pytest

BI_ALL_MAX = {"feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10, "bladder": 10,
              "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10}
GDS_ALL_NO = {f"GDS02{n:02d}": "NO" for n in range(1, 16)}


def bi_body(patient_id, **overrides):
    body = {"id": str(uuid.uuid4()), "patient_id": patient_id, "visit": "M3", "instrument": "bi",
            "answers": dict(BI_ALL_MAX), "respondent": "patient", "completed_at": "2026-01-01T10:00:00+08:00"}
    body.update(overrides)
    return body


@pytest.fixture
def now_body(app):
    """completed_at must not be in the future; use the server's today."""
    from datetime import datetime

    return datetime.now(UTC).isoformat()


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
    # Answered before Flask (epro.app.health): no session cookie, never cached, nothing to sniff.
    assert "Set-Cookie" not in r.headers and r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.mimetype == "application/json"
    head = client.head("/healthz")
    assert head.status_code == 200 and head.data == b""
    refused = client.post("/healthz")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"  # a look, never a change


@pytest.mark.sqlite_only
def test_healthz_says_503_when_the_database_does_not_answer(tmp_path, db_backend):
    from support.web import _config

    from epro import create_app

    app = create_app(_config("sqlite:///" + str(tmp_path / "no-such-folder" / "epro.db")))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json() == {"status": "unavailable"}
    assert r.headers["Cache-Control"] == "no-store"


def test_me_lists_only_visible_patients(login, ids):
    me = login("patient.a1").get("/api/v1/me").get_json()
    assert me["username"] == "patient.a1" and me["role"] == "patient"
    assert [p["subject_code"] for p in me["patients"]] == ["A-001"]
    assert me["locale"] == "zh"
    care = login("caregiver.a1").get("/api/v1/me").get_json()
    assert [p["subject_code"] for p in care["patients"]] == ["A-001"]
    clin = login("clinician.a").get("/api/v1/me").get_json()
    codes = {p["subject_code"] for p in clin["patients"]}
    assert "A-001" in codes and not any(c.startswith("B-") for c in codes)


def test_anonymous_api_gets_problem_json(client, ids):
    r = client.get(f"/api/v1/patients/{ids['A-001']}")
    assert r.status_code == 401
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 401


@pytest.mark.parametrize("username", ["patient.a2", "patient.b1", "clinician.b"])
def test_others_get_404_for_a1(login, ids, username):
    s = login(username)
    for suffix in ("", "/schedule", "/responses", "/timeline"):
        r = s.get(f"/api/v1/patients/{ids['A-001']}{suffix}")
        assert r.status_code == 404, suffix
        assert r.mimetype == "application/problem+json"
        assert "A-001" not in r.get_data(as_text=True)


def test_arm_only_for_unblinded(login, ids):
    masked = login("clinician.a").get(f"/api/v1/patients/{ids['A-001']}").get_json()
    assert "arm" not in masked and masked["subject_code"] == "A-001"
    unblinded = login("investigator.a").get(f"/api/v1/patients/{ids['A-001']}").get_json()
    assert unblinded["arm"]["code"] == "low"
    own = login("patient.a1").get(f"/api/v1/patients/{ids['A-001']}").get_json()
    assert "arm" not in own


def test_schedule_shape_and_m3_open(login, ids):
    data = login("patient.a1").get(f"/api/v1/patients/{ids['A-001']}/schedule").get_json()
    visits = {v["code"]: v for v in data["visits"]}
    assert list(visits) == ["BL", "M1", "M3", "M6", "M9", "M12"]
    assert visits["BL"]["status"] == "complete" and visits["M1"]["status"] == "complete"
    assert visits["M3"]["status"] == "open"
    m3 = {i["code"]: i["status"] for i in visits["M3"]["instruments"]}
    assert m3 == {"bi": "due", "gds15": "due", "nihss": "due", "mrs": "due", "mmse": "due"}
    assert visits["M6"]["status"] == "upcoming"
    assert all(i["status"] == "not-due" for i in visits["M6"]["instruments"])


def test_post_response_is_idempotent(login, ids, now_body):
    s = login("patient.a1")
    body = bi_body(ids["A-001"], completed_at=now_body)
    first = s.api_post("/api/v1/responses", body)
    assert first.status_code == 201, first.get_json()
    stored = first.get_json()
    assert stored["total"] == 100 and stored["id"] == body["id"] and stored["counts"] is True
    again = s.api_post("/api/v1/responses", body)
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    changed = dict(body, answers=dict(BI_ALL_MAX, stairs=5))
    conflict = s.api_post("/api/v1/responses", changed)
    assert conflict.status_code == 409 and conflict.mimetype == "application/problem+json"
    listed = s.get(f"/api/v1/patients/{ids['A-001']}/responses").get_json()["responses"]
    assert [r["id"] for r in listed].count(body["id"]) == 1


def test_repeat_kept_first_counts(login, ids, now_body):
    s = login("patient.a1")
    first = s.api_post("/api/v1/responses", bi_body(ids["A-001"], completed_at=now_body))
    second_body = bi_body(ids["A-001"], answers=dict(BI_ALL_MAX, feeding=5), completed_at=now_body)
    second = s.api_post("/api/v1/responses", second_body)
    assert first.status_code == 201 and second.status_code == 201
    assert second.get_json()["counts"] is False
    listed = {r["id"]: r for r in s.get(f"/api/v1/patients/{ids['A-001']}/responses").get_json()["responses"]}
    assert listed[first.get_json()["id"]]["counts"] is True
    assert listed[second_body["id"]]["total"] == 95 and listed[second_body["id"]]["counts"] is False


def test_invalid_answers_named(login, ids, now_body):
    s = login("patient.a1")
    body = bi_body(ids["A-001"], answers=dict(BI_ALL_MAX, transfers=12, stairs=True), completed_at=now_body)
    del body["answers"]["feeding"]
    r = s.api_post("/api/v1/responses", body)
    assert r.status_code == 422
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert {"answers.transfers", "answers.stairs", "answers.feeding"} <= fields


@pytest.mark.parametrize("field,value", [
    ("visit", "M4"), ("instrument", "foo"), ("respondent", "neighbour"), ("id", "not-a-uuid"),
    ("completed_at", "yesterday"), ("completed_at", "2026-13-45T00:00:00Z"), ("answers", [1, 2]),
    ("completed_at", "2999-01-01T00:00:00Z"),
])
def test_invalid_fields_422(login, ids, now_body, field, value):
    s = login("patient.a1")
    body = bi_body(ids["A-001"], completed_at=now_body)
    body[field] = value
    r = s.api_post("/api/v1/responses", body)
    assert r.status_code == 422, r.get_json()
    assert field in {e["field"] for e in r.get_json()["errors"]}


def test_errors_in_request_language(login, ids, now_body):
    s = login("patient.a1")
    body = bi_body(ids["A-001"], completed_at=now_body, visit="M4")
    zh = s.client.post("/api/v1/responses?lang=zh", json=body, headers={"X-CSRFToken": s.csrf}).get_json()
    en = s.client.post("/api/v1/responses?lang=en", json=body, headers={"X-CSRFToken": s.csrf}).get_json()
    assert en["errors"][0]["message"] != zh["errors"][0]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["detail"])


def test_patient_cannot_submit_nihss(login, ids, now_body):
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", bi_body(ids["A-001"], instrument="nihss", answers={}, completed_at=now_body))
    assert r.status_code == 403


def test_not_yet_open_visit_rejected(login, ids, now_body):
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", bi_body(ids["A-001"], visit="M6", completed_at=now_body))
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "visit"


def test_csrf_required_for_api(login, ids, now_body):
    s = login("patient.a1")
    r = s.client.post("/api/v1/responses", json=bi_body(ids["A-001"], completed_at=now_body))
    assert r.status_code == 400 and r.mimetype == "application/problem+json"


def test_unknown_patient_submission_404(login, ids, now_body):
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", bi_body(ids["B-001"], completed_at=now_body))
    assert r.status_code == 404


@pytest.mark.parametrize("raw", [b"", b"[]", b"{not json", b'"text"', b"null"])
def test_malformed_bodies_never_500(login, raw):
    s = login("patient.a1")
    r = s.client.post("/api/v1/responses", data=raw, content_type="application/json",
                      headers={"X-CSRFToken": s.csrf})
    assert 400 <= r.status_code < 500


def test_caregiver_proxy_gds(login, ids, now_body):
    s = login("caregiver.a1")
    body = {"id": str(uuid.uuid4()), "patient_id": ids["A-001"], "visit": "M3", "instrument": "gds15",
            "answers": dict(GDS_ALL_NO), "respondent": "caregiver-proxy", "completed_at": now_body}
    r = s.api_post("/api/v1/responses", body)
    assert r.status_code == 201
    data = r.get_json()
    assert data["total"] == 5 and "proxy" in data["flags"] and "depression" in data["flags"]
    assert s.api_post("/api/v1/responses", dict(body, id=str(uuid.uuid4()), respondent="patient")).status_code == 422


def test_timeline_has_change_from_baseline(login, ids):
    data = login("clinician.a").get(f"/api/v1/patients/{ids['A-001']}/timeline").get_json()
    assert data["patient"]["subject_code"] == "A-001" and "arm" not in data["patient"]
    visits = {v["code"]: v for v in data["visits"]}
    bl = {a["instrument"]: a for a in visits["BL"]["assessments"]}
    m1 = {a["instrument"]: a for a in visits["M1"]["assessments"]}
    assert set(bl) == {"bi", "gds15", "nihss", "mrs", "mmse"}
    for code in bl:
        assert bl[code]["change_from_baseline"] == 0
        assert m1[code]["change_from_baseline"] == m1[code]["total"] - bl[code]["total"]


def test_openapi_lists_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/v1/me", "/api/v1/patients/{patient_id}", "/api/v1/patients/{patient_id}/schedule",
                 "/api/v1/responses", "/api/v1/patients/{patient_id}/responses",
                 "/api/v1/patients/{patient_id}/timeline"):
        assert path in spec["paths"]


@pytest.mark.parametrize("lang, words", [("en", {"Done", "Open now", "Late – can still answer", "Upcoming"}),
                                         ("zh", {"已完成", "可以填写", "已逾期，仍可填写", "未开始"})])
def test_statuses_carry_the_one_vocabulary_in_the_readers_language(login, ids, lang, words):
    """Visit and questionnaire states in the words patients and staff see (epro.core.labels.VISIT_STATUS)."""
    from epro.core import labels

    s = login("clinician.a")
    a1 = ids["A-001"]
    visits = s.get(f"/api/v1/patients/{a1}/schedule?lang={lang}").get_json()["visits"]
    seen = {v["status_label"] for v in visits} | {i["status_label"] for v in visits for i in v["instruments"]}
    assert seen & words, seen
    for v in visits:
        english = {"upcoming": "Upcoming", "open": "Open now", "complete": "Done", "late": "Done late",
                   "missed": "Late – can still answer", "ended": "Closed"}[v["status"]]
        assert labels.VISIT_STATUS[v["status"]] == english
        if lang == "en":
            assert v["status_label"] == english
        # A questionnaire still to answer in a visit whose window closed says what the visit says.
        for i in v["instruments"]:
            if v["status"] == "missed" and i["status"] == "due":
                assert i["status_label"] == v["status_label"]
    timeline = s.get(f"/api/v1/patients/{a1}/timeline?lang={lang}").get_json()["visits"]
    assert [v["status_label"] for v in timeline] == [v["status_label"] for v in visits]
