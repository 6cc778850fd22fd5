"""Safety data of a cell-therapy trial: adverse events, the SAE reporting clock,
and the safety outcome counts both protocols name as their primary outcomes.

Why here and why strict: the it-hMSC study's primary outcomes are the rates
over 12 months of adverse events (AEs) and serious adverse events (SAEs),
clinically significant laboratory changes, abnormal neurological examinations
and imaging changes.  Those rates are only comparable if every record uses the
same codes, so records are validated when made.

Rules and sources:

* Severity grades 1-5 use the wording of CTCAE v5.0 ("Grade" definitions).
  Severity is not seriousness (ICH E2A, II.B): a severe headache is not an
  SAE; only the seriousness criteria of ICH E2A II.B make an AE serious.  A
  grade-5 AE is death and therefore always serious.
* Relatedness uses the five WHO-UMC-style categories common in Chinese
  protocols; "possible" or stronger counts as related.
* Action taken and outcome follow CDISC SDTM AEACN and AEOUT.
* SAEs are reported to the sponsor "immediately" (ICH E6(R2) 4.11.1; China
  GCP 2020, art. 26); epro's protocols make that operational as within 24 hours
  of the investigator becoming aware (:data:`SAE_REPORT_WITHIN`).
* Rates are per patient: patients with at least one event / patients at risk
  (ICH E3, 12.2).  Only treatment-emergent records count (study day ≥ 0;
  day 0 is the first infusion, INSTRUMENTS.md "Visits").
* In a masked study the summary is pooled: splitting it by arm would unmask.

Labels are English message ids marked with ``N_``; the web layer translates.
Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from epro.core.i18n_marker import N_

#: CTCAE v5.0 grade definitions, abridged.
SEVERITY: Mapping[int, str] = {
    1: N_(
        "Grade 1 – mild: asymptomatic or mild symptoms; clinical or diagnostic observations only; intervention not "
        "indicated"
    ),
    2: N_(
        "Grade 2 – moderate: minimal, local or noninvasive intervention indicated; limiting age-appropriate "
        "instrumental activities of daily living"
    ),
    3: N_(
        "Grade 3 – severe or medically significant but not immediately life-threatening: hospitalization or "
        "prolongation of hospitalization indicated; disabling; limiting self-care activities of daily living"
    ),
    4: N_("Grade 4 – life-threatening consequences: urgent intervention indicated"),
    5: N_("Grade 5 – death related to the adverse event"),
}

#: ICH E2A II.B seriousness criteria.
SERIOUS_CRITERIA: Mapping[str, str] = {
    "death": N_("Results in death"),
    "life_threatening": N_("Is life-threatening"),
    "hospitalization": N_("Requires inpatient hospitalization or prolongs existing hospitalization"),
    "disability": N_("Results in persistent or significant disability or incapacity"),
    "congenital_anomaly": N_("Is a congenital anomaly or birth defect"),
    "important_medical_event": N_("Is another important medical event"),
}

RELATEDNESS: Mapping[str, str] = {
    "not_related": N_("Not related"),
    "unlikely": N_("Unlikely related"),
    "possible": N_("Possibly related"),
    "probable": N_("Probably related"),
    "definite": N_("Definitely related"),
}
RELATED = frozenset({"possible", "probable", "definite"})

#: CDISC SDTM AEACN (action taken with the study treatment).
ACTION_TAKEN: Mapping[str, str] = {
    "dose_not_changed": N_("Infusion not changed"),
    "drug_interrupted": N_("Infusion interrupted"),
    "drug_withdrawn": N_("Infusion stopped"),
    "not_applicable": N_("Not applicable"),
    "unknown": N_("Unknown"),
}

#: CDISC SDTM AEOUT.
OUTCOME: Mapping[str, str] = {
    "recovered": N_("Recovered or resolved"),
    "recovering": N_("Recovering or resolving"),
    "not_recovered": N_("Not recovered or not resolved"),
    "recovered_with_sequelae": N_("Recovered or resolved with sequelae"),
    "fatal": N_("Fatal"),
    "unknown": N_("Unknown"),
}

LAB_RESULTS: Mapping[str, str] = {
    "normal": N_("Normal"),
    "abnormal_ncs": N_("Abnormal, not clinically significant"),
    "abnormal_cs": N_("Abnormal, clinically significant"),
}
NEURO_RESULTS: Mapping[str, str] = {"normal": N_("Normal"), "abnormal": N_("Abnormal")}
IMAGING_FINDINGS: Mapping[str, str] = {
    "none": N_("No new finding"),
    "new_lesion": N_("New lesion"),
    "hemorrhage": N_("Hemorrhage"),
    "other": N_("Other new finding"),
}

#: The fields an AE record has; a protocol lists the ones its form shows.
#: (:class:`AdverseEvent` keeps only what the summary needs, as schedule.Submission does.)
AE_FIELDS = (
    "term", "onset_date", "end_date", "severity", "serious_criteria", "relatedness",
    "action_taken", "outcome", "awareness_time", "reported_at",
)

#: Summary categories, each with its label.
CATEGORIES: Mapping[str, str] = {
    "ae": N_("Adverse events"),
    "sae": N_("Serious adverse events"),
    "related_ae": N_("Adverse events possibly, probably or definitely related"),
    "lab_cs": N_("Clinically significant laboratory changes"),
    "neuro_abnormal": N_("Abnormal neurological examinations"),
    "imaging_change": N_("Imaging changes"),
}

SAE_REPORT_WITHIN = timedelta(hours=24)
POOLED = "all"

PatientId = Hashable


class SafetyError(ValueError):
    """An invalid safety record; ``field`` names the bad field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str]]:
        return (type(self), (self.field, self.problem))


