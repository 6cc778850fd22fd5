"""The clinician's side: the site list, enrolment, the timeline and assessment entry."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from epro.base import i18n
from epro.core import charts, instruments, labels
from epro.core import queries as query_rules
from epro.core.timeline import alerts as worsening_alerts
from epro.models import AuditEvent, Patient, Response, User
from epro.services import (
    access,
    activation,
    followup,
    patient_trail,
    queries,
    records,
    responses,
    unit_of_work,
    verification,
)
from epro.services import patients as patient_records
from epro.services import site_list as clinic_list
from epro.services.errors import FieldError, Refused
from epro.services.trial import enrolment, studies
from epro.web import cards, converters, downloads, guards, prg, printing, shown_codes, trail_view
from epro.web.forms import RECORD_CHANGES, ActivationRequestForm, EmptyForm, EnrolPatientForm, ReasonForm, SignatureForm
from epro.web.hooks import instrument_short, visit_label
from epro.web.messages import field_errors, refusal_message

bp = Blueprint("clinic", __name__, url_prefix="/clinic")


# Reading is for all staff; changing clinical data for those who enter it (epro.core.roles).
guards.protect(bp, "staff", writes="data_entry")


@bp.get("/admin")
@guards.audience("admin")
def admin_home():
    return render_template("clinic/admin.html")


@bp.get("/")
def patients():
    filter_by = request.args.get("filter", "all")
    filter_by = filter_by if filter_by in clinic_list.FILTERS else "all"
    sort = request.args.get("sort", "subject")
    sort = sort if sort in clinic_list.SORTS else "subject"
    per_page = 50
    page = converters.page_number(request.args.get("page"), per_page=per_page)
    q = clinic_list.normalize_search(request.args.get("q"))
    sites = clinic_list.sites_to_filter(current_user)  # a data manager's list covers every site
    site = request.args.get("site") if request.args.get("site") in {s.code for s in sites} else None
    rows, total = clinic_list.site_list(
        current_user, page=page, per_page=per_page, filter_by=filter_by, sort=sort,
        today_for=followup.today_in, search=q, site_code=site,
    )
    pages = max(1, -(-total // per_page))
    shown = [r.patient.id for r in rows]
    columns = clinic_list.instrument_columns(rows)
    return render_template(
        "clinic/patients.html", rows=rows, total=total, page=page, pages=pages,
        filter_by=filter_by, sort=sort, filters=clinic_list.FILTERS, q=q,
        columns=columns, column_labels={code: instrument_short(code) for code in columns},  # once a page
        sites=sites, site=site,
        query_counts=queries.counts_by_patient(shown), verified=verification.counts_by_patient(shown),
        status_words={code: _(word) for code, word in labels.VISIT_STATUS.items()},  # translated once a page
    )


def _patient(patient_id: int) -> Patient:
    return access.patient_or_404(current_user, patient_id)


def _printed(patient: Patient) -> printing.Stamp:
    """What a printout of this patient's page says about itself, on the site's clock."""
    return printing.stamp(patient.subject_code, patient.site.timezone, current_user, i18n.lang_code(str(get_locale())))


@bp.get("/patients/<int:patient_id>")
def timeline(patient_id: int):
    patient = _patient(patient_id)
    tl = followup.timeline_for(patient)
    shown = [instruments.get(c) for c in followup.protocol_instruments(patient)]
    chart_svgs = {}
    for definition in shown:
        direction = _("Higher is better") if definition.higher_is_better else _("Lower is better")
        chart_svgs[definition.code] = charts.line_chart_svg(
            tl.series(definition.code), y_min=definition.min_total, y_max=definition.max_total,
            title=_(definition.name), description=direction, higher_is_better=definition.higher_is_better,
            id_prefix=f"chart-{definition.code}",
        )
    signed = patient_records.signed_response_ids(patient)
    shown_ids = [a.response_id for tv in tl.visits for a in tv.assessments]
    return render_template(
        "clinic/timeline.html", patient=patient, tl=tl, charts=chart_svgs, signed=signed,
        alerts=worsening_alerts(tl), today=followup.patient_today(patient),
        instruments=shown,
        raters=responses.raters_of(shown_ids),
        form=EmptyForm(), open_queries=queries.unresolved_by_form(patient),
        verified=verification.verified_ids(shown_ids), reverify=verification.reverify_ids(shown_ids),
        printed=_printed(patient),
    )


@bp.route("/patients/<int:patient_id>/visits/<visit>/<instrument>", methods=["GET", "POST"])
@guards.audience("data_entry")
def assess(patient_id: int, visit: str, instrument: str):
    patient = _patient(patient_id)
    if instrument not in instruments.CODES:
        abort(404)
    planned = followup.find_visit(patient, visit)
    if planned is None or instrument not in planned.instruments:
        abort(404)
    definition = instruments.get(instrument)
    replaces = None
    if request.args.get("replaces"):
        replaces = _response(request.args["replaces"])
        if replaces.patient_id != patient.id:
            abort(404)
    query = None
    if request.args.get("query"):  # answering a data query with this correction
        query = queries.get(current_user, converters.id_or_none(request.args["query"]) or 0)
        if query is None or replaces is None or query.response_id != replaces.id:
            abort(404)
    values = dict(request.form) if request.method == "POST" else {}
    errors: dict[str, str] = {}
    kept = prg.take("assess")  # the entry that failed a moment ago: what was typed, and why not
    if kept is not None:
        values, errors = kept.values, kept.messages
    elif replaces is not None and request.method == "GET":
        values = {k: str(v) for k, v in replaces.answers.items()}
        values["version"] = str(replaces.version)
    warnings: list[str] = []
    status = kept.status if kept is not None else 200  # after the redirect: the failure's own status
    if request.method == "POST":
        answers = {i.key: values.get(i.key) for i in definition.items if values.get(i.key) not in (None, "")}
        moment: datetime | None = None
        problems: list[FieldError] = []
        if "assessed_on" in values or "assessed_at" in values:  # a form without them means "now"
            moment, problems = responses.assessment_moment(patient, values.get("assessed_on"),
                                                           values.get("assessed_at"))
        rater, rater_problems = responses.rater_problems(patient, current_user, values.get("rater"))
        try:
            if query is not None:
                assert replaces is not None
                queries.check_correctable(current_user, query, replaces)
            outcome = responses.submit(
                current_user, patient, visit=visit, instrument=instrument, answers=answers,
                respondent="clinician", response_id=values.get("response_id"),
                replaces=replaces, reason=values.get("reason"), seen_version=values.get("version"),
                completed_at=moment.isoformat() if moment else None, rater=rater,
                more_errors=problems + rater_problems,
            )
        except responses.Invalid as exc:
            errors = field_errors(exc.errors)
            status = 422
        except responses.Conflict:
            errors["form"] = _("This form was already saved with other values. Reload to enter again.")
            status = 409
        except Refused as exc:  # the query may not be answered with a correction now
            unit_of_work.fail()
            errors["form"] = refusal_message(exc)
            status = exc.status
        else:
            if query is not None:
                queries.correct(current_user, query, outcome.response, values.get("reason"))
                flash(_("The correction was saved and the query is answered."), "success")
                return redirect(url_for("queries.thread", query_id=query.id))
            total = outcome.response.total
            flash(_("%(name)s saved for %(visit)s: total %(total)s.", name=_(definition.name),
                    visit=visit_label(planned), total=total), "success")
            return redirect(url_for("clinic.timeline", patient_id=patient.id, _anchor=f"visit-{visit}"))
        back = prg.keep(name="assess", errors=errors, status=status)
        if back is not None:
            return back
    values.setdefault("response_id", str(uuid.uuid4()))
    if request.method == "GET" and kept is None:  # when and by whom: now and me, or the corrected entry's
        assessed = responses.now_on_site_clock(patient, replaces.completed_at if replaces else None)
        values["assessed_on"], values["assessed_at"] = assessed
        values["rater"] = str(replaces.rater_id or current_user.id) if replaces else str(current_user.id)
    return render_template(
        "clinic/assess.html", patient=patient, visit=planned, definition=definition,
        values=values, errors=errors, warnings=warnings, replaces=replaces, query=query,
        today=followup.patient_today(patient), raters=responses.raters_for(patient, current_user),
        site_timezone=patient.site.timezone,
    ), status


@bp.route("/enrol", methods=["GET", "POST"])
@guards.audience("data_entry")
def enrol():
    form = EnrolPatientForm()
    site_studies = studies.studies_at(current_user.site_id)
    if not site_studies:
        form.subject_code.errors = [_("Your site takes part in no study yet. Please ask the administrator.")]
    else:
        today = followup.today_in(current_user.site.timezone)

        def enrol_patient() -> Patient:
            day0 = form.day0.data
            assert day0 is not None  # validated: the field requires a date
            return enrolment.enrol(site_studies[0], current_user.site_id, form.details(), current_user,
                                   day0=day0, enrolled_on=min(today, day0),
                                   not_randomized=bool(form.not_randomized.data))

        patient = form.submit(enrol_patient)
        if patient is not None:
            flash(_("%(code)s is enrolled. Give the patient an activation code.", code=patient.subject_code),
                  "success")
            return redirect(url_for("clinic.codes", patient_id=patient.id))
    randomized = bool(site_studies) and studies.protocol_of(site_studies[0]).randomized
    return prg.answer(form, lambda: render_template(
        "clinic/enrol.html", form=form, study=site_studies[0] if site_studies else None,
        randomized=randomized))


@bp.route("/patients/<int:patient_id>/codes", methods=["GET", "POST"])
@guards.audience("data_entry")
def codes(patient_id: int):
    patient = _patient(patient_id)
    form = ActivationRequestForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)  # only the page's own buttons post here
        role = str(form.role.data)  # one of the two, checked by the form
        if role == "patient" and patient.user_id is not None:
            flash(_("This patient already has an account."), "info")
        elif not followup.contactable(patient):
            flash(refusal_message(Refused(activation.NOT_CONTACTABLE)), "error")
        else:
            code, _record = activation.issue(patient, role, current_user)
            # Shown on the page after a redirect: a reload or the language switch shows it again, never a new one.
            return shown_codes.show(code)
        return redirect(prg.this_address(), 303)
    issued = None
    held = shown_codes.held()
    if held is not None and held.record.patient_id == patient.id:
        url = activation.link_for(held.code)
        shown, qr, role = activation.display(held.code), activation.qr_svg(url), held.record.role
        issued = {"role": role, "code": shown, "url": url, "qr": qr, "expires_at": held.record.expires_at,
                  "card": cards.activation_card(patient, role, shown, url, qr, held.record.expires_at)}
    return render_template("clinic/codes.html", patient=patient, form=form, issued=issued,
        today=date.today(), printed=_printed(patient))


def _response(response_id: str) -> Response:
    """A response of a patient this user may see, else 404."""
    response = patient_records.response(response_id)
    if response is None:
        abort(404)
    access.patient_or_404(current_user, response.patient_id)
    return response


def _record_trail(record_ids: list[str]) -> list[AuditEvent]:
    return patient_records.trail(record_ids)


def _users_by_id(ids) -> dict[int, User]:
    return patient_records.users_by_id(ids)


def _render_record(response: Response, *, error: str | None = None, failed_action: str | None = None,
                   typed: dict | None = None) -> str:
    definition = instruments.get(response.instrument)
    zone = current_user.site.timezone if current_user.site else response.patient.site.timezone  # the reader's clock
    trail = trail_view.rows(_record_trail([response.id]), definition, _users_by_id, zone,
                            i18n.lang_code(str(get_locale())))
    return render_template(
        "clinic/record.html", response=response, definition=definition,
        patient=response.patient, trail=trail,
        meanings=records.MEANINGS, error=error, failed_action=failed_action, typed=typed or {},
        queries=queries.about_response(response), verification=verification.current(response),
        verification_state=verification.state_of(response), query_states=query_rules.STATE_LABELS,
        may_verify=query_rules.may_verify(current_user.can, response.respondent),
        timezone=zone,
    )


@bp.get("/responses/<response_id>")
def record(response_id: str):
    response = _response(response_id)
    kept = prg.take("record_change")  # a sign, unlock or remove that failed: its message, what was typed
    if kept is None:
        return _render_record(response)
    # The page after the redirect answers with the failure's status, as the POST would have.
    return _render_record(response, error=kept.form_error, failed_action=kept.failed, typed=kept.values), kept.status


@bp.post("/responses/<response_id>/<action>")
@guards.audience("signer")
def change_record(response_id: str, action: str):
    if action not in RECORD_CHANGES:
        abort(404)
    response = _response(response_id)
    form = RECORD_CHANGES[action]()
    back = url_for("clinic.record", response_id=response.id)
    # Keep what was typed (never the password) so an error costs nothing to fix; a reload of the
    # page the error shows on is a GET, so it never signs (or tries the password) again.
    typed = {"reason": request.form.get("reason", ""), "meaning": request.form.get("meaning", "")}
    if not form.validate_on_submit():
        message = next(iter(m for messages in form.errors.values() for m in messages), _("Bad request"))
        return prg.keep(form, name="record_change", failed=action, form_error=str(message), to=back) or (
            _render_record(response, error=str(message), failed_action=action, typed=typed), 422)
    try:
        if isinstance(form, SignatureForm):
            records.sign(response, current_user, form.password.data or "", form.meaning.data or "",
                         form.version.data)
            flash(_("Signed."), "success")
        elif action == "unlock":
            assert isinstance(form, ReasonForm)
            records.unlock(response, current_user, form.reason.data, form.version.data)
            flash(_("Unlocked. The signature is void; the record can be corrected now."), "success")
        else:
            assert isinstance(form, ReasonForm)
            records.remove(response, current_user, form.reason.data, form.version.data)
            flash(_("Removed from the record. It stays stored with your reason."), "success")
    except records.RecordError as exc:
        unit_of_work.fail()
        return prg.keep(form, name="record_change", failed=action, form_error=_(exc.message), status=exc.status,
                        to=back) or (
            _render_record(_response(response_id), error=_(exc.message), failed_action=action, typed=typed),
            exc.status)
    return redirect(back)


@bp.get("/patients/<int:patient_id>/audit.csv")
def audit_export(patient_id: int):
    """The patient's whole audit trail, every clinical table, as this user may read it (CSV)."""
    patient = _patient(patient_id)
    header = ["at_utc", "user", "role", "action", "table", "record", "field", "old", "new", "reason"]
    rows = ([r.at.isoformat(), r.user, r.role, r.action, r.table, r.record_id, r.field, r.old, r.new, r.reason]
            for r in patient_trail.rows_for(current_user, patient))
    return downloads.csv_download(f"audit-{patient.subject_code}.csv", header, rows)
