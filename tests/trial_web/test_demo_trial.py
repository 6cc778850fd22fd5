"""The demo's trial data: what CONTRACT.md promises, and loading twice changes nothing."""
from sqlalchemy import func, select

from epro.base.orm import db


def _counts():
    from epro import models

    tables = [models.AuditEvent, models.StudySite, models.AllocationSlot, models.Infusion, models.AdverseEvent,
              models.SymptomReport, models.Screening, models.Patient, models.Response, models.Arm]
    return {t.__name__: db.session.scalar(select(func.count()).select_from(t)) for t in tables}


def test_demo_trial_data_and_idempotency(app):
    from epro.app import demo
    from epro.models import Infusion, Patient, Screening, Site, StudySite
    from epro.services.trial import safety

    with app.app_context():
        before = _counts()
        demo.load()
        assert _counts() == before
        assert {(s.study.code, s.site.code) for s in db.session.scalars(select(StudySite))} == {
            ("IT-HMSC", "A"), ("BMSC", "B")}
        site = {s.code: s.id for s in db.session.scalars(select(Site))}
        clocks = safety.open_sae_clocks(site["A"])
        assert len(clocks) == 1 and clocks[0][1].status == "open"
        assert safety.pending_count(site["A"]) == 1 and safety.pending_count(site["B"]) == 0
        b1 = db.session.scalar(select(Patient).where(Patient.subject_code == "B-001"))
        given = db.session.scalars(select(Infusion).where(Infusion.patient_id == b1.id)
                                   .order_by(Infusion.number)).all()
        assert [(i.number, i.cells, i.volume_ml, i.flags) for i in given] == [
            (1, 65_000_000, 80.0, []), (2, 65_000_000, 80.0, [])]
        results = {s.screening_code: s.eligible for s in db.session.scalars(select(Screening))}
        assert results == {"S-B-001": True, "S-B-002": False, "S-B-003": False}
