"""The concealed allocation list of a study, and randomizing an eligible candidate.

ICH E9 2.3.1 and CONSORT items 8-10: the list is generated once per study by an
unblinded person from a seed (stratified by site, permuted blocks of varying
size: :mod:`epro.core.trial.randomization`), stored slot by slot and fingerprinted
(``list_digest``), and consumed strictly in sequence.  Nobody reads a slot's arm
before it is assigned: :func:`randomize` takes the next free slot of the
study and site under a row lock and claims it with a conditional UPDATE, so
two people randomizing at the same moment can never get the same slot.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.core.trial import randomization
from epro.models import AllocationSlot, Arm, Patient, Screening, Site, Study, User
from epro.services import audit
from epro.services.errors import FieldError, Invalid, Refused
from epro.services.masking import Presenter
from epro.services.trial import enrolment
from epro.services.trial.studies import protocol_of, sites_of

MAX_LENGTH = 10000
LIST_EXISTS = N_("This study has an allocation list already; it is generated only once.")
NOT_RANDOMIZED = N_("This study does not randomize; the investigator chooses the arm.")
NOT_ELIGIBLE = N_("Only an eligible candidate can be randomized.")
ALREADY = N_("This candidate is randomized already.")
LIST_USED_UP = N_("There is no free place on the allocation list of this site. Ask the unblinded investigator.")
ARM_CHOICE_NOT_ALLOWED = N_("Only staff who may see arms can choose one.")
ARM_NEEDED = N_("Please choose one.")


def seed_digest(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def has_list(study: Study) -> bool:
    return db.session.scalar(select(AllocationSlot.id).where(AllocationSlot.study_id == study.id).limit(1)) is not None


def ensure_can_generate(study: Study) -> None:
    """:class:`Refused` unless the study randomizes and has no list yet."""
    if not protocol_of(study).randomized:
        raise Refused(NOT_RANDOMIZED)
    if has_list(study):
        raise Refused(LIST_EXISTS)


def generate(study: Study, seed: str, length: int, actor: User) -> int:
    """Generate and store the study's list from a seed, ``length`` places per site; returns the slot count."""
    ensure_can_generate(study)
    protocol = protocol_of(study)
    sites = sites_of(study)
    lists = randomization.generate_list(seed, protocol.arm_ratios(), [s.code for s in sites], int(length))
    digest, seeded = randomization.list_digest(lists), seed_digest(seed)
    rows = [
        dict(study_id=study.id, site_id=site.id, sequence=n, arm_code=arm, generated_by_id=actor.id,
             seed_digest=seeded, list_digest=digest)
        for site in sites for n, arm in enumerate(lists[site.code], start=1)
    ]
    db.session.execute(insert(AllocationSlot).execution_options(**{audit.SUMMARIZED: True}), rows)
    audit.record("generate", "allocation_slots", f"study:{study.id}", actor=actor, new={
        "study": study.code, "strata": [s.code for s in sites], "length_per_site": int(length),
        "slots": len(rows), "list_digest": digest, "seed_digest": seeded,
    })
    return len(rows)


def stored_lists(study: Study) -> dict[str, list[str]]:
    """Site code → arm codes in sequence, as stored (unblinded eyes only)."""
    lists: dict[str, list[str]] = defaultdict(list)
    for code, arm in db.session.execute(
        select(Site.code, AllocationSlot.arm_code).join(Site, Site.id == AllocationSlot.site_id)
        .where(AllocationSlot.study_id == study.id).order_by(Site.code, AllocationSlot.sequence)
    ):
        lists[code].append(arm)
    return dict(lists)


def slots(study: Study, site_id: int | None = None) -> list[tuple[AllocationSlot, str, str | None]]:
    """(slot, site code, subject code or None) for every slot, or one site's (unblinded eyes only)."""
    where = [AllocationSlot.study_id == study.id]
    if site_id is not None:
        where.append(AllocationSlot.site_id == site_id)
    return [(slot, site, subject) for slot, site, subject in db.session.execute(
        select(AllocationSlot, Site.code, Patient.subject_code)
        .join(Site, Site.id == AllocationSlot.site_id)
        .outerjoin(Patient, Patient.id == AllocationSlot.patient_id)
        .where(*where).order_by(Site.code, AllocationSlot.sequence)
    )]


def recorded_digest(study: Study) -> str | None:
    return db.session.scalar(select(func.max(AllocationSlot.list_digest)).where(AllocationSlot.study_id == study.id))


