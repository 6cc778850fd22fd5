"""Trial conduct records: screening, allocation, infusions and safety.

Every table here is clinical data: rows are never deleted (a status says when
something was withdrawn) and every write is audited by the code that makes it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import Patient
from epro.models.study import Site, Study
from epro.models.types import UTCDateTime, utcnow


class Screening(Model):
    """One candidate's screening against the protocol's eligibility criteria."""

    __tablename__ = "screenings"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: Pseudonymous screening number (no names in epro).
    screening_code: Mapped[str] = mapped_column(String(32), unique=True)
    screened_on: Mapped[date]
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(8))
    childbearing_potential: Mapped[bool] = mapped_column(default=False)
    onset_date: Mapped[date]
    #: Total of a real NIHSS entry made at screening.
    nihss_total: Mapped[int | None]
    nihss_answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: "negative" or "positive"; asked only of women of childbearing potential.
    pregnancy_test: Mapped[str | None] = mapped_column(String(8))
    #: Investigator's yes/no answers by criterion key.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    eligible: Mapped[bool]
    #: Keys of failing and of missing criteria, as evaluated when saved.
    failing: Mapped[list[str]] = mapped_column(JSON, default=list)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    study: Mapped[Study] = relationship()
    site: Mapped[Site] = relationship()
    patient: Mapped[Patient | None] = relationship()


class AllocationSlot(Model):
    """One entry of a concealed, pre-generated randomization list (per site stratum).

    The list is consumed strictly in sequence; a slot's arm is only read when
    it is assigned, by the code that assigns it.
    """

    __tablename__ = "allocation_slots"
    __table_args__ = (UniqueConstraint("study_id", "site_id", "sequence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    sequence: Mapped[int]
    arm_code: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), unique=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who generated the list and from which seed (kept for the trial master file).
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    seed_digest: Mapped[str] = mapped_column(String(64))
    #: randomization.list_digest of the whole generated list (every stratum), to show it unchanged.
    list_digest: Mapped[str] = mapped_column(String(64), server_default="")


class Unblinding(Model):
    __tablename__ = "unblindings"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Infusion(Model):
    __tablename__ = "infusions"
    __table_args__ = (Index("ix_infusions_patient", "patient_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    number: Mapped[int]
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    weight_kg: Mapped[float]
    cells: Mapped[int]
    volume_ml: Mapped[float]
    lot: Mapped[str] = mapped_column(String(64))
    reactions: Mapped[str] = mapped_column(Text, default="")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SymptomReport(Model):
    """"A new health problem" reported by a patient or caregiver from the app."""

    __tablename__ = "symptom_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    what: Mapped[str] = mapped_column(Text)
    since: Mapped[date]
    severity: Mapped[str] = mapped_column(String(16))
    hospital_visit: Mapped[bool]
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    respondent: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    adverse_event_id: Mapped[int | None] = mapped_column(ForeignKey("adverse_events.id"))
    patient: Mapped[Patient] = relationship()


class AdverseEvent(Model):
    __tablename__ = "adverse_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    term: Mapped[str] = mapped_column(String(200))
    onset: Mapped[date]
    end: Mapped[date | None]
    grade: Mapped[int]
    serious_criteria: Mapped[list[str]] = mapped_column(JSON, default=list)
    relatedness: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    #: When the site became aware: the SAE 24-hour clock starts here.
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    patient: Mapped[Patient] = relationship(foreign_keys=[patient_id])

    @property
    def serious(self) -> bool:
        return bool(self.serious_criteria)


class SafetyCheck(Model):
    """Per visit: laboratory results, neurological examination, imaging change."""

    __tablename__ = "safety_checks"
    __table_args__ = (Index("ix_safety_checks_patient_visit", "patient_id", "visit_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    visit_code: Mapped[str] = mapped_column(String(8))
    lab: Mapped[str] = mapped_column(String(16))
    lab_detail: Mapped[str] = mapped_column(Text, default="")
    neuro: Mapped[str] = mapped_column(String(16))
    neuro_detail: Mapped[str] = mapped_column(Text, default="")
    imaging: Mapped[str] = mapped_column(String(16))
    imaging_detail: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


