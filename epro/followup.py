"""Bridges stored patients and responses to the pure schedule and timeline.

Everything here loads in a fixed number of queries, however many patients:
the clinician's list for thousands of patients makes one query for the
patients and one for their responses.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from epro import schedule, timeline
from epro.extensions import db
from epro.models import Patient, Response


def today_in(tz: str) -> date:
    """Today's date at the site; EPRO_TODAY pins it for demos and tests."""
    pinned = current_app.config.get("TODAY")
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    return datetime.now(ZoneInfo(tz)).date()


def patient_today(patient: Patient) -> date:
    return today_in(patient.site.timezone)


def planned_visits(patient: Patient) -> tuple[schedule.PlannedVisit, ...]:
    return schedule.plan(patient.day0, patient.enrolled_on)


def find_visit(patient: Patient, code: str) -> schedule.PlannedVisit | None:
    return next((v for v in planned_visits(patient) if v.code == code), None)


def as_submission(response: Response, tz: str) -> schedule.Submission:
    return schedule.Submission(
        id=response.id,
        visit=response.visit_code,
        instrument=response.instrument,
        completed_at=response.completed_at,
        received_at=response.received_at,
        completed_on=schedule.local_date(response.completed_at, tz),
        total=response.total,
        respondent=response.respondent,
        flags=frozenset(response.flags or ()),
    )


def submissions_by_patient(patients: list[Patient]) -> dict[int, list[schedule.Submission]]:
    """Active responses of many patients in one query."""
    tz_of = {p.id: p.site.timezone for p in patients}
    result: dict[int, list[schedule.Submission]] = defaultdict(list)
    if not patients:
        return result
    rows = db.session.execute(
        select(Response)
        .where(Response.patient_id.in_(list(tz_of)), Response.status == "active")
        .order_by(Response.completed_at)
    ).scalars()
    for response in rows:
        result[response.patient_id].append(as_submission(response, tz_of[response.patient_id]))
    return result


def submissions_for(patient: Patient) -> list[schedule.Submission]:
    return submissions_by_patient([patient])[patient.id]


def timeline_for(patient: Patient) -> timeline.Timeline:
    return timeline.build_timeline(
        planned_visits(patient), submissions_for(patient), patient_today(patient)
    )
