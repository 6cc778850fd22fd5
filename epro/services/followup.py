"""Bridges stored patients and responses to the pure schedule and timeline.

Everything here loads in a fixed number of queries, however many patients:
the clinician's list for thousands of patients makes one query for the
patients and one for their responses.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, delete, exists, insert, select, update
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import endpoints, instruments, schedule, timeline
from epro.core.exports.records import VisitValue
from epro.core.protocols import Protocol
from epro.models import Patient, PatientFlags, Response, Signature, VisitProgress
from epro.services import protocols


def today_in(tz: str) -> date:
    """Today's date at the site; EPRO_TODAY pins it for demos and tests."""
    pinned = current_app.config.get("TODAY")
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    return datetime.now(ZoneInfo(tz)).date()


def patient_today(patient: Patient) -> date:
    return today_in(patient.site.timezone)


def ended_on(patient: Patient) -> date | None:
    """The day the patient's participation ended (disposition recorded), else None."""
    return patient.disposition_on if patient.disposition else None


def died_on(patient: Patient) -> date | None:
    """The date of death, for a patient whose participation ended by death."""
    return patient.disposition_on if patient.disposition == "died" else None


def contactable(patient: Patient) -> bool:
    """Whether epro may contact the patient at all (reminders, messages, notices).

    False once consent was withdrawn or the patient died: from then on nothing
    is sent, whatever else is due.
    """
    return not patient.consent_withdrawn and patient.disposition != "died"


def takes_answers(patient: Patient, visit: schedule.PlannedVisit, completed_on: date) -> bool:
    """Whether a new patient-reported answer for *visit*, completed on *completed_on*, may be stored.

    From the day the participation ended, a visit it cut short takes no new
    answers (answers completed before that day, sent later from an offline
    phone, still do).
    """
    end = ended_on(patient)
    return not (schedule.ended(visit, end) and end is not None and completed_on >= end)


def planned_visits(patient: Patient) -> tuple[schedule.PlannedVisit, ...]:
    """The patient's visits, windows and instruments, from the study's protocol."""
    return schedule.plan(patient.day0, patient.enrolled_on, protocols.visit_defs(patient.study.protocol))


def plans_for(patients: list[Patient]) -> dict[int, tuple[schedule.PlannedVisit, ...]]:
    """:func:`planned_visits` of many patients, reading each study's protocol once."""
    visits_of: dict[str, tuple[schedule.VisitDef, ...]] = {}
    plans = {}
    for p in patients:
        code = p.study.protocol
        if code not in visits_of:
            visits_of[code] = protocols.visit_defs(code)
        plans[p.id] = schedule.plan(p.day0, p.enrolled_on, visits_of[code])
    return plans


def find_visit(patient: Patient, code: object) -> schedule.PlannedVisit | None:
    """The planned visit *code* of this patient, or None if the protocol has none such."""
    return next((v for v in planned_visits(patient) if v.code == code), None)


def protocol_instruments(patient: Patient, reporter: str | None = None) -> tuple[str, ...]:
    """Every instrument any visit of the patient's protocol asks for, in visit order,
    optionally only those reported by *reporter* ("patient" or "clinician")."""
    seen: dict[str, None] = {}
    for visit in protocols.visit_defs(patient.study.protocol):
        seen.update(dict.fromkeys(visit.instruments))
    return tuple(seen) if reporter is None else instruments.reported_by(reporter, seen)


def submission_query(patient_ids: list[int], *extra: Any) -> Select[*tuple[Any, ...]]:
    """The active responses of these patients, scoring columns first (what :func:`submission`
    reads), then any *extra* columns, oldest first (completed, received, id)."""
    # Which answer counts prefers a signed clinician assessment (schedule.counting_key).
    signed = exists().where(Signature.response_id == Response.id, Signature.voided_at.is_(None))
    return (
        select(
            Response.id, Response.patient_id, Response.visit_code, Response.instrument,
            Response.completed_at, Response.received_at, Response.total, Response.respondent,
            Response.flags, signed, *extra,
        ).where(Response.patient_id.in_(patient_ids), Response.status == "active")
        .order_by(Response.patient_id, Response.completed_at, Response.received_at, Response.id)
    )


def submission(row: Sequence[Any], tz: str) -> schedule.Submission:
    """The :class:`schedule.Submission` of a row of :func:`submission_query`."""
    rid, _pid, visit, instrument, completed_at, received_at, total, respondent, flags, is_signed = row[:10]
    return schedule.Submission(
        id=rid, visit=visit, instrument=instrument, completed_at=completed_at,
        received_at=received_at, completed_on=schedule.local_date(completed_at, tz),
        total=total, respondent=respondent, flags=frozenset(flags or ()), signed=bool(is_signed),
    )


def submissions_by_patient(patients: list[Patient]) -> dict[int, list[schedule.Submission]]:
    """Active responses of many patients in one query, scoring columns only
    (no answers, no ORM objects): cheap enough for thousands of patients."""
    tz_of = {p.id: p.site.timezone for p in patients}
    result: dict[int, list[schedule.Submission]] = defaultdict(list)
    if not patients:
        return result
    for row in db.session.execute(submission_query(list(tz_of))):
        result[row[1]].append(submission(row, tz_of[row[1]]))
    return result


def counting_ids(patient: Patient) -> set[str]:
    """Ids of the patient's responses that count (schedule.counting_key, with the patient's windows)."""
    return schedule.counting_ids(submissions_for(patient), planned_visits(patient))


def submissions_for(patient: Patient) -> list[schedule.Submission]:
    return submissions_by_patient([patient])[patient.id]


