"""Screening candidates, the screening log, and randomizing an eligible candidate."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from epro.base.extensions import db
from epro.core import instruments
from epro.core.instruments.mmse import EDUCATION_LEVELS
from epro.core.trial import eligibility as rules
from epro.models import Screening, Study
from epro.services import followup
from epro.services.trial import allocation, fields, screening, studies
from epro.web.hooks import presenter
from epro.web.trial import bp, problems, say


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
    for study in studies.studies_at(current_user.site_id):
        rows, summary = screening.log(study, current_user.site_id)
        logs.append({"study": study, "protocol": studies.protocol_of(study), "rows": rows, "summary": summary})
    return render_template("trial/screening_log.html", logs=logs)


def _form_page(study: Study, existing: Screening | None):
    protocol = studies.protocol_of(study)
    errors: dict[str, str] = {}
    status = 200
    values: Mapping[str, Any]
    if request.method == "POST":
        values = request.form
        try:
            inp = screening.read(protocol, request.form, _today(), existing)
            s = screening.save(study, current_user.site, protocol, inp, current_user, existing)
        except fields.Invalid as exc:
            errors, status = problems(exc), 422
        except fields.Refused as exc:
            errors, status = {"form": say(exc.message, exc.params)}, exc.status
        else:
            db.session.commit()
            if s.eligible:
                flash(_("%(code)s is eligible.", code=s.screening_code), "success")
            else:
                flash(_("%(code)s is not eligible; the reasons are listed below.", code=s.screening_code), "info")
            return redirect(url_for("trial.screening_detail", screening_id=s.id))
    else:
        values = _values_of(existing) if existing else {"screened_on": _today().isoformat()}
    return render_template(
        "trial/screening_form.html", study=study, protocol=protocol, existing=existing, values=values,
        errors=errors, nihss=instruments.get("nihss"), criterion_field=screening.CRITERION_FIELD,
        investigator_criteria=[c for c in protocol.eligibility if not c.computable],
    ), status


def _values_of(s: Screening) -> dict[str, str]:
    values = {
        "screened_on": s.screened_on.isoformat(), "birth_date": s.birth_date.isoformat(), "sex": s.sex,
        "onset_date": s.onset_date.isoformat(), "pregnancy_test": s.pregnancy_test or "",
        "childbearing_potential": ("yes" if s.childbearing_potential else "no") if s.sex == rules.FEMALE else "",
    }
    values.update({k: str(v) for k, v in (s.nihss_answers or {}).items()})
    values.update({screening.CRITERION_FIELD.format(key=k): "yes" if v else "no" for k, v in (s.answers or {}).items()})
    return values


@bp.route("/studies/<int:study_id>/screenings/new", methods=["GET", "POST"])
def new_screening(study_id: int):
    return _form_page(_study(study_id), None)


@bp.route("/screenings/<int:screening_id>/edit", methods=["GET", "POST"])
def edit_screening(screening_id: int):
    s = _screening(screening_id)
    if s.patient_id is not None:
        abort(404)
    return _form_page(s.study, s)


def _detail(s: Screening, errors: dict[str, str] | None = None, values=None, status: int = 200):
    protocol = studies.protocol_of(s.study)
    return render_template(
        "trial/screening.html", s=s, study=s.study, protocol=protocol,
        evaluation=screening.evaluation(protocol, s), rules=rules, errors=errors or {}, values=values or {},
        education_levels=EDUCATION_LEVELS, choose_arm=not protocol.randomized and presenter().sees_arms_in(s.study),
        list_ready=not protocol.randomized or allocation.free_places(s.study, s.site_id) > 0,
    ), status


@bp.get("/screenings/<int:screening_id>")
def screening_detail(screening_id: int):
    return _detail(_screening(screening_id))


@bp.post("/screenings/<int:screening_id>/randomize")
def randomize(screening_id: int):
    s = _screening(screening_id)
    try:
        patient = allocation.randomize(s, request.form, current_user, _today())
    except fields.Invalid as exc:
        db.session.rollback()
        return _detail(_screening(screening_id), problems(exc), request.form, 422)
    except fields.Refused as exc:
        db.session.rollback()
        return _detail(_screening(screening_id), {"form": say(exc.message, exc.params)}, request.form, 409)
    db.session.commit()
    flash(_("%(code)s is randomized and enrolled. Give the patient an activation code.",
            code=patient.subject_code), "success")
    return redirect(url_for("clinic.codes", patient_id=patient.id))
