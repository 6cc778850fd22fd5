"""Safety data from the database: symptom reports, adverse events, the SAE
clock, per-visit safety checks, and the safety summary of a study.

The rules (grades, seriousness, the 24-hour SAE clock, what counts in which
rate) are :mod:`epro.core.trial.safety`'s; this module reads forms and rows into it.

* A patient or caregiver reports "a new health problem" from the app at any
  time; it waits for the site's clinicians, who mark it reviewed or record it
  as an adverse event (ICH E6(R2) 4.11: the investigator assesses and records
  AEs).
* An SAE starts its reporting clock when the site becomes aware of it; the
  clock shows on the site's patient list until the SAE is marked reported.
* A safety check per visit: laboratory results, neurological examination and
  imaging change, each with a detail when not normal.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.core.trial import safety as rules
from epro.models import AdverseEvent, Patient, SafetyCheck, Study, SymptomReport, User
from epro.services import audit, followup
from epro.services.errors import FieldError, Refused, check

SEVERITIES = {"mild": N_("Mild"), "moderate": N_("Moderate"), "severe": N_("Severe")}
REPORTERS = {"patient": N_("by the patient"), "caregiver": N_("by a caregiver")}
NO_ARM = "none"

REASON_NEEDED = N_("This visit has a safety check already. Please give a reason for the new one.")
NOT_SERIOUS = N_("Only a serious adverse event has a reporting clock.")
ALREADY_REPORTED = N_("This serious adverse event is marked reported already.")
ALREADY_REVIEWED = N_("This report was reviewed already.")
CHOOSE = N_("Please choose one.")
FATAL_NEEDS_DEATH = N_("A fatal adverse event is serious: tick \"Results in death\".")


# --- symptom reports ---------------------------------------------------------


def report_symptom(patient: Patient, actor: User, *, what: str, since: date, severity: str,
                   hospital: bool) -> SymptomReport:
    """A new health problem in the patient's (or caregiver's) words, waiting for the site's review."""
    report = SymptomReport(patient_id=patient.id, what=what, since=since, severity=severity,
                           hospital_visit=bool(hospital), reported_by_id=actor.id,
                           respondent="patient" if actor.role == "patient" else "caregiver")
    db.session.add(report)
    db.session.flush()
    return report


def _at_site(site_id: int | None) -> list:
    """The site's patients, or every site's if *site_id* is None (a data manager's view; callers check)."""
    return [] if site_id is None else [Patient.site_id == site_id]


def _pending(site_id: int | None):
    return (select(SymptomReport).join(Patient, Patient.id == SymptomReport.patient_id)
            .where(*_at_site(site_id), SymptomReport.reviewed_at.is_(None)))


def pending_reports(site_id: int | None) -> list[SymptomReport]:
    return list(db.session.scalars(
        _pending(site_id).options(joinedload(SymptomReport.patient)).order_by(SymptomReport.created_at)))


def pending_count(site_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(_pending(site_id).subquery())) or 0


def visible_report(user: User, report_id: int) -> SymptomReport | None:
    if not user.is_staff or user.site_id is None:
        return None
    return db.session.scalar(select(SymptomReport).join(Patient, Patient.id == SymptomReport.patient_id)
                             .where(SymptomReport.id == report_id, Patient.site_id == user.site_id))


def mark_reviewed(report: SymptomReport, actor: User, adverse_event: AdverseEvent | None = None) -> None:
    if report.reviewed_at is not None:
        raise Refused(ALREADY_REVIEWED)
    with audit.operation("review"):
        report.reviewed_at = datetime.now(UTC)
        report.reviewed_by_id = actor.id
        report.adverse_event_id = adverse_event.id if adverse_event else None


# --- adverse events ----------------------------------------------------------


@dataclass(frozen=True)
class AdverseEventEntry:
    """An adverse event as the investigator describes it (ICH E2A; CTCAE v5.0 grade)."""

    term: str
    onset: date
    end: date | None
    grade: int
    serious_criteria: list[str]
    relatedness: str
    action: str
    outcome: str
    aware_at: datetime


