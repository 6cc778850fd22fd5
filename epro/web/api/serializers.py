"""Shapes of the JSON API's objects, in one place (see CONTRACT.md)."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext

from epro.core import labels, schedule
from epro.core.timeline import Timeline
from epro.models import Patient, Response, User
from epro.services import followup
from epro.services.masking import Presenter


def patient(p: Patient, viewer: User, lang: str | None = None) -> dict[str, Any]:
    """The patient; study, site and arm names in *lang* ("zh" or "en"; English when not given)."""
    body: dict[str, Any] = {
        "id": p.id,
        "subject_code": p.subject_code,
        "study": {"code": p.study.code, "name": p.study.name_in(lang or "en"), "protocol": p.study.protocol},
        "site": {"code": p.site.code, "name": p.site.name_in(lang or "en"), "timezone": p.site.timezone},
        "day0": p.day0.isoformat(),
        "enrolled_on": p.enrolled_on.isoformat(),
    }
    arm = Presenter(viewer).arm(p)
    if arm is not None:
        body["arm"] = {"code": arm.code, "label": arm.text(lang or "en")}
    return body


def schedule_of(p: Patient) -> dict[str, Any]:
    planned = followup.planned_visits(p)
    index = schedule.SubmissionIndex(followup.submissions_for(p), planned)
    today = followup.patient_today(p)
    ended_on = followup.ended_on(p)
    visits = []
    for v in planned:
        status = schedule.visit_status(v, index, today, ended_on=ended_on)
        instruments = []
        for code in v.instruments:
            done = schedule.instrument_status(v, code, index, today, ended_on)
            instruments.append({"code": code, "status": done,
                                "status_label": gettext(labels.instrument_status_word(status, done))})
        visits.append({
            "code": v.code,
            "target_date": v.target_date.isoformat(),
            "window_start": v.window_start.isoformat(),
            "window_end": v.window_end.isoformat(),
            "status": status,
            "status_label": gettext(labels.VISIT_STATUS[status]),
            "instruments": instruments,
        })
    return {"visits": visits}


def response(r: Response, counts: bool | None = None, viewer: User | None = None) -> dict[str, Any]:
    body = {
        "id": r.id,
        "patient_id": r.patient_id,
        "visit": r.visit_code,
        "instrument": r.instrument,
        "answers": r.answers,
        "total": r.total,
        "flags": list(r.flags or []),
        "respondent": r.respondent,
        "completed_at": r.completed_at.isoformat(),
        "received_at": r.received_at.isoformat(),
    }
    if counts is not None:
        body["counts"] = counts
    if viewer is not None and viewer.is_staff and r.rater is not None:
        body["rater"] = r.rater.username  # who performed a clinician assessment (staff only)
    return body


def timeline(p: Patient, tl: Timeline, viewer: User, lang: str | None = None) -> dict[str, Any]:
    return {
        "patient": patient(p, viewer, lang),
        "visits": [
            {
                "code": tv.visit.code,
                "target_date": tv.visit.target_date.isoformat(),
                "window_start": tv.visit.window_start.isoformat(),
                "window_end": tv.visit.window_end.isoformat(),
                "status": tv.status,
                "status_label": gettext(labels.VISIT_STATUS[tv.status]),
                "assessments": [
                    {
                        "response_id": a.response_id,
                        "instrument": a.instrument,
                        "total": a.total,
                        "change_from_baseline": a.change_from_baseline,
                        "respondent": a.respondent,
                        "completed_at": a.completed_at.isoformat(),
                        "received_at": a.received_at.isoformat(),
                        "timing": a.timing,
                        "flags": sorted(a.flags),
                        "analysis_flags": sorted(a.analysis_flags),
                    }
                    for a in tv.assessments
                ],
            }
            for tv in tl.visits
        ],
    }
