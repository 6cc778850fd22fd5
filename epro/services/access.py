"""Who may see which patient.  One place, used by every page and endpoint.

Patients see only themselves, caregivers only the patients linked to them,
clinicians, investigators and monitors only patients of their own site, data
managers every site's (the scope of each role: ``epro.core.roles``).  Anything
else is "not found", never "forbidden", so existence does not leak.
"""
from __future__ import annotations

from flask import abort
from sqlalchemy import Select, false, select

from epro.base.orm import db
from epro.core import instruments, roles
from epro.models import CaregiverLink, Patient, User
from epro.models.types import MAX_ID

#: Who reports an instrument (``Instrument.reporter``) → the roles that may answer it.
PATIENT_SIDE = roles.with_capability("answers_patient_reported")


def visible_patients(user: User) -> Select:
    query = select(Patient)
    scope = user.can.patients
    if scope == "self":
        return query.where(Patient.user_id == user.id)
    if scope == "linked":
        linked = select(CaregiverLink.patient_id).where(
            CaregiverLink.caregiver_id == user.id, CaregiverLink.unlinked_at.is_(None))  # an ended link: no access
        return query.where(Patient.id.in_(linked))
    if scope == "site" and user.site_id is not None:
        return query.where(Patient.site_id == user.site_id)
    if scope == "all":
        return query
    return query.where(false())


def patient_or_404(user: User, patient_id: int) -> Patient:
    if not 0 < patient_id <= MAX_ID:
        abort(404)
    patient = db.session.scalar(visible_patients(user).where(Patient.id == patient_id))
    if patient is None:
        abort(404)
    return patient


def may_submit(user: User, instrument: str) -> bool:
    """Patients and caregivers answer patient-reported instruments; staff who enter data rate
    everything; read-only staff (data manager, monitor) submit nothing.

    Decided by the instrument's definition (``reporter``), so a newly registered
    instrument needs no change here.
    """
    can = user.can
    if can.enters_data:
        return True
    if can.answers_patient_reported:
        return instruments.get(instrument).reporter == "patient"
    return False


def respondents_for(user: User) -> tuple[str, ...]:
    return user.can.respondents