def event_problems(grade: int, relatedness: str, action: str, outcome: str,
                   serious_criteria: list[str]) -> list[FieldError]:
    """The core's rules on an adverse event's codes; the one a form cannot show by its shape:
    a fatal event is serious ("results in death")."""
    try:
        rules.AdverseEvent(0, "-", 0, grade, relatedness, action, outcome, frozenset(serious_criteria))
    except rules.SafetyError as exc:
        name = {"severity": "grade", "action_taken": "action"}.get(exc.field, exc.field)
        return [FieldError(name, FATAL_NEEDS_DEATH if name == "serious_criteria" else CHOOSE)]
    return []


def record_adverse_event(patient: Patient, entry: AdverseEventEntry, actor: User,
                         report: SymptomReport | None = None) -> AdverseEvent:
    """Store an AE from the clinician's form; a report it comes from is marked reviewed."""
    check(event_problems(entry.grade, entry.relatedness, entry.action, entry.outcome, entry.serious_criteria))
    term, onset, end, grade, serious = entry.term, entry.onset, entry.end, entry.grade, list(entry.serious_criteria)
    relatedness, action, outcome, aware_at = entry.relatedness, entry.action, entry.outcome, entry.aware_at
    ae = AdverseEvent(patient_id=patient.id, term=term, onset=onset, end=end, grade=grade,
                      serious_criteria=serious, relatedness=relatedness, action=action, outcome=outcome,
                      aware_at=aware_at, recorded_by_id=actor.id)
    db.session.add(ae)
    db.session.flush()
    if report is not None:
        mark_reviewed(report, actor, ae)
    return ae


def mark_reported(ae: AdverseEvent, actor: User, now: datetime | None = None) -> None:
    if not ae.serious:
        raise Refused(NOT_SERIOUS)
    if ae.reported_at is not None:
        raise Refused(ALREADY_REPORTED)
    ae.reported_at = now or datetime.now(UTC)
    db.session.flush()


def adverse_events(patient: Patient) -> list[AdverseEvent]:
    return list(db.session.scalars(
        select(AdverseEvent).where(AdverseEvent.patient_id == patient.id, AdverseEvent.status == "active")
        .order_by(AdverseEvent.onset.desc(), AdverseEvent.id.desc())))


def visible_adverse_event(user: User, event_id: int) -> AdverseEvent | None:
    if not user.is_staff or user.site_id is None:
        return None
    return db.session.scalar(select(AdverseEvent).join(Patient, Patient.id == AdverseEvent.patient_id)
                             .where(AdverseEvent.id == event_id, Patient.site_id == user.site_id))


def clock(ae: AdverseEvent, now: datetime | None = None) -> rules.SaeClock | None:
    if not ae.serious:
        return None
    return rules.sae_clock(ae.aware_at, now or datetime.now(UTC), ae.reported_at)


def open_sae_clocks(site_id: int | None, now: datetime | None = None) -> list[tuple[AdverseEvent, rules.SaeClock]]:
    """Serious AEs of the site not yet reported, soonest due first."""
    now = now or datetime.now(UTC)
    rows = db.session.scalars(
        select(AdverseEvent).join(Patient, Patient.id == AdverseEvent.patient_id)
        .options(joinedload(AdverseEvent.patient))
        .where(*_at_site(site_id), AdverseEvent.status == "active", AdverseEvent.reported_at.is_(None))
        .order_by(AdverseEvent.aware_at))
    return [(ae, rules.sae_clock(ae.aware_at, now)) for ae in rows if ae.serious]


# --- safety checks per visit ------------------------------------------------------


def check_for(patient: Patient, visit_code: str) -> SafetyCheck | None:
    return db.session.scalar(select(SafetyCheck).where(
        SafetyCheck.patient_id == patient.id, SafetyCheck.visit_code == visit_code,
        SafetyCheck.status == "active"))


