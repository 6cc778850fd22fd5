"""Enrolling a patient in a study: the one way a patient row is made.

Both the clinic's enrolment page and randomizing a screened candidate
(:func:`epro.services.trial.allocation.randomize`) come here, so a subject
code is checked, stored and audited the same way whichever page was used.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import Patient, Study, User
from epro.services import audit, followup
from epro.services.errors import FieldError, check
from epro.services.trial.studies import protocol_of

SUBJECT_TAKEN = N_("This subject code is already enrolled.")
THROUGH_SCREENING = N_(
    "This study is randomized: a patient enters it through screening and randomization (Trial, Screening). "
    "Or tick \"not yet randomized\" to register the patient without an arm for now.")


@dataclass(frozen=True)
class PatientDetails:
    """What enrolment records about the person (pseudonymous: a code, never a name)."""

    subject_code: str
    birth_year: int
    sex: str
    education: str
    language: str


def subject_code_problems(code: str) -> list[FieldError]:
    """A subject code is enrolled once (its shape is the form's business)."""
    if db.session.scalar(select(Patient.id).where(Patient.subject_code == code)):
        return [FieldError("subject_code", SUBJECT_TAKEN)]
    return []


def design_problems(study: Study, *, screening_code: str | None, not_randomized: bool) -> list[FieldError]:
    """A randomized study takes a patient only from screening (randomizing an eligible
    candidate), or explicitly registered as not yet randomized; an open study directly."""
    if protocol_of(study).randomized and screening_code is None and not not_randomized:
        return [FieldError("not_randomized", THROUGH_SCREENING)]
    return []


def not_yet_randomized(patient: Patient) -> bool:
    """A patient of a randomized study registered without an arm, waiting for allocation."""
    return patient.arm_id is None and protocol_of(patient.study).randomized


def enrol(study: Study, site_id: int, details: PatientDetails, actor: User, *, day0: date, enrolled_on: date,
          screening_code: str | None = None, not_randomized: bool = False) -> Patient:
    """A new patient of the study at the site, audited, with its visit schedule.

    The schedule depends on day 0 and the enrolment date only, so an arm given
    afterwards (randomization) leaves it as built here.  In a randomized study
    the patient comes from a screening (``screening_code``), or is registered
    "not yet randomized" on purpose (``not_randomized``, audited): no arm until
    :func:`epro.services.trial.allocation.allocate_registered`.
    """
    check([*design_problems(study, screening_code=screening_code, not_randomized=not_randomized),
           *subject_code_problems(details.subject_code)])
    not_randomized = not_randomized and screening_code is None and protocol_of(study).randomized
    patient = Patient(
        subject_code=details.subject_code, site_id=site_id, study_id=study.id, birth_year=details.birth_year,
        sex=details.sex, education=details.education, language=details.language, day0=day0,
        enrolled_on=enrolled_on,
    )
    detail = {"screening": screening_code} if screening_code else (
        {"not_randomized": True} if not_randomized else None)
    with audit.operation("create", detail=detail):
        db.session.add(patient)
    followup.refresh_progress([patient.id])
    return patient
