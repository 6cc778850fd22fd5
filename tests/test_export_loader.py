"""The loader: one study's data from the database as a StudyExport, masked unless unblinded.

Every writer (CSV, SDTM, ODM, FHIR) trusts it: a masked export must carry no arm,
dose, volume or lot anywhere, the audit trail included; the derivations are the
endpoints' own; signatures, removals and deaths come through.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from epro.base.orm import db
from epro.core import endpoints
from epro.models import AdverseEvent, Infusion, Patient, Response, User
from epro.services import exports, followup, records
from epro.services.exports import loader
from epro.services.masking import ARM_REVEALING_KEYS, MASKED
from epro.services.unit_of_work import unit_of_work

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _load(code: str, unblinded: bool):
    return loader.load(exports.study_by_code(code), unblinded=unblinded, actor_name="tester", now=NOW)


def test_a_masked_load_has_no_arm_dose_or_lot_even_in_the_audit_trail(app, db_backend):
    with app.app_context():
        lots = set(db.session.scalars(select(Infusion.lot)))
        assert lots  # the demo gives site B's patients infusions
        for code in ("IT-HMSC", "BMSC"):
            masked, unblinded = _load(code, False), _load(code, True)
            assert not masked.unblinded and masked.arms == {} and unblinded.arms
            assert all(s.arm_code is None and s.arm_label is None for s in masked.subjects)
            assert all(s.arm_code in unblinded.arms for s in unblinded.subjects)
            assert all((i.cells, i.volume_ml, i.weight_kg, i.lot) == (None,) * 4 for i in masked.infusions)
            assert "allocation_slots" not in {a.entity for a in masked.audit}
            assert "allocation_slots" in {a.entity for a in unblinded.audit}
            for a in masked.audit:
                for text in (a.old_value, a.new_value):
                    assert not any(lot in (text or "") for lot in lots), a
                    value = json.loads(text) if text and text.startswith("{") else {}
                    assert all(v == MASKED for k, v in value.items() if k in ARM_REVEALING_KEYS), a
                assert a.field not in ARM_REVEALING_KEYS or MASKED in (a.old_value, a.new_value), a
        bmsc = _load("BMSC", True)
        assert {i.lot for i in bmsc.infusions} <= lots and all(i.volume_ml == 80.0 for i in bmsc.infusions)
        assert any(lot in (a.new_value or "") for a in bmsc.audit for lot in lots)


def test_derivations_and_visit_values_are_the_endpoints_own(app, db_backend):
    with app.app_context():
        export = _load("IT-HMSC", False)
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == "A-001"))
        plans = followup.plans_for([patient])
        from epro.core import timeline
        from epro.services.exports.loader import _today

        # The export's "today" is that of its moment (NOW), as the loader reads it.
        tl = timeline.build_timeline(plans[patient.id], followup.submissions_for(patient),
                                     _today(patient.site.timezone, NOW), followup.ended_on(patient))
        derived = endpoints.response_derivations(tl)
        mine = [r for r in export.responses if r.subject_code == "A-001"]
        assert mine and {r.response_id for r in mine} == set(derived)
        for r in mine:
            d = derived[r.response_id]
            assert (r.counts, r.analysis_flags, r.change_from_baseline) == (d.counts, d.flags, d.change_from_baseline)
        assert [v for v in export.visit_values if v.subject_code == "A-001"] == list(
            endpoints.visit_values("A-001", tl, died_on=followup.died_on(patient)))
        stored = db.session.scalar(select(Response).where(Response.id == mine[0].response_id))
        assert mine[0].answers == stored.answers and mine[0].total == stored.total
        assert export.visits[0].code == "BL" and export.instruments == ("bi", "gds15", "nihss", "mrs", "mmse")
        assert export.generated_by == "tester" and export.generated_at == NOW and export.rules == endpoints.rules()


def test_signatures_removals_and_deaths_come_through(app, db_backend):
    from support.web import PASSWORD

    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == "A-002"))
        clinician = db.session.scalar(select(User).where(User.username == "clinician.a"))
        signed, removed = db.session.scalars(select(Response).where(
            Response.patient_id == patient.id, Response.instrument == "nihss").order_by(Response.visit_code)).all()[:2]
        day = patient.day0 + timedelta(days=20)
        signed_id, removed_id = signed.id, removed.id
        with unit_of_work(clinician):
            records.sign(signed, clinician, PASSWORD, "performed", signed.version)
            records.remove(removed, clinician, "entered for the wrong patient", removed.version)
            db.session.add(AdverseEvent(patient_id=patient.id, term="Death", onset=day, end=day, grade=5,
                                        serious_criteria=["death"], relatedness="not_related",
                                        action="not_applicable", outcome="fatal", recorded_by_id=clinician.id))
        export = _load("IT-HMSC", False)
    by_id = {r.response_id: r for r in export.responses}
    assert by_id[signed_id].signed_by == "clinician.a" and by_id[signed_id].signed_at is not None
    assert removed_id not in by_id
    subject = next(s for s in export.subjects if s.subject_code == "A-002")
    assert subject.death_date == day
    assert any(a.outcome == "fatal" and a.serious for a in export.adverse_events)
    trail = {(a.entity, a.action, a.subject_code) for a in export.audit}
    assert {("signatures", "create", "A-002"), ("responses", "sign", "A-002"), ("responses", "remove", "A-002"),
            ("adverse_events", "create", "A-002")} <= trail