@dataclass(frozen=True)
class SafetyCheckEntry:
    """A visit's laboratory, neurological and imaging results, with a detail when not normal."""

    lab: str
    lab_detail: str
    neuro: str
    neuro_detail: str
    imaging: str
    imaging_detail: str


def check_problems(patient: Patient, visit_code: str, reason: str) -> list[FieldError]:
    """A visit that has a safety check already needs a reason for the new one."""
    if not reason and check_for(patient, visit_code) is not None:
        return [FieldError("reason", REASON_NEEDED)]
    return []


def record_check(patient: Patient, visit_code: str, entry: SafetyCheckEntry, actor: User,
                 reason: str = "") -> SafetyCheck:
    """The visit's safety check; a new one replaces the last (kept, with the reason)."""
    check(check_problems(patient, visit_code, reason))
    previous = check_for(patient, visit_code)
    lab, lab_detail, neuro, neuro_detail = entry.lab, entry.lab_detail, entry.neuro, entry.neuro_detail
    imaging, imaging_detail = entry.imaging, entry.imaging_detail
    if previous is not None:
        with audit.operation("replace", reason=reason):
            previous.status = "replaced"
    row = SafetyCheck(patient_id=patient.id, visit_code=visit_code, lab=lab, lab_detail=lab_detail,
                      neuro=neuro, neuro_detail=neuro_detail, imaging=imaging, imaging_detail=imaging_detail,
                      recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    return row


# --- the safety summary --------------------------------------------------------


@dataclass(frozen=True)
class StudySafety:
    summary: rules.SafetySummary
    period_months: int


def study_summary(study: Study, site_id: int | None, masked: bool, period_months: int = 12) -> StudySafety:
    """Counts and per-patient rates over the safety period for the study's patients at a site
    (at every site if *site_id* is None: a data manager's view; callers check who may see it).

    Records count from day 0 (the first infusion) to the end of the last visit
    window of the period; a baseline (BL) safety check is before treatment and
    never counts (ICH E3 12.2: treatment-emergent events).  Fixed number of
    queries: patients, adverse events, safety checks.
    """
    patients = list(db.session.scalars(
        select(Patient).where(Patient.study_id == study.id, *([] if site_id is None else [Patient.site_id == site_id]))
        .options(joinedload(Patient.arm), joinedload(Patient.site))))
    by_id = {p.id: p for p in patients}
    last_day: dict[Hashable, int] = {}
    visit_day: dict[int, dict[str, int]] = {}
    plans = followup.plans_for(patients)
    for p in patients:
        planned = plans[p.id]
        end = max((v.window_end for v in planned if v.months <= period_months), default=p.day0)
        last_day[p.id] = (end - p.day0).days
        visit_day[p.id] = {v.code: (-1 if v.is_baseline else (v.target_date - p.day0).days) for v in planned}
    records: list[rules.SafetyRecord] = []
    ids = list(by_id)
    for ae in db.session.scalars(select(AdverseEvent).where(
            AdverseEvent.patient_id.in_(ids), AdverseEvent.status == "active")):
        records.append(rules.AdverseEvent(
            ae.patient_id, ae.term, (ae.onset - by_id[ae.patient_id].day0).days, ae.grade, ae.relatedness,
            ae.action, ae.outcome, frozenset(ae.serious_criteria or ())))
    for c in db.session.scalars(select(SafetyCheck).where(
            SafetyCheck.patient_id.in_(ids), SafetyCheck.status == "active")):
        day = visit_day[c.patient_id].get(c.visit_code, -1)
        records += [rules.LabCheck(c.patient_id, day, "panel", c.lab), rules.NeuroExam(c.patient_id, day, c.neuro),
                    rules.ImagingCheck(c.patient_id, day, c.imaging)]
    records = [r for r in records if r.study_day <= last_day[r.patient_id]]
    by_arm: dict[str, list[int]] = defaultdict(list)
    for p in patients:
        by_arm[p.arm.code if p.arm else NO_ARM].append(p.id)
    return StudySafety(rules.safety_summary(records, by_arm, masked=masked), period_months)


