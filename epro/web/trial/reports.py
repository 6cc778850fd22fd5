"""The site's safety desk: symptom reports waiting for review, and running SAE clocks."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.services.errors import Refused
from epro.services.trial import safety, studies
from epro.web.messages import say
from epro.web.trial import bp


@bp.get("/safety")
def reports():
    site_id = current_user.site_id  # None: every site, for a data manager only
    if site_id is None and not current_user.can.sees_all_sites:
        abort(404)
    return render_template(
        "trial/reports.html", reports=safety.pending_reports(site_id), clocks=safety.open_sae_clocks(site_id),
        severities=safety.SEVERITIES, reporters=safety.REPORTERS, studies=studies.visible_studies(current_user),
    )


@bp.post("/reports/<int:report_id>/reviewed")
def report_reviewed(report_id: int):
    report = safety.visible_report(current_user, report_id)
    if report is None:
        abort(404)
    try:
        safety.mark_reviewed(report, current_user)
    except Refused as exc:
        flash(say(exc.message, exc.params), "error")
    else:
        flash(_("Report of %(code)s marked reviewed.", code=report.patient.subject_code), "success")
    return redirect(url_for("trial.reports"))
