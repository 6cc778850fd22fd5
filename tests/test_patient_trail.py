"""The per-patient audit CSV covers every clinical table of the patient, masked for masked readers."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from sqlalchemy import select

from epro.base import csvfile
from epro.base.orm import db
from epro.models import (
    AdverseEvent,
    AllocationSlot,
    Infusion,
    Patient,
    SafetyCheck,
    SymptomReport,
    Unblinding,
    User,
)
from epro.services import audit, patient_trail, unit_of_work

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _trail_csv(session, patient_id: int) -> list[dict[str, str]]:
    export = session.get(f"/clinic/patients/{patient_id}/audit.csv")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"
    return list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip(csvfile.BOM))))


def _record_everything(app, subject: str) -> int:
    """One record in every clinical table for *subject*, each written without any audit call."""
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == subject))
        investigator = db.session.scalar(select(User).where(User.username == "investigator.a"))
        with unit_of_work.unit_of_work(actor=investigator):
            db.session.add(Infusion(patient_id=patient.id, number=9, given_at=NOW, weight_kg=61.5, cells=92_250_000,
                                    volume_ml=81.0, lot="LOT-SECRET-7", reactions="", flags=[],
                                    given_by_id=investigator.id))
            db.session.add(AdverseEvent(patient_id=patient.id, term="Headache", onset=date(2026, 11, 19), grade=1,
                                        relatedness="unlikely", action="none", outcome="recovered"))
            db.session.add(SafetyCheck(patient_id=patient.id, visit_code="M1", lab="normal", neuro="normal",
                                       imaging="none"))
            db.session.add(SymptomReport(patient_id=patient.id, what="dizzy", since=date(2026, 11, 18),
                                         severity="mild", hospital_visit=False, respondent="patient"))
        # Unblinded by the investigator, so clinician.a stays masked for this patient.
        with unit_of_work.unit_of_work(actor=investigator), audit.operation("unblind", reason="ICU asks"):
            db.session.add(Unblinding(patient_id=patient.id, user_id=investigator.id, reason="ICU asks"))
        return patient.id


def test_every_clinical_table_is_in_the_patients_trail(app, login):
    pid = _record_everything(app, "A-001")
    rows = _trail_csv(login("investigator.a"), pid)
    tables = {r["table"] for r in rows}
    with app.app_context():
        patient = db.session.get(Patient, pid)
        expected = {t for t in patient_trail.clinical_tables() if patient_trail.record_ids(patient, t) is not None
                    and db.session.scalars(patient_trail.record_ids(patient, t)).first() is not None}
    assert {"responses", "patients", "infusions", "adverse_events", "safety_checks", "symptom_reports",
            "unblindings", "allocation_slots"} <= expected
    assert expected <= tables, expected - tables
    infusion = next(r for r in rows if r["table"] == "infusions")
    assert "LOT-SECRET-7" in infusion["new"] and infusion["user"] == "investigator.a"


def test_every_audited_clinical_table_can_be_traced_to_a_patient():
    with_patient = {t: patient_trail.record_ids(Patient(id=1), t) is not None for t in patient_trail.clinical_tables()}
    assert all(with_patient.values()), [t for t, ok in with_patient.items() if not ok]


def test_masked_readers_get_the_trail_without_arm_dose_or_lot(app, login):
    pid = _record_everything(app, "A-001")
    with app.app_context():
        slot = db.session.scalar(select(AllocationSlot).where(AllocationSlot.patient_id == pid))
        arm = slot.arm_code
    rows = _trail_csv(login("clinician.a"), pid)
    tables = {r["table"] for r in rows}
    assert {"infusions", "adverse_events", "safety_checks", "symptom_reports", "unblindings"} <= tables
    assert "allocation_slots" not in tables
    text = "\n".join(",".join(r.values()) for r in rows)
    assert "LOT-SECRET-7" not in text and "92250000" not in text and "81.0" not in text
    assert f'"{arm}"' not in text
