"""Who may see which patient.  One place, used by every page and endpoint.

Patients see only themselves, caregivers only the patients linked to them,
clinicians and investigators only patients of their own site.  Anything else
is "not found", never "forbidden", so existence does not leak.
"""
from __future__ import annotations

from flask import abort
from sqlalchemy import Select, false, select

from epro.base.orm import db
from epro.core import instruments
from epro.models import CaregiverLink, Patient, User
from epro.models.types import MAX_ID

#: Who reports an instrument (``Instrument.reporter``) → the roles that may answer it.
PATIENT_SIDE = ("patient", "caregiver")


def visible_patients(user: User) -> Select:
    query = select(Patient)
    if user.role == "patient":
        return query.where(Patient.user_id == user.id)
    if user.role == "caregiver":
        linked = select(CaregiverLink.patient_id).where(
            CaregiverLink.caregiver_id == user.id, CaregiverLink.unlinked_at.is_(None))  # an ended link: no access
        return query.where(Patient.id.in_(linked))
    if user.is_staff and user.site_id is not None:
        return query.where(Patient.site_id == user.site_id)
    return query.where(false())


def patient_or_404(user: User, patient_id: int) -> Patient:
    if not 0 < patient_id <= MAX_ID:
        abort(404)
    patient = db.session.scalar(visible_patients(user).where(Patient.id == patient_id))
    if patient is None:
        abort(404)
    return patient


def may_submit(user: User, instrument: str) -> bool:
    """Patients and caregivers answer patient-reported instruments; staff rate everything.

    Decided by the instrument's definition (``reporter``), so a newly registered
    instrument needs no change here.
    """
    if user.is_staff:
        return True
    if user.role in PATIENT_SIDE:
        return instruments.get(instrument).reporter == "patient"
    return False


def respondents_for(user: User) -> tuple[str, ...]:
    if user.role == "patient":
        return ("patient",)
    if user.role == "caregiver":
        return ("caregiver-assisted", "caregiver-proxy")
    if user.is_staff:
        return ("clinician",)
    return ()