def free_places(study: Study, site_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AllocationSlot).where(
        AllocationSlot.study_id == study.id, AllocationSlot.site_id == site_id,
        AllocationSlot.patient_id.is_(None))) or 0


def _claim_next_slot(study: Study, site_id: int, patient: Patient, actor: User) -> AllocationSlot:
    """Claim the lowest free slot; the arm is read only once the slot is ours."""
    now = datetime.now(UTC)
    for _attempt in range(3):
        # PostgreSQL: FOR UPDATE makes a concurrent randomizer wait; after our commit its
        # re-checked row no longer qualifies and it may see no row, so it simply asks again.
        slot_id = db.session.scalar(
            select(AllocationSlot.id).where(
                AllocationSlot.study_id == study.id, AllocationSlot.site_id == site_id,
                AllocationSlot.patient_id.is_(None),
            ).order_by(AllocationSlot.sequence).limit(1).with_for_update()
        )
        if slot_id is None:
            continue
        # The row is ours now (locked on PostgreSQL; SQLite has one writer): an ORM
        # change, so the session audits the assignment.
        slot = db.session.get(AllocationSlot, slot_id, populate_existing=True, with_for_update=True)
        if slot is not None and slot.patient_id is None:
            slot.patient_id, slot.assigned_at, slot.assigned_by_id = patient.id, now, actor.id
            return slot
    raise Refused(LIST_USED_UP)


def ensure_randomizable(screening: Screening, actor: User) -> None:
    """:class:`Refused` unless this candidate may be randomized now, by this actor."""
    if screening.patient_id is not None:
        raise Refused(ALREADY)
    if not screening.eligible:
        raise Refused(NOT_ELIGIBLE)
    if not protocol_of(screening.study).randomized and not Presenter(actor).sees_arms_in(screening.study):
        raise Refused(ARM_CHOICE_NOT_ALLOWED)


def randomize(screening: Screening, actor: User, today: date, *, subject_code: str, education: str,
              language: str, arm_code: str | None = None) -> Patient:
    """Enrol an eligible candidate as a patient and give it the next arm of the list.

    Day 0 starts as the randomization date; the first infusion moves it
    (:func:`epro.services.trial.infusions.record`).  For a study that does not
    randomize, ``arm_code`` is the investigator's choice.  Birth year and sex
    are the screening's.
    """
    ensure_randomizable(screening, actor)
    study = screening.study
    protocol = protocol_of(study)
    chosen_arm = None
    if not protocol.randomized:
        chosen_arm = next((a for a in study.arms if a.code == arm_code), None)
        if chosen_arm is None:
            raise Invalid([FieldError("arm", ARM_NEEDED)])
    details = enrolment.PatientDetails(subject_code=subject_code, birth_year=screening.birth_date.year,
                                       sex=screening.sex, education=education, language=language)
    patient = enrolment.enrol(study, screening.site_id, details, actor, day0=today,
                              enrolled_on=min(screening.screened_on, today), screening_code=screening.screening_code)
    code = patient.subject_code
    # The assignment is audited on the list (the slot's row), not on the patient:
    # a masked user's export of the patient's audit trail must not carry the arm.
    with audit.operation("assign", detail={"patient": code}):
        if protocol.randomized:
            arm_code = _claim_next_slot(study, screening.site_id, patient, actor).arm_code
        else:
            assert chosen_arm is not None  # an unknown arm is refused above
            arm_code = chosen_arm.code
            # No slot to change: the investigator's choice is an event of its own.
            audit.record("assign", "allocation_slots", f"patient:{patient.id}", actor=actor,
                         new={"patient": code, "arm": arm_code, "chosen_by": actor.username})
        arm = db.session.execute(select(Arm).where(Arm.study_id == study.id, Arm.code == arm_code)).scalar_one()
        patient.arm_id = arm.id
        screening.patient_id = patient.id
    return patient


NOT_WAITING = N_("This patient is not waiting for randomization.")


def allocate_registered(patient: Patient, actor: User) -> Patient:
    """Give a patient registered "not yet randomized" the next arm of the site's list.

    Audited like :func:`randomize`, on the list's slot (never on the patient).
    """
    if patient.disposition is not None or not enrolment.not_yet_randomized(patient):
        raise Refused(NOT_WAITING)
    study = patient.study
    with audit.operation("assign", detail={"patient": patient.subject_code}):
        arm_code = _claim_next_slot(study, patient.site_id, patient, actor).arm_code
        arm = db.session.execute(select(Arm).where(Arm.study_id == study.id, Arm.code == arm_code)).scalar_one()
        patient.arm_id = arm.id
    return patient

