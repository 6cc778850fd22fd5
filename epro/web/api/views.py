"""/api/v1 endpoints.  Thin: access checks, then epro.services.responses / followup."""
from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError

from epro.base import i18n
from epro.core import instruments
from epro.services import access, followup, patients, queries, responses, verification
from epro.services import protocols as app_protocols
from epro.web.api import schemas, serializers
from epro.web.api.openapi import documented, spec
from epro.web.api.problems import problem
from epro.web.messages import field_message

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Ids beyond the database's range are 404 by the app's one id converter (web/converters.py).
PATIENT = "/patients/<int:patient_id>"


@bp.get("/openapi.json")
@documented("This description (OpenAPI 3.1)", {200: (None, "OK")}, public=True)
def openapi():
    # Instruments can be registered and protocols added while the app runs: the document is
    # rebuilt when either list changes, not on every request.
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy is not hashable
    return jsonify(_document(app, instruments.CODES, app_protocols.codes()))


@functools.lru_cache(maxsize=8)
def _document(app: Flask, _instruments: tuple[str, ...], _protocols: tuple[str, ...]) -> dict[str, Any]:
    return spec(app)


@bp.get("/me")
@login_required
@documented("The signed-in user and the patients they may see", {200: (schemas.Me, "OK")})
def me():
    visible = patients.visible(current_user)
    return jsonify(
        username=current_user.username,
        role=current_user.role,
        locale=i18n.lang_code(i18n.select_locale()),
        patients=[{"id": p.id, "subject_code": p.subject_code} for p in visible],
    )


@bp.get(PATIENT)
@login_required
@documented("One patient", {200: (schemas.Patient, "OK")}, problems=(404,))
def patient(patient_id: int):
    return jsonify(serializers.patient(access.patient_or_404(current_user, patient_id), current_user, _lang()))


@bp.get(PATIENT + "/schedule")
@login_required
@documented("Visits with windows and status", {200: (schemas.Schedule, "OK")}, problems=(404,))
def patient_schedule(patient_id: int):
    return jsonify(serializers.schedule_of(access.patient_or_404(current_user, patient_id)))


@bp.get(PATIENT + "/responses")
@login_required
@documented("Every stored response, repeats included", {200: (schemas.ResponseList, "OK")}, problems=(404,))
def patient_responses(patient_id: int):
    p = access.patient_or_404(current_user, patient_id)
    rows = patients.active_responses(p)
    counting = followup.counting_ids(p)
    body = [serializers.response(r, counts=r.id in counting, viewer=current_user) for r in rows]
    if current_user.can.reads_clinical:  # staff: the monitoring state of each record
        open_queries = queries.unresolved_by_response(p)
        verified = verification.verified_ids(r.id for r in rows)
        for item, r in zip(body, rows, strict=True):
            item["queries"] = open_queries.get(r.id, {"open": 0, "answered": 0})
            item["source_verified"] = (r.id in verified) if r.respondent == "clinician" else None
    return jsonify(responses=body)


@bp.get(PATIENT + "/timeline")
@login_required
@documented("The follow-up timeline", {200: (schemas.Timeline, "OK")}, problems=(404,))
def patient_timeline(patient_id: int):
    p = access.patient_or_404(current_user, patient_id)
    return jsonify(serializers.timeline(p, followup.timeline_for(p), current_user, _lang()))


@bp.post("/responses")
@login_required
@documented("Store a response (idempotent by client UUID)",
            {201: (schemas.StoredResponse, "Stored"),
             200: (schemas.StoredResponse, "Already stored (same id, same body)")},
            problems=(400, 403, 404, 409, 413, 422), body=schemas.NewResponse, headers=("X-CSRFToken",))
def create_response():
    body = _json_body()
    if not isinstance(body, dict):
        return problem(400, _("Bad request"), _("Send a JSON object."))
    try:
        new = schemas.NewResponse.model_validate(body)
    except ValidationError as exc:
        new, errors = None, schemas.NewResponse.field_errors(exc)
    else:
        errors = []
    if any(e.field == "patient_id" for e in errors):
        return _invalid(errors)
    # A patient this user may not see is "not found" before anything else about the body.
    patient_id = new.patient_id if new is not None else body["patient_id"]
    p = access.patient_or_404(current_user, patient_id)
    if new is None:
        instrument = body.get("instrument")
        if isinstance(instrument, str) and instrument in instruments.CODES \
                and not access.may_submit(current_user, instrument):
            # As the service does: a questionnaire this user may not submit is 403, whatever else is wrong.
            return problem(403, _("Not allowed"), _("You may not submit this questionnaire."))
        return _invalid(errors)
    try:
        outcome = responses.submit(
            current_user, p, visit=new.visit, instrument=new.instrument, answers=new.answers,
            respondent=new.respondent, completed_at=new.completed_at,
            # The client-made UUID is required: without it a retry would be stored twice.
            response_id=new.id,
        )
    except responses.Invalid as exc:
        return _invalid(exc.errors)
    except responses.NotAllowed:
        return problem(403, _("Not allowed"), _("You may not submit this questionnaire."))
    except responses.Conflict:
        return problem(409, _("Conflict"), _("A different response was already stored with this id."))
    counts = outcome.counts if outcome.counts is not None else outcome.response.id in followup.counting_ids(p)
    body_out = serializers.response(outcome.response, counts=counts, viewer=current_user)
    status = 201 if outcome.created else 200
    current_app.logger.info("response %s %s/%s status=%s", outcome.response.id, outcome.response.visit_code,
                            outcome.response.instrument, status)
    return jsonify(body_out), status


def _lang() -> str:
    """The request's language ("zh" or "en"), for names of studies, sites and arms."""
    return i18n.lang_code(i18n.select_locale())


def _invalid(errors: list[responses.FieldError]):
    return problem(422, _("Invalid response"), _("Some fields are not valid."), errors=[
        {"field": e.field, "message": field_message(e)} for e in errors
    ])


def _json_body():
    """The request body parsed as JSON, or None if it is not JSON.

    Werkzeug cuts a chunked body (no Content-Length) at MAX_CONTENT_LENGTH
    instead of refusing it, so a body that reaches the limit is refused here
    as too large.  The json module raises RecursionError, not ValueError, on
    deeply nested input, which get_json(silent=True) does not catch.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit and len(request.get_data()) >= limit:
        abort(413)
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None
