"""Masking in one place: the presenter decides; pages, JSON and files only show what it gives."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from epro.base.orm import db
from epro.models import AllocationSlot, Infusion, Patient, Study, Unblinding, User
from epro.services.masking import MASKED, Presenter

ROOT = Path(__file__).resolve().parents[1]
#: What reading an arm or a dose straight from the database looks like in a view or template.
RAW_ARM_ACCESS = re.compile(r"\b(patient|p|row|slot)\.(arm|arm_id|arm_code)\b|\bsees_arms\b|\bunblinded_for\b")


def _get(app, model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def test_views_templates_and_serializers_never_read_arms_themselves():
    offenders = []
    for path in [*(ROOT / "epro" / "web").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if RAW_ARM_ACCESS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_masked_and_unblinded_staff_in_a_masked_study(app):
    with app.app_context():
        a1 = _get(app, Patient, subject_code="A-001")
        masked = Presenter(_get(app, User, username="clinician.a"))
        unblinded = Presenter(_get(app, User, username="investigator.a"))
        patient_side = Presenter(_get(app, User, username="patient.a1"))
        assert masked.arm(a1) is None and patient_side.arm(a1) is None and Presenter(None).arm(a1) is None
        arm = unblinded.arm(a1)
        assert arm is not None and arm.code == "low" and arm.text("zh") != arm.text("en")
        assert masked.study_arms(a1.study) == () and len(unblinded.study_arms(a1.study)) == 3
        assert masked.infusion_plan(a1) is None and unblinded.infusion_plan(a1) is not None
        assert masked.schedule_plan(a1) is not None  # the dates of infusions are no secret


def test_open_label_staff_see_arms_but_not_an_allocation_list(app):
    with app.app_context():
        b1 = _get(app, Patient, subject_code="B-001")
        clinician_b = Presenter(_get(app, User, username="clinician.b"))
        assert clinician_b.arm(b1).code == "bmsc"
        assert clinician_b.sees_allocation_list(b1.study) is False
        slot = AllocationSlot(study_id=b1.study_id, site_id=b1.site_id, sequence=1, arm_code="bmsc", seed_digest="x")
        assert clinician_b.slot_arm(b1.study, slot) is None
        # An investigator is unblinded for their own site only (epro.core.roles): site B's place stays hidden.
        assert Presenter(_get(app, User, username="investigator.a")).slot_arm(b1.study, slot) is None
        assert Presenter(_get(app, User, username="admin")).slot_arm(b1.study, slot).code == "bmsc"


def test_an_emergency_unblinding_shows_that_one_patient_only(app):
    with app.app_context():
        a1, a2 = _get(app, Patient, subject_code="A-001"), _get(app, Patient, subject_code="A-002")
        nurse = _get(app, User, username="clinician.a")
        db.session.add(Unblinding(patient_id=a1.id, user_id=nurse.id, reason="anaphylaxis"))
        db.session.flush()
        presenter = Presenter(nurse)
        assert presenter.arm(a1).code == "low" and presenter.arm(a2) is None
        db.session.rollback()


def test_infusions_and_audit_values_are_masked_for_masked_eyes(app):
    with app.app_context():
        a1 = _get(app, Patient, subject_code="A-001")
        row = Infusion(patient_id=a1.id, number=1, given_at=datetime(2026, 1, 1, tzinfo=UTC), weight_kg=60,
                       cells=60_000_000, volume_ml=80.0, lot="L-7", reactions="", flags=["dose_differs",
                                                                                        "outside_window"])
        masked = Presenter(_get(app, User, username="clinician.a"))
        view = masked.infusion(a1, row)
        assert (view.cells, view.volume_ml, view.lot, view.weight_kg) == (None, None, None, None)
        assert view.flags == ("outside_window",)
        shown = Presenter(_get(app, User, username="investigator.a")).infusion(a1, row)
        assert (shown.cells, shown.volume_ml, shown.lot) == (60_000_000, 80.0, "L-7")
        value = json.dumps({"cells": 6e7, "volume_ml": 80, "arm": "low", "number": 1})
        assert json.loads(masked.audit_value(a1, value)) == {"cells": MASKED, "volume_ml": MASKED, "arm": MASKED,
                                                            "number": 1}
        assert masked.audit_field(a1, "arm_id", "2") == MASKED
        # the trail hides what the page hides: the weight and the dose flags of an infusion
        row_json = json.dumps({"weight_kg": 61.5, "flags": ["dose_differs", "outside_window"], "number": 1})
        assert json.loads(masked.audit_value(a1, row_json)) == {"weight_kg": MASKED, "flags": ["outside_window"],
                                                               "number": 1}
        assert json.loads(masked.audit_field(a1, "flags", '["volume_outside"]')) == []
        assert masked.shows_table(a1, "allocation_slots") is False and masked.shows_table(a1, "responses")
        assert db.session.scalar(select(Study).where(Study.id == a1.study_id)).masked
