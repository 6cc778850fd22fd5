"""The site team's worklists: the call list, the completion report, the clinician alerts.

Who may open what (epro.core.roles, through :mod:`epro.web.guards`): the call
list and the alerts are for the site staff who enter data (clinician,
investigator), their own site only; the completion report also for whoever
exports and reads clinical data (the data manager, every site).  Everyone
else gets 404.  Nothing here shows or needs an arm.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import charts, labels, schedule, worklists
from epro.services import access
from epro.services.errors import Invalid
from epro.services.worklists import alerts, calls, completion
from epro.web import downloads, guards, prg
from epro.web.messages import field_errors

bp = Blueprint("worklists", __name__, url_prefix="/clinic/worklists")
guards.protect(bp, "data_entry")


@bp.app_context_processor
def worklist_helpers() -> dict:
    return {"staff_alert_count": lambda: alerts.alert_count(current_user) if current_user.is_authenticated else 0,
            "call_outcomes": worklists.OUTCOMES, "urgency_labels": worklists.URGENCY_LABELS,
            "alert_kinds": worklists.ALERT_KINDS, "format_percent": format_percent,
            "format_decimal": format_decimal}


@bp.get("/calls")
def call_list():
    rows = calls.call_list(current_user)
    return render_template("worklists/calls.html", rows=rows, counts=calls.counts_by_status(rows))


#: The kept state of a call that could not be recorded (epro.web.prg).
CALL_FORM = "call"


@bp.route("/calls/<int:patient_id>", methods=["GET", "POST"])
def call(patient_id: int):
    patient = access.patient_or_404(current_user, patient_id)
    errors: dict[str, str] = {}
    values = dict(request.form) if request.method == "POST" else {"visit": request.args.get("visit", "")}
    status = 200
    if request.method == "POST":
        try:
            calls.record_call(patient, current_user, outcome=values.get("outcome"), note=values.get("note", ""),
                              visit=values.get("visit"))
        except Invalid as exc:
            errors, status = field_errors(exc.errors), 422
            # Post–redirect–get: the page after the redirect shows the messages and what was typed.
            back = prg.keep(name=CALL_FORM, errors=errors, status=status)
            if back is not None:
                return back
        else:
            flash(_("Call to %(subject)s recorded.", subject=patient.subject_code), "success")
            return redirect(url_for("worklists.call_list", _anchor=f"call-{patient.subject_code}"))
    elif (kept := prg.take(CALL_FORM)) is not None:
        values, status = kept.values, kept.status
        errors = kept.messages
    return render_template("worklists/call.html", patient=patient, history=calls.calls_of(patient),
                           values=values, errors=errors), status


@bp.get("/alerts")
def alert_list():
    if current_user.site_id is None:
        abort(404)
    return render_template("worklists/alerts.html", alerts=alerts.site_alerts(current_user.site_id))


def _report_lines():
    sites = completion.sites_for(current_user)
    site = request.args.get("site") if request.args.get("site") in {s.code for s in sites} else None
    return sites, site, completion.report(current_user, site)


SERIES = (schedule.COMPLETE, schedule.LATE, schedule.MISSED, schedule.OPEN)


@bp.get("/completion")
@guards.audience("completion_reports")
def completion_report():
    sites, site, lines = _report_lines()
    names = [_("On time"), _("Late"), _("Missed"), _("Open")]
    svgs = {}
    for s in sites:
        mine = [line for line in lines if line.site.id == s.id]
        if not mine:
            continue
        svgs[s.code] = charts.stacked_bar_svg(
            [(line.visit, [line.counts[k] for k in SERIES]) for line in mine], series=names,
            title=_("Visits at %(site)s: on time, late, missed, open", site=s.code),
            description=_("One bar per visit; the table below gives the same numbers."),
            id_prefix=f"completion-{s.code}")
    return render_template("worklists/completion.html", lines=lines, sites=sites, site=site, svgs=svgs,
                           delay_labels=worklists.DELAY_LABELS, visit_status=labels.VISIT_STATUS)


@bp.get("/completion.csv")
@guards.audience("completion_reports")
def completion_csv():
    _sites, site, lines = _report_lines()
    name = f"completion-{site or ('all-sites' if current_user.can.sees_all_sites else current_user.site.code)}.csv"
    return downloads.csv_download(name, completion.CSV_HEADER, completion.csv_rows(lines))
