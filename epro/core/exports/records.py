"""One study's data, ready to be written in any export format.

Why plain records: the four formats (CSV, SDTM, ODM, FHIR) must agree on every
number, every flag and what is masked.  The services build one
:class:`StudyExport` per export (from the database, with the derivations of
:mod:`epro.core.endpoints` applied and masking decided once); the writers only
reshape it.  A masked export is built without arms, doses, volumes or lots, so
no writer can leak them by mistake: the fields are ``None`` and
:attr:`StudyExport.unblinded` is False.

Times are aware UTC datetimes; dates are site-local calendar dates.
Standard library only.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Subject:
    subject_code: str
    site_code: str
    site_timezone: str
    sex: str  # "M" / "F" as stored
    birth_year: int
    education: str
    language: str
    day0: date  # first infusion: the reference start date (SDTM RFSTDTC)
    enrolled_on: date
    disposition: str | None  # completed, withdrawn, lost, died … (None: ongoing)
    disposition_on: date | None
    death_date: date | None
    #: Unblinded exports only; None in a masked one.
    arm_code: str | None = None
    arm_label: str | None = None


@dataclass(frozen=True)
class ResponseRecord:
    """One stored (active) questionnaire answer and how the derivations treat it."""

    response_id: str
    subject_code: str
    visit: str
    instrument: str
    respondent: str  # patient, caregiver-assisted, caregiver-proxy, clinician
    completed_at: datetime
    received_at: datetime
    completed_on: date  # site-local date of completed_at
    study_day: int  # SDTM convention: day 1 is day 0 (the first infusion); no day 0
    answers: Mapping[str, Any]  # item key → stored value (ints, "YES"/"NO", "UN")
    total: int | None
    flags: tuple[str, ...]  # the response's own flags (proxy, untestable, …)
    counts: bool  # the one answer of its visit and instrument that the endpoints use
    analysis_flags: tuple[str, ...]  # derivation flags (late, outside_window, late_baseline, repeat, …)
    change_from_baseline: int | None
    entered_by: str | None  # username
    rater: str | None  # username (clinician instruments)
    signed_by: str | None = None
    signed_at: datetime | None = None
    version: int = 1


@dataclass(frozen=True)
class VisitValue:
    """The endpoint value of one instrument at one visit of one subject (the wide file's cell).

    ``response_id`` is None when the value is derived without an answer (mRS 6
    after death) or missing; ``flags`` say why (e.g. ``died``, ``proxy``,
    ``untestable``, ``no_baseline``).
    """

    subject_code: str
    visit: str
    instrument: str
    total: int | None
    change: int | None
    respondent: str | None
    flags: tuple[str, ...]
    response_id: str | None


@dataclass(frozen=True)
class AdverseEventRecord:
    ae_id: int
    subject_code: str
    term: str
    onset: date
    end: date | None
    grade: int
    serious: bool
    serious_criteria: tuple[str, ...]
    relatedness: str
    action: str
    outcome: str
    aware_at: datetime
    reported_at: datetime | None


@dataclass(frozen=True)
class InfusionRecord:
    infusion_id: int
    subject_code: str
    number: int
    given_at: datetime
    given_on: date  # site-local
    study_day: int
    reactions: str
    #: Unblinded exports only; None in a masked one (they reveal the dose arm).
    cells: int | None = None
    volume_ml: float | None = None
    weight_kg: float | None = None
    lot: str | None = None

    @property
    def dose_cells_per_kg(self) -> float | None:
        if self.cells is None or not self.weight_kg:
            return None
        return self.cells / self.weight_kg


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit trail about this study's clinical data."""

    at: datetime
    user: str | None
    action: str  # create, update, remove, sign, export, …
    entity: str  # table name
    entity_id: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    subject_code: str | None = None


@dataclass(frozen=True)
class VisitPlan:
    code: str
    months: int
    days_before: int
    days_after: int
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One written derivation rule, as stated in every export's metadata."""

    code: str
    title: str
    text: str


@dataclass(frozen=True)
class StudyExport:
    study_code: str
    study_name: str
    study_name_zh: str
    protocol: str
    unblinded: bool
    generated_at: datetime
    generated_by: str
    visits: tuple[VisitPlan, ...]
    instruments: tuple[str, ...]  # instrument codes the protocol uses, in visit order
    subjects: tuple[Subject, ...]
    responses: tuple[ResponseRecord, ...]
    visit_values: tuple[VisitValue, ...]
    adverse_events: tuple[AdverseEventRecord, ...]
    infusions: tuple[InfusionRecord, ...]
    audit: tuple[AuditRecord, ...]
    rules: tuple[Rule, ...]
    #: Arm code → label; empty in a masked export.
    arms: Mapping[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Row counts, for the export log."""
        return {
            "subjects": len(self.subjects),
            "responses": len(self.responses),
            "items": sum(len(r.answers) for r in self.responses),
            "visit_values": len(self.visit_values),
            "adverse_events": len(self.adverse_events),
            "infusions": len(self.infusions),
            "audit": len(self.audit),
        }


def study_day(on: date, day0: date) -> int:
    """SDTM study day of *on*: day 1 is *day0*, the day before is -1 (there is no day 0)."""
    delta = (on - day0).days
    return delta + 1 if delta >= 0 else delta
