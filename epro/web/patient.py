"""The patient and caregiver app: what is due, one questionnaire, history.

Designed for a phone: one question per screen (added by questionnaire.js on
top of a plain form that also works without JavaScript).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import instruments, schedule
from epro.models import Patient, Response
from epro.services import access, followup, patients, responses
from epro.web import guards, prg
from epro.web.messages import field_errors

bp = Blueprint("patient", __name__)
guards.protect(bp, "patient_side")

#: The button of the plain form (no JavaScript) that applies the respondent
#: chosen first, so the questions are worded for who answers them (the
#: patient: "you"; a caregiver answering for the patient: "he or she").
CHOOSE_RESPONDENT = "choose_respondent"
#: The kept state of answers sent without JavaScript that were refused (epro.web.prg).
QUESTIONNAIRE_FORM = "questionnaire"


def home_entries(patient: Patient) -> dict:
    """What is due for *patient*: the patient-reported instruments of the protocol's visits."""
    planned = followup.planned_visits(patient)
    submissions = followup.submissions_for(patient)
    today = followup.patient_today(patient)
    own = followup.protocol_instruments(patient, "patient")
    ended_on = followup.ended_on(patient)
    agenda = schedule.agenda(planned, submissions, today, own, ended_on)

    def todo(visit: schedule.PlannedVisit) -> list[tuple[str, bool]]:
        """Each questionnaire of the visit and whether it is answered: an answered one stays on
        the list, marked so, where the person looks for it (the outbox marks the ones waiting)."""
        return [
            (code, schedule.instrument_status(visit, code, submissions, today) == "done")
            for code in visit.instruments if code in own
        ]

    return {
        "patient": patient,
        "due_now": [(v, todo(v)) for v in agenda.due_now],
        "overdue": [(v, todo(v)) for v in agenda.overdue],
        "next_visit": agenda.next_visit,
        "today": today,
        "ended": ended_on is not None,
    }


@bp.get("/me")
def home():
    entries = [home_entries(p) for p in patients.visible(current_user)]
    # app.js marks a task done when the outbox sent it after this moment (a copy kept offline).
    return render_template("patient/home.html", entries=entries, rendered_at=datetime.now(UTC).isoformat())


def _patient(patient_id: int) -> Patient:
    return access.patient_or_404(current_user, patient_id)


