"""/api/v1 endpoints.  Thin: access checks, then epro.services.responses / followup."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from epro.base import i18n
from epro.core import schedule
from epro.services import access, followup, patients, responses
from epro.web.api import serializers
from epro.web.api.openapi import spec
from epro.web.api.problems import problem
from epro.web.messages import field_message

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Ids are INTEGER columns: beyond 2**31 - 1 none can exist, and PostgreSQL ("integer out of
#: range") and SQLite (OverflowError past 2**63) would fail on them with a 500 instead of a 404.
MAX_ID = 2**31 - 1
PATIENT = f"/patients/<int(max={MAX_ID}):patient_id>"


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


@bp.get("/me")
@login_required
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
def patient(patient_id: int):
    return jsonify(serializers.patient(access.patient_or_404(current_user, patient_id), current_user))


@bp.get(PATIENT + "/schedule")
@login_required
def patient_schedule(patient_id: int):
    return jsonify(serializers.schedule_of(access.patient_or_404(current_user, patient_id)))


@bp.get(PATIENT + "/responses")
@login_required
def patient_responses(patient_id: int):
    p = access.patient_or_404(current_user, patient_id)
    rows = patients.active_responses(p)
    counting = schedule.counting_ids(followup.submissions_for(p))
    return jsonify(responses=[serializers.response(r, counts=r.id in counting) for r in rows])


@bp.get(PATIENT + "/timeline")
@login_required
def patient_timeline(patient_id: int):
    p = access.patient_or_404(current_user, patient_id)
    return jsonify(serializers.timeline(p, followup.timeline_for(p), current_user))


@bp.post("/responses")
@login_required
def create_response():
    body = _json_body()
    if not isinstance(body, dict):
        return problem(400, _("Bad request"), _("Send a JSON object."))
    patient_id = body.get("patient_id")
    if not isinstance(patient_id, int) or isinstance(patient_id, bool):
        return problem(422, _("Invalid response"), _("Some fields are not valid."),
                       errors=[{"field": "patient_id", "message": _("Must be a patient id.")}])
    if not 0 < patient_id <= MAX_ID:
        abort(404)
    p = access.patient_or_404(current_user, patient_id)
    try:
        outcome = responses.submit(
            current_user, p,
            visit=body.get("visit"), instrument=body.get("instrument"), answers=body.get("answers"),
            respondent=body.get("respondent"), completed_at=body.get("completed_at"),
            # The client-made UUID is required: without it a retry would be stored twice.
            response_id=body["id"] if isinstance(body.get("id"), str) else "",
        )
    except responses.Invalid as exc:
        return problem(422, _("Invalid response"), _("Some fields are not valid."), errors=[
            {"field": e.field, "message": field_message(e)} for e in exc.errors
        ])
    except responses.NotAllowed:
        return problem(403, _("Not allowed"), _("You may not submit this questionnaire."))
    except responses.Conflict:
        return problem(409, _("Conflict"), _("A different response was already stored with this id."))
    counting = schedule.counting_ids(followup.submissions_for(p))
    body_out = serializers.response(outcome.response, counts=outcome.response.id in counting)
    status = 201 if outcome.created else 200
    current_app.logger.info("response %s %s/%s status=%s", outcome.response.id, outcome.response.visit_code,
                            outcome.response.instrument, status)
    return jsonify(body_out), status


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
