"""How a patient's participation ended: completed, withdrawn, lost to follow-up, died.

One call records it (:func:`record_disposition`), audited as ``disposition``
on the patient's row.  From the disposition date on, the schedule treats every
visit not done as "ended" (:func:`epro.core.schedule.ended`), the patient has
nothing due, new patient-reported answers for those visits are refused
(:func:`epro.services.followup.takes_answers`), and a withdrawal of consent or a
death stops every contact (:func:`epro.services.followup.contactable`).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import DISPOSITIONS, AdverseEvent, Patient, User
from epro.services import audit, followup
from epro.services.errors import FieldError, Refused, check

MAX_REASON = 500

UNKNOWN_KIND = N_("Please choose how the participation ended.")
DATE_NEEDED = N_("Please enter a date.")
IN_FUTURE = N_("This date is in the future.")
BEFORE_ENROLMENT = N_("This date is before the enrolment (%(date)s).")
REASON_NEEDED = N_("Please give the reason for the withdrawal.")
REASON_TOO_LONG = N_("The reason is too long (500 characters at most).")
CONSENT_ONLY_WITHDRAWN = N_("Only a withdrawal can be a withdrawal of consent.")
DEATH_EVENT_NEEDED = N_("Please choose the serious adverse event with the fatal outcome.")
DEATH_EVENT_NOT_FATAL = N_("This adverse event is not serious with a fatal outcome. Record the fatal SAE first.")
ALREADY_ENDED = N_("This patient's participation has ended already.")


def fatal_events(patient: Patient) -> list[AdverseEvent]:
    """The patient's active serious adverse events with a fatal outcome (a death links to one)."""
    events = db.session.scalars(
        select(AdverseEvent).where(AdverseEvent.patient_id == patient.id, AdverseEvent.status == "active",
                                   AdverseEvent.outcome == "fatal").order_by(AdverseEvent.onset, AdverseEvent.id))
    return [ae for ae in events if ae.serious]


def death_event(patient: Patient) -> AdverseEvent | None:
    """The fatal SAE a recorded death links to."""
    return db.session.get(AdverseEvent, patient.death_event_id) if patient.death_event_id else None


def problems(patient: Patient, kind: str | None, on: date | None, reason: str | None, consent_withdrawn: bool,
             death_event: AdverseEvent | None) -> list[FieldError]:
    """Every problem of a disposition at once, by field."""
    errors: list[FieldError] = []
    if kind not in DISPOSITIONS:
        errors.append(FieldError("kind", UNKNOWN_KIND))
    if on is None:
        errors.append(FieldError("on", DATE_NEEDED))
    elif on > followup.patient_today(patient):
        errors.append(FieldError("on", IN_FUTURE))
    elif on < patient.enrolled_on:
        errors.append(FieldError("on", BEFORE_ENROLMENT, {"date": patient.enrolled_on}))
    text = (reason or "").strip()
    if kind == "withdrawn" and not text:
        errors.append(FieldError("reason", REASON_NEEDED))
    elif len(text) > MAX_REASON:
        errors.append(FieldError("reason", REASON_TOO_LONG))
    if consent_withdrawn and kind != "withdrawn":
        errors.append(FieldError("consent_withdrawn", CONSENT_ONLY_WITHDRAWN))
    if kind == "died":
        if death_event is None:
            errors.append(FieldError("death_event", DEATH_EVENT_NEEDED))
        elif death_event.id not in {ae.id for ae in fatal_events(patient)}:
            errors.append(FieldError("death_event", DEATH_EVENT_NOT_FATAL))
    return errors


def record_disposition(patient: Patient, kind: str | None, on: date | None, reason: str | None,
                       consent_withdrawn: bool, death_event: AdverseEvent | None, actor: User) -> Patient:
    """End the patient's participation (once), audited as ``disposition``.

    :class:`~epro.services.errors.Invalid` names every wrong field;
    :class:`~epro.services.errors.Refused` if it ended already.
    """
    if patient.disposition is not None:
        raise Refused(ALREADY_ENDED)
    check(problems(patient, kind, on, reason, consent_withdrawn, death_event))
    text = (reason or "").strip()
    with audit.operation("disposition", actor=actor, reason=text or None, detail={"kind": kind}):
        patient.disposition = kind
        patient.disposition_on = on
        patient.disposition_reason = text or None
        patient.consent_withdrawn = bool(consent_withdrawn) and kind == "withdrawn"
        patient.death_event_id = death_event.id if kind == "died" and death_event is not None else None
        db.session.flush()
    followup.refresh_progress([patient.id])
    return patient
