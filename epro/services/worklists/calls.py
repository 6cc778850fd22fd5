"""The nurse's call list: who is due or overdue at the site, the reminders sent, the last call.

Who is due comes from the schedule's agenda (``schedule.agenda``: the
patient-reported questionnaires of an open window, or of a closed one still
taking answers), so the list empties as patients answer.  A patient whose
participation ended, who withdrew consent or who died is never on it
(``followup.contactable``).  Nothing here reads or needs the arm.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import schedule, worklists
from epro.core.i18n_marker import N_
from epro.models import ContactCall, Patient, ReminderClaim, User
from epro.models.reminders import SENT
from epro.services import followup
from epro.services.errors import FieldError, Invalid

CHOOSE_OUTCOME = N_("Please choose what happened on the call.")
NOTE_TOO_LONG = N_("At most %(n)s characters.")


@dataclass(frozen=True)
class CallRow:
    patient: Patient
    status: str
    visit: worklists.DueVisit
    #: Every visit with something to answer, most urgent first.
    visits: tuple[worklists.DueVisit, ...]
    #: The questionnaires still to answer for the most urgent visit.
    pending: tuple[str, ...]
    reminders_sent: int
    last_reminder: datetime | None
    last_call: ContactCall | None
    #: Days until the visit's window closes (negative: closed that many days ago).
    days_left: int = 0


def _site_patients(user: User) -> list[Patient]:
    """The user's site's patients who may be called (site staff only; others: none)."""
    if not user.can.sees_own_site or user.site_id is None:
        return []
    return list(db.session.scalars(
        select(Patient).options(joinedload(Patient.site), joinedload(Patient.study))
        .where(Patient.site_id == user.site_id, Patient.disposition.is_(None),
               Patient.consent_withdrawn.is_(False))
        .order_by(Patient.subject_code)))


def _reminders(patient_ids: list[int]) -> dict[tuple[int, str], tuple[int, datetime | None]]:
    """(patient, visit) → (reminders sent, the last one's time), from the reminder claims."""
    if not patient_ids:
        return {}
    rows = db.session.execute(
        select(ReminderClaim.patient_id, ReminderClaim.visit_code, func.count(), func.max(ReminderClaim.sent_at))
        .where(ReminderClaim.patient_id.in_(patient_ids), ReminderClaim.status == SENT)
        .group_by(ReminderClaim.patient_id, ReminderClaim.visit_code))
    return {(pid, visit): (n, last) for pid, visit, n, last in rows}


def last_calls(patient_ids: list[int]) -> dict[int, ContactCall]:
    if not patient_ids:
        return {}
    latest = (select(ContactCall.patient_id, func.max(ContactCall.id).label("id"))
              .where(ContactCall.patient_id.in_(patient_ids)).group_by(ContactCall.patient_id).subquery())
    rows = db.session.scalars(select(ContactCall).join(latest, latest.c.id == ContactCall.id)
                              .options(joinedload(ContactCall.called_by)))
    return {c.patient_id: c for c in rows}


def call_list(user: User) -> list[CallRow]:
    """The site's patients with patient-reported questionnaires to answer now, most urgent first."""
    patients = _site_patients(user)
    plans = followup.plans_for(patients)
    subs = followup.submissions_by_patient(patients)
    found: list[tuple[Patient, date, list[worklists.DueVisit], tuple[str, ...]]] = []
    for p in patients:
        if not followup.contactable(p):
            continue
        today = followup.patient_today(p)
        own = followup.protocol_instruments(p, "patient")
        if not own:
            continue
        index = schedule.SubmissionIndex(subs[p.id], plans[p.id])
        todo = schedule.agenda(plans[p.id], index, today, own, ended_on=followup.ended_on(p))
        visits = [worklists.DueVisit(v.code, v.window_start, v.window_end, overdue=True) for v in todo.overdue]
        visits += [worklists.DueVisit(v.code, v.window_start, v.window_end, overdue=False) for v in todo.due_now]
        if not visits:
            continue
        visits.sort(key=lambda v: worklists.sort_key(worklists.urgency(v, today), v, today, None))
        first = next(v for v in plans[p.id] if v.code == visits[0].code)
        pending = tuple(i for i in first.instruments if i in own and index.counting(first.code, i) is None)
        found.append((p, today, visits, pending))
    ids = [p.id for p, *_ in found]
    sent = _reminders(ids)
    calls = last_calls(ids)
    rows = []
    for p, today, visits, pending in found:
        visit = visits[0]
        n, last = sent.get((p.id, visit.code), (0, None))
        rows.append(CallRow(patient=p, status=worklists.urgency(visit, today), visit=visit, visits=tuple(visits),
                            pending=pending, reminders_sent=n, last_reminder=last, last_call=calls.get(p.id),
                            days_left=(visit.window_end - today).days))
    rows.sort(key=lambda r: (*worklists.sort_key(r.status, r.visit, followup.patient_today(r.patient),
                                                 r.last_call.called_at if r.last_call else None),
                             r.patient.subject_code))
    return rows


def calls_of(patient: Patient) -> list[ContactCall]:
    """Every call to the patient, newest first."""
    return list(db.session.scalars(select(ContactCall).where(ContactCall.patient_id == patient.id)
                                   .options(joinedload(ContactCall.called_by))
                                   .order_by(ContactCall.called_at.desc(), ContactCall.id.desc())))


def record_call(patient: Patient, actor: User, *, outcome: object, note: object = "",
                visit: object = None) -> ContactCall:
    """A phone call and its outcome (from the fixed list); audited by the session as a create."""
    errors = []
    if not isinstance(outcome, str) or outcome not in worklists.OUTCOMES:
        errors.append(FieldError("outcome", CHOOSE_OUTCOME))
    text = (note if isinstance(note, str) else "").strip()
    if len(text) > worklists.MAX_NOTE:
        errors.append(FieldError("note", NOTE_TOO_LONG, {"n": worklists.MAX_NOTE}))
    if errors:
        raise Invalid(errors)
    visit_code = visit if isinstance(visit, str) and followup.find_visit(patient, visit) is not None else None
    call = ContactCall(patient_id=patient.id, visit_code=visit_code, outcome=str(outcome), note=text,
                       called_by_id=actor.id)
    db.session.add(call)
    db.session.flush()
    return call


def counts_by_status(rows: list[CallRow]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r.status] += 1
    return {s: out[s] for s in worklists.URGENCY}
