"""The session writes the audit trail: a change with no audit call still leaves its row, with actor and reason."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from epro.base.orm import db
from epro.models import (
    AdverseEvent,
    AllocationSlot,
    Arm,
    AuditEvent,
    CaregiverLink,
    ContactCall,
    DataQuery,
    Infusion,
    Patient,
    QueryMessage,
    Response,
    SafetyCheck,
    Screening,
    Signature,
    Site,
    SourceVerification,
    Study,
    StudySite,
    SymptomReport,
    Unblinding,
    User,
)
from epro.services import audit, unit_of_work

#: A column of each audited table that a plain update may change, and a value for it.
UPDATES = {
    Response: ("flags", ["edited"]), Signature: ("printed_name", "Dr. Changed"), Patient: ("education", "illiterate"),
    CaregiverLink: ("created_at", None), Screening: ("nihss_total", 7), AllocationSlot: ("assigned_at", None),
    Unblinding: ("reason", "changed"), Infusion: ("reactions", "rash"), SymptomReport: ("what", "changed"),
    AdverseEvent: ("term", "changed"), SafetyCheck: ("lab_detail", "changed"), User: ("display_name", "Changed"),
    Study: ("name", "changed"), StudySite: ("site_id", None), Arm: ("label", "changed"), Site: ("name", "changed"),
    DataQuery: ("item", "changed"), QueryMessage: ("text", "changed"),
    SourceVerification: ("cleared_reason", "removed"),
    ContactCall: ("note", "changed"),
}


def test_every_table_is_audited_or_named_as_derived():
    tables = set(db.Model.metadata.tables)
    assert tables - set(audit.AUDITED) - audit.NOT_AUDITED == set()
    # reminder_preferences: a person's own channel choice, audited as they change it (tests/test_reminders_web.py).
    assert {m.__tablename__ for m in UPDATES} | {"activation_codes", "recovery_codes", "reminder_preferences"} \
        == set(audit.AUDITED)


def _make(model, user: User):
    patient = db.session.scalar(select(Patient).where(Patient.subject_code == "A-001"))
    response = db.session.scalars(select(Response).where(Response.patient_id == patient.id)).first()
    def query() -> DataQuery:
        q = DataQuery(patient_id=patient.id, response_id=response.id, visit_code=response.visit_code,
                      instrument=response.instrument, source="patient", raised_by_id=user.id)
        db.session.add(q)
        db.session.flush()
        return q

    row = {
        DataQuery: query,
        QueryMessage: lambda: QueryMessage(query_id=query().id, author_id=user.id, action="raise", text="why?"),
        SourceVerification: lambda: SourceVerification(response_id=response.id, patient_id=patient.id,
                                                       verified_by_id=user.id),
        Signature: lambda: Signature(response_id=response.id, signer_id=user.id, printed_name="Admin",
                                     meaning="reviewed"),
        Unblinding: lambda: Unblinding(patient_id=patient.id, user_id=user.id, reason="emergency"),
        SafetyCheck: lambda: SafetyCheck(patient_id=patient.id, visit_code="M1", lab="normal", neuro="normal",
                                         imaging="none", recorded_by_id=user.id),
        ContactCall: lambda: ContactCall(patient_id=patient.id, visit_code="M3", outcome="no_answer",
                                         called_by_id=user.id),
    }[model]()
    db.session.add(row)
    db.session.flush()
    return row


def _last(table: str, record_id) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == table,
                                                       AuditEvent.record_id == str(record_id))
                              .order_by(AuditEvent.id.desc())).first()


@pytest.mark.parametrize("model", list(UPDATES), ids=lambda m: m.__tablename__)
def test_an_update_with_no_audit_call_is_audited(app, model):
    column, value = UPDATES[model]
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        row = db.session.scalars(select(model).order_by(*model.__table__.primary_key.columns)).first()
        if row is None:  # not in the demo: made here (its insert is audited too)
            with unit_of_work.unit_of_work():
                row = _make(model, admin)
            assert _last(model.__tablename__, audit._record_id(row)).action == audit.AUDITED[
                model.__tablename__].insert_action
        if value is None:  # a column whose type needs a value of its own
            value = {"created_at": "now", "assigned_at": "now", "site_id": "other"}[column]
            if value == "now":
                value = datetime(2020, 1, 2, 3, 4, tzinfo=UTC)
            else:
                value = db.session.scalar(select(Site.id).where(Site.id != row.site_id))
        record_id = audit._record_id(row)
        with unit_of_work.unit_of_work(actor=admin), audit.operation("correct", reason="test reason"):
            setattr(row, column, value)
        event = _last(model.__tablename__, record_id)
        assert (event.action, event.field, event.user_id, event.role, event.reason) == (
            "correct", column, admin.id, "admin", "test reason")


def test_inserts_and_soft_deletes_are_audited_with_the_actor(app):
    with app.app_context():
        clinician = db.session.scalar(select(User).where(User.username == "clinician.a"))
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == "A-001"))
        with unit_of_work.unit_of_work(actor=clinician):
            site = Site(code="Z", name="Site Z")
            db.session.add(site)
            db.session.flush()
            check = SafetyCheck(patient_id=patient.id, visit_code="M1", lab="normal", neuro="normal",
                                imaging="none", recorded_by_id=clinician.id)
            db.session.add(check)
        created = _last("sites", site.id)
        assert (created.action, created.user_id) == ("create", clinician.id)
        assert json.loads(created.new_value)["code"] == "Z"
        assert _last("safety_checks", check.id).action == "create"

        response = db.session.scalars(select(Response).where(Response.patient_id == patient.id)).first()
        ae = db.session.scalars(select(AdverseEvent)).first()
        with unit_of_work.unit_of_work(actor=clinician):
            response.status = "removed"
            ae.status = "withdrawn"
            check.status = "replaced"
        removed = _last("responses", response.id)
        assert (removed.action, removed.field, removed.user_id) == ("remove", "status", clinician.id)
        assert json.loads(removed.old_value)["status"] == "active"
        assert _last("adverse_events", ae.id).action == "remove"
        assert _last("safety_checks", check.id).field == "status"


def test_sensitive_columns_never_reach_the_trail(app):
    from epro.models import ActivationCode

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        before = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
        with unit_of_work.unit_of_work(actor=user):
            user.password_hash = "secret-hash"
            user.session_token = "secret-token"
            code = ActivationCode(code_hash="secret-code", patient_id=1, role="caregiver",
                                  expires_at=datetime(2030, 1, 1, tzinfo=UTC))
            db.session.add(code)
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > before)))
        assert [r.table_name for r in rows] == ["activation_codes"]
        assert "secret" not in (rows[0].new_value or "")


def test_a_failed_flush_leaves_no_audit_rows_behind(app):
    with app.app_context():
        site = db.session.scalars(select(Site)).first()
        with unit_of_work.unit_of_work():
            try:
                with db.session.begin_nested():
                    site.name = "renamed"
                    db.session.add(Site(code=site.code, name="duplicate code"))  # unique code: refused
                    db.session.flush()
            except IntegrityError:  # the savepoint is gone, with its audit rows
                pass
            site.timezone = "Asia/Urumqi"
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "sites",
                                                                 AuditEvent.record_id == str(site.id))))
        assert [r.field for r in rows if r.action == "update"] == ["timezone"]


def test_the_day_a_patient_moved_is_read_from_the_session(app):
    """Per-field rows carry plain values (the contract's reading of a day-0 move)."""
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == "A-003"))
        with unit_of_work.unit_of_work(), audit.operation("update", reason="first infusion"):
            patient.day0 = date(2026, 1, 5)
        event = _last("patients", patient.id)
        assert (event.field, json.loads(event.new_value), event.reason) == ("day0", "2026-01-05", "first infusion")


def test_a_refused_activation_code_is_kept_as_a_security_event(app, client):
    def count():
        with app.app_context():
            return len(list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "activation_failed"))))

    before = count()
    assert client.get("/activate?code=ABCD-EFGH").status_code == 400
    assert count() == before + 1


def test_a_bulk_statement_on_an_audited_table_is_refused_unless_summarized(app):
    from sqlalchemy import update

    with app.app_context():
        with pytest.raises(audit.UnauditedBulkChange):
            db.session.execute(update(Site).values(name="bulk"))
        db.session.rollback()
        db.session.execute(update(Site).values(name="bulk").execution_options(**{audit.SUMMARIZED: True}))
        db.session.rollback()
