"""Per patient: infusions, safety checks per visit, adverse events, emergency unblinding."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from epro.base import i18n
from epro.core.trial import safety as rules
from epro.models import Patient, User
from epro.services import access, followup, patients
from epro.services.errors import Refused
from epro.services.trial import infusions, safety, unblinding
from epro.web import converters, guards, prg
from epro.web.hooks import presenter, visit_label
from epro.web.messages import say
from epro.web.trial import bp
from epro.web.trial.forms import AdverseEventForm, InfusionForm, SafetyCheckForm, UnblindForm


def _patient(patient_id: int) -> Patient:
    return access.patient_or_404(current_user, patient_id)


def _today(patient: Patient):
    return followup.patient_today(patient)


# --- infusions --------------------------------------------------------------------


@bp.route("/patients/<int:patient_id>/infusions", methods=["GET", "POST"])
def infusion_list(patient_id: int):
    patient = _patient(patient_id)
    unmasked = presenter().sees_arm(patient)
    plan = presenter().infusion_plan(patient)
    staff = infusions.staff_choices(patient)
    form = InfusionForm(plan=plan, staff=staff, today=_today(patient),
                        data={"given_on": _today(patient), "given_by": str(current_user.id)})
    done = form.submit(lambda: infusions.record(patient, form.entry(patient.site.timezone), current_user),
                       first=lambda: infusions.next_number(patient, current_user))
    if done is not None:
        if done.dose is not None:
            flash(_("Infusion %(number)s recorded: the dose for %(kg)s kg is %(cells)s cells.",
                    number=done.infusion.number, kg=f"{done.infusion.weight_kg:g}",
                    cells=infusions.scientific(done.dose)), "success")
        else:
            flash(_("Infusion %(number)s recorded.", number=done.infusion.number), "success")
        for message, params in done.warnings:
            flash(say(message, params), "warning")
        return redirect(url_for("trial.infusion_list", patient_id=patient.id))
    rows = infusions.schedule_of(patient, current_user)
    next_row = next((r for r in rows if r.infusion is None), None)
    return prg.answer(form, lambda: render_template(
        "trial/infusions.html", patient=patient, rows=rows, unmasked=unmasked, plan=plan,
        next_row=next_row if unmasked and plan else None, form=form,
        staff_choices=[(u.id, u.display_name_in(i18n.lang_code(str(get_locale())))) for u in staff],
        flags=infusions.FLAGS, users=_users(rows),
    ))


def _users(rows) -> dict[int, User]:
    ids = {r.infusion.given_by_id for r in rows if r.infusion and r.infusion.given_by_id}
    return patients.users_by_id(ids)


# --- safety check per visit --------------------------------------------------------


@bp.route("/patients/<int:patient_id>/visits/<visit>/safety", methods=["GET", "POST"])
@guards.audience("data_entry")
def safety_check(patient_id: int, visit: str):
    patient = _patient(patient_id)
    planned = followup.find_visit(patient, visit)
    if planned is None:
        abort(404)
    current = safety.check_for(patient, visit)
    form = SafetyCheckForm(patient=patient, visit_code=visit, obj=current)
    if form.submit(lambda: safety.record_check(patient, visit, form.entry(), current_user, form.reason.data)):
        flash(_("Safety check saved for %(visit)s.", visit=visit_label(planned)), "success")
        return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor=f"visit-{visit}"))
    return prg.answer(form, lambda: render_template(
        "trial/safety_check.html", patient=patient, visit=planned, current=current, form=form, rules=rules,
    ))


# --- adverse events ----------------------------------------------------------------


@bp.get("/patients/<int:patient_id>/adverse-events")
def adverse_events(patient_id: int):
    patient = _patient(patient_id)
    events = safety.adverse_events(patient)
    return render_template("trial/adverse_events.html", patient=patient, events=events, rules=rules,
                           clocks={ae.id: safety.clock(ae) for ae in events})


@bp.route("/patients/<int:patient_id>/adverse-events/new", methods=["GET", "POST"])
@guards.audience("data_entry")
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
    local_now = datetime.now(UTC).astimezone(ZoneInfo(patient.site.timezone))
    prefill = {"aware_on": local_now.date(), "aware_time": local_now.time()}
    if report is not None:
        prefill.update(term=report.what[:200], onset=report.since)
    form = AdverseEventForm(today=_today(patient), data=prefill)
    ae = form.submit(lambda: safety.record_adverse_event(patient, form.entry(patient.site.timezone), current_user,
                                                         report))
    if ae is not None:
        if ae.serious:
            flash(_("Serious adverse event recorded. Report it within 24 hours; the clock is on the patient list."),
                  "warning")
        else:
            flash(_("Adverse event recorded."), "success")
        return redirect(url_for("trial.adverse_events", patient_id=patient.id))
    return prg.answer(form, lambda: render_template(
        "trial/adverse_event_form.html", patient=patient, report=report, form=form, rules=rules,
    ))


@bp.post("/adverse-events/<int:event_id>/reported")
def adverse_event_reported(event_id: int):
    ae = safety.visible_adverse_event(current_user, event_id)
    if ae is None:
        abort(404)
    try:
        safety.mark_reported(ae, current_user)
    except Refused as exc:
        flash(say(exc.message, exc.params), "error")
    else:
        flash(_("Marked as reported."), "success")
    if request.form.get("back") == "list":
        return redirect(url_for("clinic.patients"))
    return redirect(url_for("trial.adverse_events", patient_id=ae.patient_id))


# --- emergency unblinding ----------------------------------------------------------


@bp.route("/patients/<int:patient_id>/unblind", methods=["GET", "POST"])
@guards.audience("data_entry")
def unblind(patient_id: int):
    patient = _patient(patient_id)
    if not patient.study.masked:
        abort(404)
    form = UnblindForm()
    if form.submit(lambda: unblinding.unblind(patient, current_user, form.reason.data)):
        flash(_("Unblinded for you, for this patient only. The site's investigators are told."), "warning")
        return redirect(url_for("trial.unblind", patient_id=patient.id))
    return prg.answer(form, lambda: render_template("trial/unblind.html", patient=patient, form=form,
                           unmasked=presenter().sees_arm(patient)))
