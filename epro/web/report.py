"""Patients and caregivers report "a new health problem or symptom" at any time.

Each report waits for the site's clinicians (:mod:`epro.web.trial.reports`),
who review it or record it as an adverse event: the safety outcome of both
trials starts from what patients notice between visits.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.services import access, followup
from epro.services.trial import safety
from epro.web import guards, prg
from epro.web.trial.forms import SymptomReportForm

bp = Blueprint("report", __name__)
guards.protect(bp, "patient_side")


@bp.route("/patients/<int:patient_id>/report", methods=["GET", "POST"])
def new_problem(patient_id: int):
    patient = access.patient_or_404(current_user, patient_id)
    today = followup.patient_today(patient)
    form = SymptomReportForm(today=today)
    if form.submit(lambda: safety.report_symptom(
            patient, current_user, what=form.what.data, since=form.since.data, severity=form.severity.data,
            hospital=bool(form.hospital_visit.answer))):
        flash(_("Thank you. Your clinic has your report and will look at it. "
                "If it is an emergency, call 120 or go to the hospital now."), "success")
        return redirect(url_for("patient.home"))
    return prg.answer(form, lambda: render_template(
        "trial/patient_report.html", patient=patient, form=form, severities=safety.SEVERITIES, today=today))
