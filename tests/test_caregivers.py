"""Caregivers of a patient: several codes, a second patient for an existing account, list and unlink."""
import re

from sqlalchemy import select
from support.web import csrf_from

from epro.base.orm import db
from epro.models import AuditEvent, CaregiverLink, User


def issue_caregiver_code(s, pid) -> str:
    html = s.follow(s.post(f"/clinic/patients/{pid}/codes?lang=en", data={"role": "caregiver"})).get_data(as_text=True)
    return re.search(r"data-activation-code>([A-Z0-9-]+)<", html).group(1)


def activate_new(app, code, username):
    anon = app.test_client()
    token = csrf_from(anon.get(f"/activate?code={code}&lang=en").get_data(as_text=True))
    r = anon.post("/activate", data={"code": code, "username": username, "password": "a-long-pass-1",
                                     "confirm": "a-long-pass-1", "csrf_token": token})
    assert r.status_code == 302
    return anon


def subjects(client):
    return [p["subject_code"] for p in client.get("/api/v1/me").get_json()["patients"]]


def test_several_caregivers_listed_and_one_unlinked(app, login, ids):
    s = login("clinician.a")
    pid = ids["A-002"]
    first = activate_new(app, issue_caregiver_code(s, pid), "carer.one")
    second = activate_new(app, issue_caregiver_code(s, pid), "carer.two")
    assert subjects(first) == subjects(second) == ["A-002"]

    page = s.get(f"/clinic/patients/{pid}/caregivers?lang=en").get_data(as_text=True)
    assert 'data-caregiver="carer.one"' in page and 'data-caregiver="carer.two"' in page
    assert "Linked since" in page and 'data-caregiver="caregiver.a1"' not in page  # a1's caregiver is A-001's
    with app.app_context():
        link_id = db.session.scalar(select(CaregiverLink.id).join(User, User.id == CaregiverLink.caregiver_id)
                                    .where(User.username == "carer.one"))

    # The reason is required: the message is in place and nothing changes.
    r = s.post(f"/clinic/patients/{pid}/caregivers/{link_id}/unlink?lang=en", data={"reason": "  "})
    r = s.follow(r)
    assert r.status_code == 422
    assert f'id="reason-err-{link_id}">Please give a reason for this change.' in r.get_data(as_text=True)
    assert subjects(first) == ["A-002"]
    zh = s.post(f"/clinic/patients/{pid}/caregivers/{link_id}/unlink?lang=zh", data={"reason": ""})
    zh = s.follow(zh)
    assert zh.status_code == 422 and "请" in zh.get_data(as_text=True)

    r = s.post(f"/clinic/patients/{pid}/caregivers/{link_id}/unlink", data={"reason": "Moved away"})
    assert r.status_code == 302
    # Access ends at once: HTML and API say 404, /me lists nothing; the other caregiver keeps access.
    assert subjects(first) == []
    assert first.get(f"/api/v1/patients/{pid}").status_code == 404
    assert first.get(f"/api/v1/patients/{pid}/timeline").status_code == 404
    assert first.get(f"/patients/{pid}/history").status_code == 404
    assert subjects(second) == ["A-002"]
    assert second.get(f"/api/v1/patients/{pid}").status_code == 200

    page = s.get(f"/clinic/patients/{pid}/caregivers?lang=en").get_data(as_text=True)
    assert 'data-caregiver="carer.one"' not in page and 'data-ended="carer.one"' in page
    assert re.search(r'data-ended="carer.one">carer.one, linked [^<]+, unlinked [^<]+ by clinician.a</li>', page)
    with app.app_context():
        link = db.session.get(CaregiverLink, link_id)
        assert link is not None and link.unlinked_at is not None  # kept, never deleted
        assert db.session.get(User, link.unlinked_by_id).username == "clinician.a"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.table_name == "caregiver_links",
                                                           AuditEvent.action == "unlink"))
        assert event is not None and event.reason == "Moved away"
    # Unlinking it again is not possible (the link is no longer current).
    again = s.post(f"/clinic/patients/{pid}/caregivers/{link_id}/unlink", data={"reason": "again"})
    assert again.status_code == 404

    # A new code, redeemed while signed in, links the same account again (the one row is reopened).
    code = issue_caregiver_code(s, pid)
    page = first.get(f"/activate?code={code}&lang=en").get_data(as_text=True)
    assert "data-link-caregiver" in page
    assert first.post("/activate", data={"code": code, "csrf_token": csrf_from(page)}).status_code == 302
    assert subjects(first) == ["A-002"]
    with app.app_context():
        link = db.session.get(CaregiverLink, link_id)
        assert link.unlinked_at is None and link.unlinked_by_id is None
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.table_name == "caregiver_links", AuditEvent.record_id == str(link_id))).all()
        assert "unlink" in actions and "link" in actions


def test_unlinked_caregiver_gets_404_in_html(app, login, ids):
    care = login("caregiver.a1")
    pid = ids["A-001"]
    home = care.get("/me?lang=en").get_data(as_text=True)
    assert "A-001" in home
    s = login("clinician.a")
    with app.app_context():
        link_id = db.session.scalar(select(CaregiverLink.id).where(CaregiverLink.patient_id == pid))
    assert s.post(f"/clinic/patients/{pid}/caregivers/{link_id}/unlink", data={"reason": "Consent ended"}
                  ).status_code == 302
    assert care.get(f"/api/v1/patients/{pid}/schedule").status_code == 404
    assert care.get(f"/patients/{pid}/visits/M3/bi").status_code == 404
    assert care.get(f"/patients/{pid}/history").status_code == 404
    assert care.get("/api/v1/me").get_json()["patients"] == []
    assert "A-001" not in care.get("/me?lang=en").get_data(as_text=True)


def test_existing_caregiver_links_a_second_patient_by_code(app, login, ids):
    s = login("clinician.a")
    code = issue_caregiver_code(s, ids["A-002"])
    care = login("caregiver.a1")
    page = care.get(f"/activate?code={code}&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-link-caregiver" in html and "Choose a username" not in html
    r = care.post("/activate", data={"code": code})
    assert r.status_code == 302
    assert subjects(care) == ["A-001", "A-002"]
    with app.app_context():
        assert db.session.scalar(select(User).where(User.role == "caregiver", User.username.like("carer%"))) is None
    # The code is used up.
    assert app.test_client().get(f"/activate?code={code}").status_code == 400
    # A code for a patient the caregiver already has: a message, no second link.
    code = issue_caregiver_code(s, ids["A-001"])
    r = care.follow(care.post("/activate?lang=en", data={"code": code}))
    assert r.status_code == 409 and "You are already linked to this patient." in r.get_data(as_text=True)


def test_caregiver_list_is_the_sites_only(app, login, ids):
    b = login("clinician.b")
    assert b.get(f"/clinic/patients/{ids['A-001']}/caregivers").status_code == 404
    care = login("caregiver.a1")
    assert care.get(f"/clinic/patients/{ids['A-001']}/caregivers").status_code == 404
