"""/api/v1/openapi.json is generated from the app's routes and the pydantic models:
it lists every route, its enums follow the registries, and what the server
answers fits the models the document is made of."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from epro import instruments
from epro.core import protocols, schedule
from epro.models import RESPONDENTS
from epro.web.api import schemas
from epro.web.api.openapi import api_rules, openapi_path

BI = {"feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10, "bladder": 10,
      "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10}


def _body(patient_id, **changes):
    body = {"id": str(uuid.uuid4()), "patient_id": patient_id, "visit": "M3", "instrument": "bi",
            "answers": dict(BI), "respondent": "patient", "completed_at": datetime.now(UTC).isoformat()}
    body.update(changes)
    return body


def test_a_registered_instrument_joins_the_enum_and_the_body_check(client):
    toy = instruments.get("bi")
    import dataclasses

    with instruments.registered(dataclasses.replace(toy, code="toy")):
        enum = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["NewResponse"][
            "properties"]["instrument"]["enum"]
        assert enum[-1] == "toy" and tuple(enum) == instruments.CODES
        assert schemas.NewResponse.model_validate(_body(1, instrument="toy")).instrument == "toy"
    with pytest.raises(ValidationError):
        schemas.NewResponse.model_validate(_body(1, instrument="toy"))


def test_every_api_route_is_described(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    routes = {(openapi_path(r.rule), m.lower()) for r in api_rules(app) for m in r.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == described
    assert len(routes) >= 7 and ("/api/v1/responses", "post") in routes


def test_enums_come_from_the_registries(client):
    components = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    new = components["NewResponse"]["properties"]
    assert tuple(new["instrument"]["enum"]) == instruments.CODES
    assert tuple(components["StoredResponse"]["properties"]["instrument"]["enum"]) == instruments.CODES
    visits = tuple(dict.fromkeys(v.code for p in protocols.all_protocols() for v in p.visits))
    assert tuple(new["visit"]["enum"]) == visits
    assert tuple(new["respondent"]["enum"]) == RESPONDENTS
    statuses = components["ScheduledVisit"]["properties"]["status"]["enum"]
    assert set(statuses) == {schedule.UPCOMING, schedule.OPEN, schedule.COMPLETE, schedule.LATE, schedule.MISSED}
    assert set(new) == set(schemas.NewResponse.model_fields)


def test_answers_fit_the_response_models(login, ids):
    s = login("investigator.a")
    pid = ids["A-001"]
    schemas.Me.model_validate(s.get("/api/v1/me").get_json())
    patient = schemas.Patient.model_validate(s.get(f"/api/v1/patients/{pid}").get_json())
    assert patient.arm is not None  # unblinded: the optional key is there and fits
    schemas.Schedule.model_validate(s.get(f"/api/v1/patients/{pid}/schedule").get_json())
    listed = schemas.ResponseList.model_validate(s.get(f"/api/v1/patients/{pid}/responses").get_json())
    assert listed.responses
    timeline = schemas.Timeline.model_validate(s.get(f"/api/v1/patients/{pid}/timeline").get_json())
    assert any(v.assessments for v in timeline.visits)
    problem = schemas.Problem.model_validate(s.get(f"/api/v1/patients/{ids['B-001']}").get_json())
    assert problem.status == 404


def test_stored_response_fits_its_model(login, ids):
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", _body(ids["A-001"]))
    assert r.status_code == 201, r.get_json()
    assert schemas.StoredResponse.model_validate(r.get_json()).total == 100


def test_new_response_model_is_strict_and_canonical():
    raw = _body(7, id="{" + str(uuid.UUID(int=5)).upper() + "}", extra="ignored")
    new = schemas.NewResponse.model_validate(raw)
    assert new.id == str(uuid.UUID(int=5)) and new.patient_id == 7
    for field, value in (("patient_id", True), ("patient_id", "7"), ("visit", "m3"), ("instrument", "BI"),
                         ("answers", [1]), ("respondent", "nurse"), ("completed_at", "2026-01-01"),
                         ("id", " " * 36)):
        with pytest.raises(ValidationError) as info:
            schemas.NewResponse.model_validate(dict(raw, **{field: value}))
        errors = schemas.NewResponse.field_errors(info.value)
        assert [e.field for e in errors] == [field]
        assert errors[0].message == schemas.NewResponse.MESSAGES[field]


def test_shape_errors_name_every_field_once_in_the_request_language(login, ids):
    s = login("patient.a1")
    body = _body(ids["A-001"], visit=3, respondent=None)
    del body["answers"]
    r = s.client.post("/api/v1/responses?lang=zh", json=body, headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    errors = r.get_json()["errors"]
    assert sorted(e["field"] for e in errors) == ["answers", "respondent", "visit"]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in errors), errors


def test_shape_errors_do_not_reveal_other_patients(login, ids):
    """Another site's patient is "not found" even when the rest of the body is broken."""
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", _body(ids["B-001"], visit="nope"))
    assert r.status_code == 404


def test_a_forbidden_questionnaire_is_403_even_with_shape_errors(login, ids):
    """The service answers 403 before 422; parsing the body first must not change that."""
    s = login("patient.a1")
    r = s.api_post("/api/v1/responses", _body(ids["A-001"], instrument="nihss", id="nope", answers=[]))
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
