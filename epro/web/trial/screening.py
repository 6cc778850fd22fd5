"""Screening candidates, the screening log, and randomizing an eligible candidate."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.core import instruments
from epro.core.instruments.mmse import EDUCATION_LEVELS
from epro.core.trial import eligibility as rules
from epro.models import Screening, Study
from epro.services import followup
from epro.services.trial import allocation, screening, studies
from epro.web import guards, prg
from epro.web.hooks import presenter
from epro.web.trial import bp
from epro.web.trial.forms import CRITERION_FIELD, RandomizeForm, screening_form, screening_values


def _study(study_id: int) -> Study:
    study = studies.visible_study(current_user, study_id)
    if study is None:
        abort(404)
    return study


def _screening(screening_id: int) -> Screening:
    s = screening.visible_screening(current_user, screening_id)
    if s is None:
        abort(404)
    return s


def _today():
    return followup.today_in(current_user.site.timezone)


@bp.get("/screening")
def screening_log():
    logs = []
    for study in studies.visible_studies(current_user):  # a data manager's: every study, every site
        rows, summary = screening.log(study, current_user.site_id)
        logs.append({"study": study, "protocol": studies.protocol_of(study), "rows": rows, "summary": summary})
    return render_template("trial/screening_log.html", logs=logs)


def _form_page(study: Study, existing: Screening | None):
    protocol = studies.protocol_of(study)
    data = screening_values(existing) if existing else {"screened_on": _today()}
    form = screening_form(protocol, existing, today=_today(), data=data)
    s = form.submit(lambda: screening.save(study, current_user.site, protocol, form.entry(), current_user,
                                           existing))
    if s is not None:
        if s.eligible:
            flash(_("%(code)s is eligible.", code=s.screening_code), "success")
        else:
            flash(_("%(code)s is not eligible; the reasons are listed below.", code=s.screening_code), "info")
        return redirect(url_for("trial.screening_detail", screening_id=s.id))
    return prg.answer(form, lambda: render_template(
        "trial/screening_form.html", study=study, protocol=protocol, existing=existing, form=form,
        nihss=instruments.get("nihss"), criterion_field=CRITERION_FIELD,
        investigator_criteria=[c for c in protocol.eligibility if not c.computable],
    ))


@bp.route("/studies/<int:study_id>/screenings/new", methods=["GET", "POST"])
@guards.audience("data_entry")
def new_screening(study_id: int):
    return _form_page(_study(study_id), None)


@bp.route("/screenings/<int:screening_id>/edit", methods=["GET", "POST"])
@guards.audience("data_entry")
def edit_screening(screening_id: int):
    s = _screening(screening_id)
    if s.patient_id is not None:
        abort(404)
    return _form_page(s.study, s)


def _randomize_form(s: Screening) -> RandomizeForm:
    protocol = studies.protocol_of(s.study)
    choose_arm = not protocol.randomized and presenter().sees_arms_in(s.study)
    return RandomizeForm(arm_codes=[a.code for a in presenter().study_arms(s.study)] if choose_arm else None)


def _detail(s: Screening, form: RandomizeForm):
    protocol = studies.protocol_of(s.study)
    back = url_for("trial.screening_detail", screening_id=s.id)  # a failed randomization shows here
    return prg.answer(form, to=back, page=lambda: render_template(
        "trial/screening.html", s=s, study=s.study, protocol=protocol, form=form,
        evaluation=screening.evaluation(protocol, s), rules=rules,
        education_levels=[(code, _(label)) for code, label in EDUCATION_LEVELS], choose_arm="arm" in form,
        list_ready=not protocol.randomized or allocation.free_places(s.study, s.site_id) > 0,
    ))


@bp.get("/screenings/<int:screening_id>")
def screening_detail(screening_id: int):
    s = _screening(screening_id)
    return _detail(s, _randomize_form(s))


@bp.post("/screenings/<int:screening_id>/randomize")
def randomize(screening_id: int):
    s = _screening(screening_id)
    form = _randomize_form(s)
    patient = form.submit(
        lambda: allocation.randomize(s, current_user, _today(), subject_code=form.subject_code.data,
                                     education=form.education.data, language=form.language.data,
                                     arm_code=form.arm_code),
        first=lambda: allocation.ensure_randomizable(s, current_user))
    if patient is None:  # the refusal rolled back: read the screening again
        return _detail(_screening(screening_id), form)
    flash(_("%(code)s is randomized and enrolled. Give the patient an activation code.",
            code=patient.subject_code), "success")
    return redirect(url_for("clinic.codes", patient_id=patient.id))
