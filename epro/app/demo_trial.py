"""Demo data for trial conduct: study sites, allocation lists, infusions, an SAE
with its clock running, a symptom report waiting for review, and screenings.

Called by :func:`epro.app.demo.load`; idempotent like it (each object is looked up
by its natural key first).  Everything is made through :mod:`epro.services.trial`, so
the demo data is audited and validated exactly like real data.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from epro.base.orm import db
from epro.core import instruments
from epro.core.trial import eligibility, randomization
from epro.models import (
    AdverseEvent,
    AllocationSlot,
    Infusion,
    Patient,
    Screening,
    Site,
    Study,
    StudySite,
    SymptomReport,
    User,
)
from epro.services import audit
from epro.services.trial import allocation, infusions, safety, screening
from epro.services.trial.studies import arm_plan, protocol_of

LIST_LENGTH = 60
#: NIHSS items of a moderate stroke (total 10) and of a minor one (total 3).
NIHSS_10 = {"nihss_1a": 0, "nihss_1b": 0, "nihss_1c": 0, "nihss_2": 0, "nihss_3": 0, "nihss_4": 2,
            "nihss_5a": 3, "nihss_5b": 0, "nihss_6a": 3, "nihss_6b": 0, "nihss_7": 0, "nihss_8": 0,
            "nihss_9": 2, "nihss_10": 0, "nihss_11": 0}
NIHSS_3 = {**dict.fromkeys(NIHSS_10, 0), "nihss_4": 1, "nihss_5a": 1, "nihss_10": 1}


def load(studies: dict[str, Study], sites: dict[str, Site], site_of_study: dict[str, str], today: date) -> None:
    users = {u.username: u for u in db.session.scalars(select(User))}
    for study_code, site_code in site_of_study.items():
        study, site = studies[study_code], sites[site_code]
        if db.session.scalar(select(StudySite.id).where(StudySite.study_id == study.id,
                                                        StudySite.site_id == site.id)) is None:
            db.session.add(StudySite(study_id=study.id, site_id=site.id))
            db.session.flush()
        _allocation(study, site, users["admin"])
    _infusions(site_code="B", actor=users["clinician.b"], today=today)
    _serious_adverse_event(users["clinician.a"], today)
    _symptom_report(users["patient.a1"], today)
    _screenings(studies["BMSC"], sites["B"], users["clinician.b"], today)


def _matching_seed(study: Study, site: Site, arms: list[str]) -> str:
    """The first demo seed whose list starts with the demo patients' arms, so they sit on it in order."""
    ratios = protocol_of(study).arm_ratios()
    for n in range(100000):
        seed = f"demo-{study.code}-{n}"
        if randomization.generate_list(seed, ratios, [site.code], len(arms) or 1)[site.code][:len(arms)] == arms:
            return seed
    raise RuntimeError("no demo seed matches")  # pragma: no cover


def _allocation(study: Study, site: Site, actor: User) -> None:
    if allocation.has_list(study):
        return
    patients = list(db.session.scalars(
        select(Patient).where(Patient.study_id == study.id, Patient.site_id == site.id,
                              ~Patient.subject_code.like("G-%")).order_by(Patient.subject_code)))
    arms = []
    for p in patients:
        assert p.arm is not None  # the demo enrols every patient of the trial with an arm
        arms.append(p.arm.code)
    seed = _matching_seed(study, site, arms)
    allocation.generate(study, seed, LIST_LENGTH, actor)
    slots = db.session.scalars(select(AllocationSlot).where(
        AllocationSlot.study_id == study.id, AllocationSlot.site_id == site.id).order_by(AllocationSlot.sequence))
    # The list is longer than the demo cohort: only the first slots are taken.
    for slot, patient in zip(slots, patients, strict=False):
        with audit.operation("assign", actor=actor, reason="demo data", detail={"patient": patient.subject_code}):
            slot.patient_id, slot.assigned_at, slot.assigned_by_id = patient.id, _noon(patient.enrolled_on), actor.id


def _noon(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo("Asia/Shanghai")).replace(hour=12).astimezone(
        UTC)