def _code(value: object, allowed: Mapping[Any, object], field: str) -> None:
    if isinstance(value, bool) or value not in allowed:
        raise SafetyError(field, f"{value!r} is not one of {', '.join(map(str, allowed))}")


def _day(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SafetyError("study_day", f"must be a whole number of days since day 0, not {value!r}")


@dataclass(frozen=True)
class AdverseEvent:
    patient_id: PatientId
    term: str
    study_day: int  # onset, days since day 0 (negative: before the first infusion)
    severity: int
    relatedness: str
    action_taken: str = "not_applicable"
    outcome: str = "unknown"
    serious_criteria: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.term, str) or not self.term.strip():
            raise SafetyError("term", "is required")
        _day(self.study_day)
        _code(self.severity, SEVERITY, "severity")
        _code(self.relatedness, RELATEDNESS, "relatedness")
        _code(self.action_taken, ACTION_TAKEN, "action_taken")
        _code(self.outcome, OUTCOME, "outcome")
        if isinstance(self.serious_criteria, str):
            raise SafetyError("serious_criteria", "must be a set of codes, not a string")
        for c in self.serious_criteria:
            _code(c, SERIOUS_CRITERIA, "serious_criteria")
        object.__setattr__(self, "serious_criteria", frozenset(self.serious_criteria))
        if (self.severity == 5 or self.outcome == "fatal") and "death" not in self.serious_criteria:
            # A fatal AE meets the ICH E2A "results in death" criterion by definition.
            raise SafetyError("serious_criteria", "a fatal adverse event must include 'death'")

    @property
    def related(self) -> bool:
        return self.relatedness in RELATED


@dataclass(frozen=True)
class LabCheck:
    patient_id: PatientId
    study_day: int
    panel: str  # a protocol laboratory check code, e.g. "liver_function"
    result: str

    def __post_init__(self) -> None:
        _day(self.study_day)
        _code(self.result, LAB_RESULTS, "result")


@dataclass(frozen=True)
class NeuroExam:
    patient_id: PatientId
    study_day: int
    result: str

    def __post_init__(self) -> None:
        _day(self.study_day)
        _code(self.result, NEURO_RESULTS, "result")


@dataclass(frozen=True)
class ImagingCheck:
    patient_id: PatientId
    study_day: int
    finding: str

    def __post_init__(self) -> None:
        _day(self.study_day)
        _code(self.finding, IMAGING_FINDINGS, "finding")


SafetyRecord = AdverseEvent | LabCheck | NeuroExam | ImagingCheck


def is_serious(ae: AdverseEvent) -> bool:
    """Serious by ICH E2A: any seriousness criterion (a fatal AE always has "death")."""
    return bool(ae.serious_criteria)


# --- the SAE clock -------------------------------------------------------------


