"""Emergency unblinding: a reason, an audit record, the arm for that user and patient only, a notice."""
from sqlalchemy import select

from epro.base.orm import db


def _second_masked_clinician_at_a(trial):
    from epro.models import Site, User
    from epro.services.passwords import hash_password

    def make():
        site = db.session.scalar(select(Site).where(Site.code == "A"))
        db.session.add(User(username="clinician.a2", role="clinician", site_id=site.id,
                            password_hash=hash_password("epro-demo-2026")))
        db.session.commit()

    trial.run(make)


def test_emergency_unblinding(login, trial, ids):
    from epro.models import AuditEvent, Unblinding

    a1, a2 = ids["A-001"], ids["A-002"]
    s = login("clinician.a")
    timeline = s.get(f"/clinic/patients/{a1}?lang=en").get_data(as_text=True)
    assert f"/clinic/trial/patients/{a1}/unblind" in timeline and "data-arm" not in timeline
    no_reason = s.post(f"/clinic/trial/patients/{a1}/unblind?lang=en", data={"reason": "  "})
    no_reason = s.follow(no_reason)
    assert no_reason.status_code == 422 and "Please fill this in." in no_reason.get_data(as_text=True)
    assert trial.all(select(Unblinding)) == []

    r = s.post(f"/clinic/trial/patients/{a1}/unblind", data={"reason": "Suspected anaphylaxis; ICU asks"})
    assert r.status_code == 302
    row = trial.scalar(select(Unblinding))
    assert row.patient_id == a1 and row.reason == "Suspected anaphylaxis; ICU asks"
    audit_row = trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "unblindings"))
    assert audit_row.action == "unblind" and audit_row.reason == row.reason

    # the arm, for this user and this patient only: page, timeline and API
    assert "Low-dose it-hMSC" in s.get(f"/clinic/trial/patients/{a1}/unblind?lang=en").get_data(as_text=True)
    assert 'data-arm>Low-dose it-hMSC<' in s.get(f"/clinic/patients/{a1}?lang=en").get_data(as_text=True)
    assert s.get(f"/api/v1/patients/{a1}").get_json()["arm"]["code"] == "low"
    assert "arm" not in s.get(f"/api/v1/patients/{a2}").get_json()
    assert "data-arm" not in s.get(f"/clinic/patients/{a2}").get_data(as_text=True)
    _second_masked_clinician_at_a(trial)
    other = login("clinician.a2")
    assert "arm" not in other.get(f"/api/v1/patients/{a1}").get_json()
    assert "data-arm" not in other.get(f"/clinic/patients/{a1}").get_data(as_text=True)
    assert "arm" not in login("patient.a1").get(f"/api/v1/patients/{a1}").get_json()

    # the site's investigators are told (not the arm), other staff and other sites are not
    notice = login("investigator.a").get("/clinic/?lang=en").get_data(as_text=True)
    assert 'id="unblinding-notice"' in notice and 'data-unblinded="A-001"' in notice and "clinician.a" in notice
    assert 'id="unblinding-notice"' not in other.get("/clinic/").get_data(as_text=True)
    assert 'id="unblinding-notice"' not in login("clinician.b").get("/clinic/").get_data(as_text=True)


def test_no_unblinding_in_an_open_label_study(login, ids):
    s = login("clinician.b")
    assert s.get(f"/clinic/trial/patients/{ids['B-001']}/unblind").status_code == 404
    assert "/unblind" not in s.get(f"/clinic/patients/{ids['B-001']}").get_data(as_text=True)
    # open label: site staff see the arm
    assert s.get(f"/api/v1/patients/{ids['B-001']}").get_json()["arm"]["code"] == "bmsc"
