"""A patient's course through the study: allocation of a patient registered
"not yet randomized", and the end of participation (disposition)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import labels
from epro.models import Patient, User
from epro.services import access, disposition, followup, unit_of_work
from epro.services.errors import Refused
from epro.services.trial import allocation, enrolment
from epro.web import guards, prg
from epro.web.forms import EmptyForm
from epro.web.messages import refusal_message
from epro.web.trial import bp
from epro.web.trial.forms import DispositionForm

#: Staff who enter data; the "roles" work may define a ``data_entry`` audience, used when it exists.
ENTRY_ROLES = ("clinician", "investigator")


def may_enter(user: User) -> bool:
    rule = guards.AUDIENCES.get("data_entry")
    if rule is not None:
        return bool(rule(user))
    return user.is_staff and user.role in ENTRY_ROLES


def _patient(patient_id: int) -> Patient:
    patient = access.patient_or_404(current_user, patient_id)
    if not may_enter(current_user):
        abort(404)
    return patient


def course_of(patient: Patient) -> dict:
    """What the timeline shows of the patient's course (template helper)."""
    return {
        "ended": patient.disposition is not None,
        "label": labels.DISPOSITIONS.get(patient.disposition or ""),
        "death_event": disposition.death_event(patient) if patient.disposition == "died" else None,
        "not_randomized": enrolment.not_yet_randomized(patient),
        "may_enter": current_user.is_authenticated and may_enter(current_user),
        "contactable": followup.contactable(patient),
    }


@bp.app_context_processor
def course_helpers() -> dict:
    return {"course_of": course_of}


def _event_label(ae) -> str:
    return f"{ae.term} · {format_date(ae.onset, 'medium')}"


@bp.route("/patients/<int:patient_id>/disposition", methods=["GET", "POST"])
def disposition_form(patient_id: int):
    patient = _patient(patient_id)
    if patient.disposition is not None:
        return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor="course"))
    events = disposition.fatal_events(patient)
    today = followup.patient_today(patient)
    form = DispositionForm(patient=patient, events=[(ae.id, _event_label(ae)) for ae in events], today=today)
    done = form.submit(lambda: disposition.record_disposition(
        patient, form.kind.data, form.on.data, form.reason.data, bool(form.consent_withdrawn.data),
        form.chosen_event(), current_user))
    if done is not None:
        flash(_("The end of participation of %(code)s is recorded.", code=patient.subject_code), "success")
        return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor="course"))
    return prg.answer(form, lambda: render_template(
        "trial/disposition_form.html", patient=patient, form=form, events=events,
        today=today))


@bp.post("/patients/<int:patient_id>/allocate")
def allocate(patient_id: int):
    patient = _patient(patient_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        allocation.allocate_registered(patient, current_user)
    except Refused as exc:
        unit_of_work.fail()
        flash(refusal_message(exc), "error")
    else:
        flash(_("%(code)s is randomized.", code=patient.subject_code), "success")
    return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor="course"))