def _aware(moment: datetime, field: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise SafetyError(field, "must be a time-zone-aware datetime")


def sae_report_due(awareness_time: datetime) -> datetime:
    """When the SAE report is due: 24 hours after the investigator became aware."""
    _aware(awareness_time, "awareness_time")
    return awareness_time + SAE_REPORT_WITHIN


OPEN, OVERDUE, REPORTED, REPORTED_LATE = "open", "overdue", "reported", "reported_late"


@dataclass(frozen=True)
class SaeClock:
    due_at: datetime
    status: str  # OPEN, OVERDUE, REPORTED or REPORTED_LATE
    remaining: timedelta  # time left while open; zero otherwise
    late_by: timedelta  # how far past due (now, or at reporting); zero if in time

    @property
    def overdue(self) -> bool:
        return self.status in (OVERDUE, REPORTED_LATE)


def sae_clock(awareness_time: datetime, now: datetime, reported_at: datetime | None = None) -> SaeClock:
    """Where an SAE stands against its 24-hour reporting deadline (due time inclusive)."""
    due = sae_report_due(awareness_time)
    _aware(now, "now")
    zero = timedelta(0)
    if reported_at is not None:
        _aware(reported_at, "reported_at")
        if reported_at < awareness_time:
            raise SafetyError("reported_at", "is before the awareness time")
        late = max(reported_at - due, zero)
        return SaeClock(due, REPORTED_LATE if late else REPORTED, zero, late)
    if now <= due:
        return SaeClock(due, OPEN, due - now, zero)
    return SaeClock(due, OVERDUE, zero, now - due)


# --- summary -----------------------------------------------------------------


def categories_of(record: SafetyRecord) -> tuple[str, ...]:
    """The summary categories a record counts in (none for normal findings)."""
    if isinstance(record, AdverseEvent):
        return ("ae",) + (("sae",) if is_serious(record) else ()) + (("related_ae",) if record.related else ())
    if isinstance(record, LabCheck):
        return ("lab_cs",) if record.result == "abnormal_cs" else ()
    if isinstance(record, NeuroExam):
        return ("neuro_abnormal",) if record.result == "abnormal" else ()
    if isinstance(record, ImagingCheck):
        return ("imaging_change",) if record.finding != "none" else ()
    raise TypeError(f"not a safety record: {record!r}")


@dataclass(frozen=True)
class EventCount:
    events: int
    patients: int  # patients with at least one event
    rate: float | None  # patients / patients at risk; None when at risk is unknown or 0


@dataclass(frozen=True)
class GroupSafety:
    patients_at_risk: int | None
    counts: Mapping[str, EventCount]  # by category, in CATEGORIES order


@dataclass(frozen=True)
class SafetySummary:
    pooled: bool
    groups: Mapping[str, GroupSafety]  # POOLED, or arm codes


def safety_summary(
    records: Iterable[SafetyRecord],
    patients_by_arm: Mapping[str, Iterable[PatientId]] | None = None,
    masked: bool = True,
    through_day: int | None = None,
) -> SafetySummary:
    """Counts and per-patient rates of each category, pooled when *masked*.

    *patients_by_arm* gives the patients at risk (every treated patient, with
    or without events); without it, rates are ``None``.  Records before day 0
    or after *through_day* (e.g. the last day of the M12 window) are left out.
    """
    arms = {arm: list(ps) for arm, ps in patients_by_arm.items()} if patients_by_arm is not None else None
    if arms is None and not masked:
        raise SafetyError("patients_by_arm", "is needed for a summary by arm")
    arm_of: dict[PatientId, str] = {}
    for arm, members in (arms or {}).items():
        for p in members:
            if p in arm_of and arm_of[p] != arm:
                raise SafetyError("patients_by_arm", f"patient {p!r} is in two arms")
            arm_of[p] = arm

    def group_of(p: PatientId) -> str:
        if arms is not None and p not in arm_of:
            raise SafetyError("patient_id", f"{p!r} is not among the patients at risk")
        return POOLED if masked else arm_of[p]

    at_risk: dict[str, int | None]
    if masked:
        at_risk = {POOLED: len(arm_of) if arms is not None else None}
    else:
        at_risk = {arm: len(set(members)) for arm, members in (arms or {}).items()}

    events = {g: dict.fromkeys(CATEGORIES, 0) for g in at_risk}
    patients: dict[str, dict[str, set[Hashable]]] = {g: {c: set() for c in CATEGORIES} for g in at_risk}
    for record in records:
        if record.study_day < 0 or (through_day is not None and record.study_day > through_day):
            continue
        g = group_of(record.patient_id)
        for c in categories_of(record):
            events[g][c] += 1
            patients[g][c].add(record.patient_id)

    groups = {}
    for g, n in at_risk.items():
        counts = {
            c: EventCount(events[g][c], len(patients[g][c]), len(patients[g][c]) / n if n else None)
            for c in CATEGORIES
        }
        groups[g] = GroupSafety(n, counts)
    return SafetySummary(pooled=masked, groups=groups)

