"""Making the demo's safety items due for a staff alert (shared by the alert list and alert e-mail tests)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from epro.base.orm import db
from epro.models import AdverseEvent, Patient, SymptomReport


def make_alerts_due(app) -> None:
    """The demo SAE (site A, A-002) known 20 hours ago (4 left on its clock); the demo problem report
    (A-001) two days old and not reviewed."""
    with app.app_context():
        ae = db.session.scalar(select(AdverseEvent).join(Patient, Patient.id == AdverseEvent.patient_id)
                               .where(Patient.subject_code == "A-002"))
        ae.aware_at = datetime.now(UTC) - timedelta(hours=20)
        report = db.session.scalar(select(SymptomReport))
        report.created_at = datetime.now(UTC) - timedelta(days=2)
        db.session.commit()
