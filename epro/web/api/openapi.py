"""The OpenAPI 3.1 description of /api/v1, built from plain dicts."""
from __future__ import annotations

from typing import Any

from epro import __version__
from epro.core.schedule import VISIT_CODES
from epro.models import RESPONDENTS

INSTRUMENT_CODES = ["bi", "gds15", "nihss", "mrs", "mmse", "gds30"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PROBLEM = {"description": "Problem details (RFC 9457)",
           "content": {"application/problem+json": {"schema": _ref("Problem")}}}
PATIENT_ID = {"name": "patient_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _patient_get(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": [PATIENT_ID],
                    "responses": {"200": _json(schema, "OK"), "401": PROBLEM, "404": PROBLEM}}}


def spec() -> dict[str, Any]:
    answer_value = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "epro API", "version": __version__,
                 "description": "Patient-reported and clinician-rated outcomes on one follow-up timeline. "
                                "Uses the web session cookie; state-changing calls send X-CSRFToken."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {
                "Problem": {"type": "object", "required": ["status", "title", "detail"], "properties": {
                    "type": {"type": "string"}, "status": {"type": "integer"}, "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "message": {"type": "string"}}}}}},
                "Me": {"type": "object", "required": ["username", "role", "locale", "patients"], "properties": {
                    "username": {"type": "string"}, "role": {"type": "string"},
                    "locale": {"type": "string", "enum": ["zh", "en"]},
                    "patients": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "subject_code": {"type": "string"}}}}}},
                "Patient": {"type": "object", "required": ["id", "subject_code", "study", "site", "day0"],
                            "properties": {
                                "id": {"type": "integer"}, "subject_code": {"type": "string"},
                                "study": {"type": "object"}, "site": {"type": "object"},
                                "day0": {"type": "string", "format": "date"},
                                "enrolled_on": {"type": "string", "format": "date"},
                                "arm": {"type": "object", "description": "Only for users allowed to see arms."}}},
                "Schedule": {"type": "object", "properties": {"visits": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "code": {"type": "string", "enum": list(VISIT_CODES)},
                        "target_date": {"type": "string", "format": "date"},
                        "window_start": {"type": "string", "format": "date"},
                        "window_end": {"type": "string", "format": "date"},
                        "status": {"type": "string", "enum": ["upcoming", "open", "complete", "late", "missed"]},
                        "instruments": {"type": "array", "items": {"type": "object", "properties": {
                            "code": {"type": "string"},
                            "status": {"type": "string", "enum": ["due", "done", "not-due"]}}}}}}}}},
                "NewResponse": {"type": "object",
                                "required": ["id", "patient_id", "visit", "instrument", "answers", "respondent"],
                                "properties": {
                                    "id": {"type": "string", "format": "uuid"},
                                    "patient_id": {"type": "integer"},
                                    "visit": {"type": "string", "enum": list(VISIT_CODES)},
                                    "instrument": {"type": "string", "enum": INSTRUMENT_CODES},
                                    "answers": {"type": "object", "additionalProperties": answer_value},
                                    "respondent": {"type": "string", "enum": list(RESPONDENTS)},
                                    "completed_at": {"type": "string", "format": "date-time"}}},
                "Response": {"type": "object", "properties": {
                    "id": {"type": "string"}, "patient_id": {"type": "integer"}, "visit": {"type": "string"},
                    "instrument": {"type": "string"}, "answers": {"type": "object"},
                    "total": {"type": "integer"}, "flags": {"type": "array", "items": {"type": "string"}},
                    "respondent": {"type": "string"}, "completed_at": {"type": "string", "format": "date-time"},
                    "received_at": {"type": "string", "format": "date-time"}, "counts": {"type": "boolean"}}},
                "Timeline": {"type": "object", "properties": {
                    "patient": _ref("Patient"),
                    "visits": {"type": "array", "items": {"type": "object", "properties": {
                        "code": {"type": "string"}, "target_date": {"type": "string", "format": "date"},
                        "status": {"type": "string"},
                        "assessments": {"type": "array", "items": {"type": "object", "properties": {
                            "instrument": {"type": "string"}, "total": {"type": ["integer", "null"]},
                            "change_from_baseline": {"type": ["integer", "null"]},
                            "respondent": {"type": "string"},
                            "completed_at": {"type": "string", "format": "date-time"}}}}}}}}},
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {"summary": "This description", "security": [],
                                             "responses": {"200": _json({"type": "object"}, "OK")}}},
            "/api/v1/me": {"get": {"summary": "The signed-in user and the patients they may see",
                                   "responses": {"200": _json(_ref("Me"), "OK"), "401": PROBLEM}}},
            "/api/v1/patients/{patient_id}": _patient_get("One patient", _ref("Patient")),
            "/api/v1/patients/{patient_id}/schedule": _patient_get("Visits with windows and status",
                                                                    _ref("Schedule")),
            "/api/v1/patients/{patient_id}/responses": _patient_get(
                "Every stored response, repeats included",
                {"type": "object", "properties": {"responses": {"type": "array", "items": _ref("Response")}}}),
            "/api/v1/patients/{patient_id}/timeline": _patient_get("The follow-up timeline", _ref("Timeline")),
            "/api/v1/responses": {"post": {
                "summary": "Store a response (idempotent by client UUID)",
                "parameters": [{"name": "X-CSRFToken", "in": "header", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("NewResponse")}}},
                "responses": {"201": _json(_ref("Response"), "Stored"),
                              "200": _json(_ref("Response"), "Already stored (same id, same body)"),
                              "400": PROBLEM, "401": PROBLEM, "403": PROBLEM, "404": PROBLEM,
                              "409": PROBLEM, "422": PROBLEM}}},
        },
    }
