"""Per patient: infusions, safety checks per visit, adverse events, emergency unblinding."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from epro.base.extensions import db
from epro.core.trial import safety as rules
from epro.models import Patient, User
from epro.services import access, followup
from epro.services.trial import fields, infusions, masking, safety
from epro.web import converters
from epro.web.hooks import presenter
from epro.web.trial import bp, problems, say


def _patient(patient_id: int) -> Patient:
    return access.patient_or_404(current_user, patient_id)


def _today(patient: Patient):
    return followup.patient_today(patient)


# --- infusions --------------------------------------------------------------------


@bp.route("/patients/<int:patient_id>/infusions", methods=["GET", "POST"])
def infusion_list(patient_id: int):
    patient = _patient(patient_id)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            done = infusions.record(patient, request.form, current_user, _today(patient))
        except fields.Invalid as exc:
            errors, status = problems(exc), 422
        except fields.Refused as exc:
            errors, status = {"form": say(exc.message, exc.params)}, exc.status
        else:
            db.session.commit()
            if done.dose is not None:
                flash(_("Infusion %(number)s recorded: the dose for %(kg)s kg is %(cells)s cells.",
                        number=done.infusion.number, kg=f"{done.infusion.weight_kg:g}",
                        cells=infusions.scientific(done.dose)), "success")
            else:
                flash(_("Infusion %(number)s recorded.", number=done.infusion.number), "success")
            for message, params in done.warnings:
                flash(say(message, params), "warning")
            return redirect(url_for("trial.infusion_list", patient_id=patient.id))
    unmasked = presenter().sees_arm(patient)
    rows = infusions.schedule_of(patient, current_user)
    plan = presenter().infusion_plan(patient)
    next_row = next((r for r in rows if r.infusion is None), None)
    values = request.form if request.method == "POST" else {
        "given_on": _today(patient).isoformat(), "given_by": str(current_user.id)}
    return render_template(
        "trial/infusions.html", patient=patient, rows=rows, unmasked=unmasked, plan=plan,
        next_row=next_row if unmasked and plan else None, staff=infusions.staff_choices(patient),
        values=values, errors=errors, flags=infusions.FLAGS, users=_users(rows),
    ), status


def _users(rows) -> dict[int, User]:
    ids = {r.infusion.given_by_id for r in rows if r.infusion and r.infusion.given_by_id}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


# --- safety check per visit --------------------------------------------------------


@bp.route("/patients/<int:patient_id>/visits/<visit>/safety", methods=["GET", "POST"])
def safety_check(patient_id: int, visit: str):
    patient = _patient(patient_id)
    planned = followup.find_visit(patient, visit)
    if planned is None:
        abort(404)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            safety.record_check(patient, visit, request.form, current_user)
        except fields.Invalid as exc:
            errors, status = problems(exc), 422
        else:
            db.session.commit()
            flash(_("Safety check saved for %(visit)s.", visit=visit), "success")
            return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor=f"visit-{visit}"))
    current = safety.check_for(patient, visit)
    values: Mapping[str, Any]
    if request.method == "POST":
        values = request.form
    elif current is not None:
        values = {k: getattr(current, k) for k in ("lab", "lab_detail", "neuro", "neuro_detail", "imaging",
                                                   "imaging_detail")}
    else:
        values = {}
    return render_template(
        "trial/safety_check.html", patient=patient, visit=planned, current=current, values=values,
        errors=errors, rules=rules,
    ), status


# --- adverse events ----------------------------------------------------------------


@bp.get("/patients/<int:patient_id>/adverse-events")
def adverse_events(patient_id: int):
    patient = _patient(patient_id)
    events = safety.adverse_events(patient)
    return render_template("trial/adverse_events.html", patient=patient, events=events, rules=rules,
                           clocks={ae.id: safety.clock(ae) for ae in events})


@bp.route("/patients/<int:patient_id>/adverse-events/new", methods=["GET", "POST"])
def new_adverse_event(patient_id: int):
    patient = _patient(patient_id)
    report = None
    raw_report = request.values.get("report")
    report_id = converters.id_or_none(raw_report)
    if raw_report and report_id is None:  # a report that cannot exist
        abort(404)
    if report_id is not None:
        report = safety.visible_report(current_user, report_id)
        if report is None or report.patient_id != patient.id:
            abort(404)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            ae = safety.record_adverse_event(patient, request.form, current_user, _today(patient), report)
        except fields.Invalid as exc:
            errors, status = problems(exc), 422
        except fields.Refused as exc:
            errors, status = {"form": say(exc.message, exc.params)}, exc.status
        else:
            db.session.commit()
            if ae.serious:
                flash(_("Serious adverse event recorded. Report it within 24 hours; the clock is on the patient list."),
                      "warning")
            else:
                flash(_("Adverse event recorded."), "success")
            return redirect(url_for("trial.adverse_events", patient_id=patient.id))
    values: Mapping[str, str]
    if request.method == "POST":
        values = request.form
        serious = request.form.getlist("serious_criteria")
    else:
        local_now = datetime.now(UTC).astimezone(ZoneInfo(patient.site.timezone))
        fresh = {"aware_on": local_now.date().isoformat(), "aware_time": local_now.strftime("%H:%M")}
        if report is not None:
            fresh.update(term=report.what[:200], onset=report.since.isoformat())
        values, serious = fresh, []
    return render_template(
        "trial/adverse_event_form.html", patient=patient, report=report, values=values, serious=serious,
        errors=errors, rules=rules,
    ), status


@bp.post("/adverse-events/<int:event_id>/reported")
def adverse_event_reported(event_id: int):
    ae = safety.visible_adverse_event(current_user, event_id)
    if ae is None:
        abort(404)
    try:
        safety.mark_reported(ae, current_user)
    except fields.Refused as exc:
        flash(say(exc.message, exc.params), "error")
    else:
        db.session.commit()
        flash(_("Marked as reported."), "success")
    if request.form.get("back") == "list":
        return redirect(url_for("clinic.patients"))
    return redirect(url_for("trial.adverse_events", patient_id=ae.patient_id))


# --- emergency unblinding ----------------------------------------------------------


@bp.route("/patients/<int:patient_id>/unblind", methods=["GET", "POST"])
def unblind(patient_id: int):
    patient = _patient(patient_id)
    if not patient.study.masked:
        abort(404)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            masking.unblind(patient, current_user, request.form)
        except fields.Invalid as exc:
            errors, status = problems(exc), 422
        else:
            db.session.commit()
            flash(_("Unblinded for you, for this patient only. The site's investigators are told."), "warning")
            return redirect(url_for("trial.unblind", patient_id=patient.id))
    return render_template("trial/unblind.html", patient=patient, errors=errors,
                           values=request.form if request.method == "POST" else {},
                           unmasked=presenter().sees_arm(patient)), status