def timelines_for(
    patients: list[Patient], today_of: Callable[[Patient], date] = patient_today,
    submissions: Mapping[int, list[schedule.Submission]] | None = None,
) -> dict[int, timeline.Timeline]:
    """Patient id → timeline, for many patients in two queries (plans from each protocol read once).

    *submissions* (patient id → :func:`submission` list) saves the query when the caller
    has read the responses already (the export loader reads them with their answers)."""
    plans = plans_for(patients)
    subs = submissions if submissions is not None else submissions_by_patient(patients)
    return {p.id: timeline.build_timeline(plans[p.id], subs.get(p.id, []), today_of(p), ended_on(p))
            for p in patients}


def endpoint_values(patient: Patient, tl: timeline.Timeline, protocol: Protocol) -> tuple[VisitValue, ...]:
    """The patient's endpoint values (epro.core.endpoints), with the death date and the protocol's setting."""
    return endpoints.visit_values(patient.subject_code, tl, died_on=died_on(patient),
                                  after_death=protocol.analysis.after_death)


def timeline_for(patient: Patient) -> timeline.Timeline:
    return timeline.build_timeline(
        planned_visits(patient), submissions_for(patient), patient_today(patient), ended_on(patient)
    )


def refresh_progress(patient_ids: list[int], *, visit_code: str | None = None) -> dict[int, set[str]]:
    """Rebuild the list projection (visit_progress, patient_flags) of these patients;
    return each one's counting response ids (:func:`counting_ids`, without reading again).

    Runs in the caller's transaction, so a stored response and its projection
    commit together.  Far-future "today" is irrelevant here: only facts that do not
    depend on today are stored (``timeline.StoredFacts``), and the status is derived
    from them with the real today.  With *visit_code* (one response stored, changed or
    removed for that visit), only that visit's row and the patient's flags are
    written: a response changes which answer counts for its own visit only.
    """
    if not patient_ids:
        return {}
    # Lock the patients first, so two writers for one patient rebuild one after
    # the other: on PostgreSQL (READ COMMITTED) the second one would otherwise
    # miss the first one's response and fail on the projection's primary key.
    # FOR NO KEY UPDATE does not wait for the KEY SHARE lock of our own response
    # insert; on SQLite, FOR UPDATE takes the write lock (epro.base.database).
    patients = db.session.scalars(
        select(Patient).where(Patient.id.in_(patient_ids))
        .options(joinedload(Patient.site), joinedload(Patient.study))
        .order_by(Patient.id).with_for_update(key_share=True, of=Patient)
    ).all()
    subs = submissions_by_patient(list(patients))
    plans = plans_for(list(patients))
    progress_rows, flag_rows, counting = [], [], {}
    for patient in patients:
        planned = plans[patient.id]
        index = schedule.SubmissionIndex(subs[patient.id], planned)
        counting[patient.id] = {s.id for s in index.counting_all()}
        facts = timeline.stored_facts(
            timeline.build_timeline(planned, index, patient_today(patient), ended_on(patient)))
        for visit in planned:
            if visit_code is not None and visit.code != visit_code:
                continue
            counts = facts.counts[visit.code]
            progress_rows.append(dict(
                patient_id=patient.id, visit_code=visit.code, window_start=visit.window_start,
                window_end=visit.window_end, required=counts.required, done=counts.done,
                late_done=counts.late_done,
            ))
        flag_rows.append(dict(patient_id=patient.id, **flags_record(facts)))
    ids = [p.id for p in patients]
    if visit_code is not None and _update_in_place(progress_rows, flag_rows):
        return counting
    db.session.execute(delete(VisitProgress).where(VisitProgress.patient_id.in_(ids)))
    db.session.execute(delete(PatientFlags).where(PatientFlags.patient_id.in_(ids)))
    if visit_code is not None:  # the projection was missing or partial: rebuild it whole
        return refresh_progress(ids)
    if progress_rows:
        db.session.execute(insert(VisitProgress), progress_rows)
    db.session.execute(insert(PatientFlags), flag_rows)
    return counting


def _update_in_place(progress_rows: list[dict[str, Any]], flag_rows: list[dict[str, Any]]) -> bool:
    """Update the rows of an existing projection; False if one of them is not there."""
    for row in progress_rows:
        done = db.session.execute(
            update(VisitProgress)
            .where(VisitProgress.patient_id == row["patient_id"], VisitProgress.visit_code == row["visit_code"])
            .values(required=row["required"], done=row["done"], late_done=row["late_done"])
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
    for row in flag_rows:
        done = db.session.execute(
            update(PatientFlags).where(PatientFlags.patient_id == row["patient_id"])
            .values({k: v for k, v in row.items() if k != "patient_id"})
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
    return True


def flags_record(facts: timeline.StoredFacts) -> dict[str, Any]:
    """The ``patient_flags`` columns of a patient's stored facts."""
    return dict(alert_count=len(facts.alerts), latest=dict(facts.latest),
                alerts=[dataclasses.asdict(a) for a in facts.alerts])


def stored_facts(flags: Any, progress: Sequence[Any]) -> timeline.StoredFacts | None:
    """A patient's facts read back from the projection (a ``PatientFlags`` and its ``VisitProgress``
    rows, or plain rows of their columns); None where it was built before it kept them (a
    database upgraded from before migration 0011, until its next refresh)."""
    if flags is None or flags.latest is None or flags.alerts is None:
        return None
    return timeline.StoredFacts(
        counts={row.visit_code: schedule.VisitCounts(row.required, row.done, row.late_done) for row in progress},
        latest=flags.latest,
        alerts=tuple(timeline.Alert(**a) for a in flags.alerts),
    )
