"""The clinician's site list: who is due, late or missed, and whose scores got worse.

Two queries per page whatever the number of patients (patients with their
site, then their responses' scoring columns), so the list stays fast with
thousands of patients.  Filters need every patient's status, which is
computed from light column-only rows, never from full ORM objects.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from epro import schedule, timeline
from epro.extensions import db
from epro.models import Patient, Response, User

FILTERS = ("all", "due_week", "late", "missed", "alerts")
SORTS = ("subject", "next_visit", "day0")


@dataclass(frozen=True)
class Row:
    patient: Patient
    summary: timeline.PatientSummary


def _submissions(patient_ids: list[int], tz_of: dict[int, str]) -> dict[int, list[schedule.Submission]]:
    result: dict[int, list[schedule.Submission]] = defaultdict(list)
    if not patient_ids:
        return result
    rows = db.session.execute(
        select(
            Response.id, Response.patient_id, Response.visit_code, Response.instrument,
            Response.completed_at, Response.received_at, Response.total, Response.respondent,
            Response.flags,
        ).where(Response.patient_id.in_(patient_ids), Response.status == "active")
    )
    for rid, pid, visit, instrument, completed_at, received_at, total, respondent, flags in rows:
        result[pid].append(schedule.Submission(
            id=rid, visit=visit, instrument=instrument, completed_at=completed_at,
            received_at=received_at, completed_on=schedule.local_date(completed_at, tz_of[pid]),
            total=total, respondent=respondent, flags=frozenset(flags or ()),
        ))
    return result


def _summaries(patients: list[Patient], today_for) -> list[Row]:
    tz_of = {p.id: p.site.timezone for p in patients}
    subs = _submissions(list(tz_of), tz_of)
    rows = []
    for p in patients:
        today = today_for(p.site.timezone)
        planned = schedule.plan(p.day0, p.enrolled_on)
        rows.append(Row(p, timeline.summarize(p.day0, planned, subs[p.id], today)))
    return rows


def due_within(row: Row, today: date, days: int = 7) -> bool:
    if row.summary.due:
        return True
    nxt = row.summary.next_visit
    return nxt is not None and nxt.window_start <= today + timedelta(days=days)


def site_list(user: User, *, page: int, per_page: int, filter_by: str, sort: str, today_for):
    """(rows, total count) for one page of the user's site."""
    base = select(Patient).where(Patient.site_id == user.site_id).options(joinedload(Patient.site))
    order = {"subject": Patient.subject_code, "day0": Patient.day0.desc(), "next_visit": Patient.day0.desc()}
    base = base.order_by(order.get(sort, Patient.subject_code), Patient.id)
    if filter_by == "all" and sort != "next_visit":
        total = db.session.scalar(select(func.count()).select_from(Patient).where(Patient.site_id == user.site_id))
        patients = db.session.scalars(base.limit(per_page).offset((page - 1) * per_page)).unique().all()
        return _summaries(list(patients), today_for), total or 0
    everyone = db.session.scalars(base).unique().all()
    rows = _summaries(list(everyone), today_for)
    tz_today = {}

    def keep(row: Row) -> bool:
        tz = row.patient.site.timezone
        today = tz_today.setdefault(tz, today_for(tz))
        if filter_by == "due_week":
            return due_within(row, today)
        if filter_by == "late":
            return bool(row.summary.late)
        if filter_by == "missed":
            return bool(row.summary.missed)
        if filter_by == "alerts":
            return bool(row.summary.alerts)
        return True

    rows = [r for r in rows if keep(r)]
    if sort == "next_visit":
        rows.sort(key=_next_key)
    start = (page - 1) * per_page
    return rows[start:start + per_page], len(rows)


def _next_key(row: Row):
    nxt = row.summary.next_visit
    return (nxt is None, nxt.window_start if nxt else date.max, row.patient.subject_code)


