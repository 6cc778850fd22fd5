"""Audit trail, e-signatures, locking, removal with a reason, corrections, conflicts."""
import re

import pytest
from sqlalchemy import delete, select, text, update

from epro.base.orm import db
from epro.models import AuditEvent, Response
from epro.services.audit import AuditTrailIsAppendOnly

MRS = {"MRS0101": "2"}


def enter_mrs(s, pid, value="2"):
    url = f"/clinic/patients/{pid}/visits/M3/mrs"
    rid = re.search(r'name="response_id" value="([^"]+)"', s.get(url).get_data(as_text=True)).group(1)
    assert s.post(url, data={"MRS0101": value, "response_id": rid}).status_code == 302
    return rid


def version_of(app, rid):
    with app.app_context():
        return db.session.get(Response, rid).version


def test_sign_locks_and_unlock_needs_reason(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    page = f"/clinic/responses/{rid}"
    wrong = s.post(f"{page}/sign?lang=en", data={"password": "nope", "meaning": "performed",
                                                 "version": version_of(app, rid)})
    wrong = s.follow(wrong)
    assert wrong.status_code == 422 and "password is not right" in wrong.get_data(as_text=True)
    ok = s.post(f"{page}/sign", data={"password": "epro-demo-2026", "meaning": "performed",
                                      "version": version_of(app, rid)})
    assert ok.status_code == 302
    html = s.get(page + "?lang=en").get_data(as_text=True)
    assert "Performed by" in html and "Dr. Wang (A)" in html
    # Locked: cannot remove.
    r = s.post(f"{page}/remove?lang=en", data={"reason": "typo", "version": version_of(app, rid)})
    r = s.follow(r)
    assert r.status_code == 422 and "Unlock it with a reason first" in r.get_data(as_text=True)
    # Unlock needs a reason.
    r = s.post(f"{page}/unlock?lang=en", data={"reason": "  ", "version": version_of(app, rid)})
    r = s.follow(r)
    assert r.status_code == 422 and "Please give a reason" in r.get_data(as_text=True)
    r = s.post(f"{page}/unlock", data={"reason": "wrong visit date", "version": version_of(app, rid)})
    assert r.status_code == 302
    html = s.get(page + "?lang=en").get_data(as_text=True)
    assert "void since" in html and "wrong visit date" in html
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.record_id == rid)
                                          .order_by(AuditEvent.id)))
    assert actions == ["create", "signature_failed", "sign", "unlock"]


def test_remove_keeps_record_and_reopens_instrument(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    assert s.post(f"/clinic/responses/{rid}/remove", data={"reason": "entered for the wrong patient",
                                                          "version": version_of(app, rid)}).status_code == 302
    with app.app_context():
        row = db.session.get(Response, rid)
        assert row.status == "removed" and row.removed_reason == "entered for the wrong patient"
    schedule = s.get(f"/api/v1/patients/{ids['A-001']}/schedule").get_json()
    m3 = next(v for v in schedule["visits"] if v["code"] == "M3")
    assert {i["code"]: i["status"] for i in m3["instruments"]}["mrs"] == "due"
    listed = s.get(f"/api/v1/patients/{ids['A-001']}/responses").get_json()["responses"]
    assert rid not in [r["id"] for r in listed]
    trail = s.get(f"/clinic/responses/{rid}?lang=en").get_data(as_text=True)
    assert "entered for the wrong patient" in trail and "Removed on" in trail


def test_correction_replaces_atomically_with_reason(app, login, ids):
    s = login("clinician.a")
    old = enter_mrs(s, ids["A-001"], "2")
    url = f"/clinic/patients/{ids['A-001']}/visits/M3/mrs?replaces={old}"
    form = s.get(url + "&lang=en").get_data(as_text=True)
    assert re.search(r'name="MRS0101" value="2"\s+checked', form)
    new_id = re.search(r'name="response_id" value="([^"]+)"', form).group(1)
    missing_reason = s.post(url, data={"MRS0101": "3", "response_id": new_id, "version": version_of(app, old)})
    missing_reason = s.follow(missing_reason)
    assert missing_reason.status_code == 422
    with app.app_context():
        assert db.session.get(Response, old).status == "active"
        assert db.session.get(Response, new_id) is None
    done = s.post(url, data={"MRS0101": "3", "response_id": new_id, "version": version_of(app, old),
                             "reason": "scored before the walking test"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(Response, old).status == "removed"
        assert db.session.get(Response, new_id).total == 3
        reasons = list(db.session.scalars(select(AuditEvent.reason).where(AuditEvent.record_id == old,
                                                                          AuditEvent.action == "correct")))
    assert reasons == ["scored before the walking test"]
    tl = s.get(f"/api/v1/patients/{ids['A-001']}/timeline").get_json()
    m3 = next(v for v in tl["visits"] if v["code"] == "M3")
    assert {a["instrument"]: a["total"] for a in m3["assessments"]}["mrs"] == 3


def test_second_editor_gets_a_conflict(app, login, ids):
    first, second = login("clinician.a"), login("investigator.a")
    rid = enter_mrs(first, ids["A-001"])
    seen = version_of(app, rid)  # both opened the record at this version
    assert first.post(f"/clinic/responses/{rid}/sign", data={"password": "epro-demo-2026",
                                                            "meaning": "performed", "version": seen}).status_code == 302
    r = second.post(f"/clinic/responses/{rid}/remove?lang=en", data={"reason": "duplicate", "version": seen})
    r = second.follow(r)
    assert r.status_code == 409 and "Someone else changed this record" in r.get_data(as_text=True)


def test_audit_rows_cannot_be_changed_by_orm_bulk_or_sql(app):
    with app.app_context():
        event = db.session.scalars(select(AuditEvent)).first()
        event.reason = "tampered"
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        event = db.session.scalars(select(AuditEvent)).first()
        db.session.delete(event)
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.execute(update(AuditEvent).values(reason="x"))
        db.session.rollback()
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.execute(delete(AuditEvent))
        db.session.rollback()
        for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.reason == "x")) is None


def test_audit_export_csv(app, login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    r = s.get(f"/clinic/patients/{ids['A-001']}/audit.csv")
    assert r.mimetype == "text/csv"
    body = r.get_data(as_text=True)
    assert body.startswith("\ufeffat_utc,user,role,action")
    assert rid in body and "clinician.a" in body
    assert login("clinician.b").get(f"/clinic/patients/{ids['A-001']}/audit.csv").status_code == 404


def test_other_site_cannot_open_record(login, ids):
    s = login("clinician.a")
    rid = enter_mrs(s, ids["A-001"])
    other = login("clinician.b")
    assert other.get(f"/clinic/responses/{rid}").status_code == 404
    assert other.post(f"/clinic/responses/{rid}/remove", data={"reason": "x", "version": 1}).status_code == 404
    assert login("patient.a1").get(f"/clinic/responses/{rid}").status_code == 404