def _infusions(site_code: str, actor: User, today: date) -> None:
    patients = db.session.scalars(select(Patient).join(Site, Site.id == Patient.site_id).where(
        Site.code == site_code, ~Patient.subject_code.like("G-%")).order_by(Patient.subject_code))
    for patient in patients:
        plan = arm_plan(patient)
        if plan is None or db.session.scalar(select(Infusion.id).where(Infusion.patient_id == patient.id)):
            continue
        for dose in plan.infusions:
            day = patient.day0 + timedelta(days=dose.day)
            if day > today:
                break
            given_at = datetime.combine(day, time(10, 0), ZoneInfo(patient.site.timezone))
            infusions.record(patient, infusions.InfusionEntry(
                given_at=given_at, weight_kg=65.0, cells=None, volume_ml=80.0, lot=f"BM-{patient.subject_code}",
                given_by=actor, reactions=""), actor)


def _serious_adverse_event(actor: User, today: date) -> None:
    patient = db.session.execute(select(Patient).where(Patient.subject_code == "A-002")).scalar_one()
    if db.session.scalar(select(AdverseEvent.id).where(AdverseEvent.patient_id == patient.id)):
        return
    aware = datetime.now(UTC).astimezone(ZoneInfo(patient.site.timezone)) - timedelta(hours=3)
    safety.record_adverse_event(patient, safety.AdverseEventEntry(
        term="Pneumonia", onset=today - timedelta(days=1), end=None, grade=3, serious_criteria=["hospitalization"],
        relatedness="unlikely", action="not_applicable", outcome="recovering",
        aware_at=aware.replace(second=0, microsecond=0)), actor)


def _symptom_report(reporter: User, today: date) -> None:
    patient = db.session.execute(select(Patient).where(Patient.user_id == reporter.id)).scalar_one()
    if db.session.scalar(select(SymptomReport.id).where(SymptomReport.patient_id == patient.id)):
        return
    safety.report_symptom(patient, reporter, what="头痛，比平时累", since=today - timedelta(days=1),
                          severity="moderate", hospital=False)


def _answers(protocol, **overrides) -> dict[str, bool]:
    """Investigator answers that meet every criterion, with some overridden (None: unanswered)."""
    out = {}
    for c in protocol.eligibility:
        if c.computable:
            continue
        answer = overrides.get(c.key, c.kind == "inclusion")
        if answer is not None:
            out[c.key] = answer
    return out


def _screenings(study: Study, site: Site, actor: User, today: date) -> None:
    protocol = protocol_of(study)
    years_ago = lambda n, days=0: date(today.year - n, today.month, 1) - timedelta(days=days)  # noqa: E731
    # eligible; not eligible for several reasons; not eligible until consent is answered
    candidates: dict[str, dict[str, Any]] = {
        "S-B-001": dict(birth_date=years_ago(58), sex="male", onset_days=60, nihss=NIHSS_10, answers={}),
        "S-B-002": dict(birth_date=years_ago(70), sex="female", childbearing_potential=False, onset_days=5,
                        nihss=NIHSS_3, answers={"lacunar_infarction": True}),
        "S-B-003": dict(birth_date=years_ago(49), sex="female", childbearing_potential=True,
                        pregnancy_test="negative", onset_days=200, nihss=NIHSS_10,
                        answers={"informed_consent": None}),
    }
    for n, (code, c) in enumerate(candidates.items()):
        if db.session.scalar(select(Screening.id).where(Screening.screening_code == code)):
            continue
        screened_on = today - timedelta(days=10 - n)
        onset = screened_on - timedelta(days=c["onset_days"])
        nihss = instruments.get("nihss").score(c["nihss"])
        facts = eligibility.ScreeningFacts(
            screening_date=screened_on, birth_date=c["birth_date"], sex=c["sex"],
            childbearing_potential=c.get("childbearing_potential", False), onset_date=onset,
            nihss=int(nihss.total), pregnancy_test=c.get("pregnancy_test"),
            answers=_answers(protocol, **c["answers"]))
        inp = screening.ScreeningInput(code, facts, dict(nihss.answers), int(nihss.total))
        screening.save(study, site, protocol, inp, actor)
