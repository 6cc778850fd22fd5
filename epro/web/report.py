"""Patients and caregivers report "a new health problem or symptom" at any time.

Each report waits for the site's clinicians (:mod:`epro.web.trial.reports`),
who review it or record it as an adverse event: the safety outcome of both
trials starts from what patients notice between visits.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from epro.base.extensions import db
from epro.services import access, followup
from epro.services.trial import fields, safety
from epro.web.trial import problems

bp = Blueprint("report", __name__)


@bp.route("/patients/<int:patient_id>/report", methods=["GET", "POST"])
@login_required
def new_problem(patient_id: int):
    if current_user.role not in ("patient", "caregiver"):
        abort(404)
    patient = access.patient_or_404(current_user, patient_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            safety.report_symptom(patient, request.form, current_user, followup.patient_today(patient))
        except fields.Invalid as exc:
            errors = problems(exc)
        else:
            db.session.commit()
            flash(_("Thank you. Your clinic has your report and will look at it. "
                    "If it is an emergency, call 120 or go to the hospital now."), "success")
            return redirect(url_for("patient.home"))
    return render_template(
        "trial/patient_report.html", patient=patient, errors=errors, severities=safety.SEVERITIES,
        values=request.form if request.method == "POST" else {},
        today=followup.patient_today(patient),
    ), (422 if errors else 200)