@bp.route("/patients/<int:patient_id>/visits/<visit>/<instrument>", methods=["GET", "POST"])
def questionnaire(patient_id: int, visit: str, instrument: str):
    patient = _patient(patient_id)
    if instrument not in instruments.CODES or instruments.get(instrument).reporter != "patient":
        abort(404)
    planned = followup.find_visit(patient, visit)
    if planned is None or instrument not in planned.instruments:
        abort(404)
    definition = instruments.get(instrument)
    if request.method == "GET":
        given = followup.counting_response(patient, visit, instrument)
        # A caregiver's proxy answer counts only until the patient answers in person
        # (schedule.counting_key), so the patient is still offered the questions.
        own_answer_wanted = (given is not None and given.respondent == "caregiver-proxy"
                             and current_user.role == "patient")
        if given is not None and not own_answer_wanted:
            return answered(patient, planned, definition, given)
    respondents = access.respondents_for(current_user)
    errors: dict[str, str] = {}
    values = dict(request.form) if request.method == "POST" else {}
    if request.method == "GET" and request.args.get("respondent") in respondents:
        values["respondent"] = request.args["respondent"]
    status = 200
    if request.method == "POST" and values.get(CHOOSE_RESPONDENT):
        # Without JavaScript: the respondent was chosen first; show the questions in that voice.
        values.pop(CHOOSE_RESPONDENT)
        if values.get("respondent") not in respondents:
            values.pop("respondent", None)
            if len(respondents) > 1:
                errors["respondent"] = _("Please choose who is answering.")
                status = 422
    elif request.method == "POST":
        respondent = values.get("respondent") or (respondents[0] if len(respondents) == 1 else None)
        answers = {item.key: values.get(item.key) for item in definition.items}
        answers = {k: v for k, v in answers.items() if v not in (None, "")}
        try:
            outcome = responses.submit(
                current_user, patient, visit=visit, instrument=instrument, answers=answers,
                respondent=respondent, completed_at=values.get("completed_at") or None,
                response_id=values.get("response_id"),
            )
        except responses.Invalid as exc:
            errors = field_errors(exc.errors)
            if "respondent" in errors and not values.get("respondent"):
                errors["respondent"] = _("Please choose who is answering.")
            status = 422
        except responses.Conflict:
            errors["form"] = _("These answers were already sent with different content. Please reload the page.")
            values["response_id"] = str(uuid.uuid4())
            status = 409
        else:
            return redirect(url_for("patient.done", patient_id=patient.id, response_id=outcome.response.id))
    if request.method == "POST":
        # Post–redirect–get, without JavaScript too: a reload never posts the answers again.  The
        # page after the redirect shows what was sent (the same response id), with the messages if
        # any; after "who is answering" was chosen, the questions in that voice (200).
        back = prg.keep(name=QUESTIONNAIRE_FORM, errors=errors, status=status,
                        values={k: str(v) for k, v in values.items()})
        if back is not None:
            return back
    elif (kept := prg.take(QUESTIONNAIRE_FORM)) is not None:  # the answers and messages of that POST
        values, status = kept.values, kept.status
        errors = kept.messages
    values.setdefault("response_id", str(uuid.uuid4()))
    today = followup.patient_today(patient)
    chosen = values.get("respondent") if values.get("respondent") in respondents else None
    if chosen is None and len(respondents) == 1:
        chosen = respondents[0]
    return render_template(
        "patient/questionnaire.html",
        patient=patient, visit=planned, definition=definition, respondents=respondents,
        voice=instruments.voice_for(chosen), respondent_pending=chosen is None and len(respondents) > 1,
        choose_respondent=CHOOSE_RESPONDENT,
        values=values, errors=errors, late=today > planned.window_end,
        ended=not followup.takes_answers(patient, planned, today),
        draft_key=f"epro:draft:{current_user.id}:{patient.id}:{visit}:{instrument}",
        # When the server found no answer: questionnaire.js trusts an answer sent after this moment.
        rendered_at=datetime.now(UTC).isoformat(),
    ), status


def answered(patient: Patient, visit: schedule.PlannedVisit, definition: instruments.Instrument,
             given: Response):
    """An answered questionnaire opens as the answers given, read-only, never as an empty form
    (which would invite a second answer); a wrong answer is corrected through the clinic."""
    response = make_response(render_template(
        "patient/answered.html", patient=patient, visit=visit, definition=definition, response=given,
        lines=definition.answer_lines(given.answers, instruments.voice_for(given.respondent)),
    ))
    # The service worker refreshes a copy of this page kept offline that is not this one yet.
    response.headers["X-Epro-Answered"] = "1"
    return response


@bp.get("/patients/<int:patient_id>/done/<response_id>")
def done(patient_id: int, response_id: str):
    patient = _patient(patient_id)
    response = patients.response_of(patient, response_id)
    if response is None:
        abort(404)
    entry = home_entries(patient)
    return render_template("patient/done.html", patient=patient, response=response,
                           definition=instruments.get(response.instrument),
                           history=history_rows(patient), **{k: v for k, v in entry.items() if k != "patient"})


def history_rows(patient: Patient) -> list[dict]:
    """The patient's own scores (patient-reported); clinician scores only when the study allows."""
    tl = followup.timeline_for(patient)
    own = followup.protocol_instruments(patient, "patient")
    shown = list(own)
    signed: set[str] = set()
    if patient.study.patients_see_clinician_scores:
        shown += followup.protocol_instruments(patient, "clinician")
        signed = patients.signed_response_ids(patient)
    rows = []
    for tv in tl.visits:
        cells = {code: tv.assessment(code) for code in shown}
        # Clinician scores reach the patient only once a clinician has signed them.
        cells = {code: a if (code in own or (a and a.response_id in signed)) else None
                 for code, a in cells.items()}
        if any(cells.values()):
            rows.append({"visit": tv.visit, "cells": cells})
    return rows


@bp.get("/patients/<int:patient_id>/history")
def history(patient_id: int):
    patient = _patient(patient_id)
    return render_template("patient/history.html", patient=patient, history=history_rows(patient),
                           now=datetime.now(UTC))
