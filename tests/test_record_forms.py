"""The record page's changes and the activation-code buttons go through WTForms, like every HTML form."""
from __future__ import annotations

import re

from sqlalchemy import select

from epro.base.orm import db
from epro.models import AuditEvent, Response


def _mrs(s, pid) -> str:
    url = f"/clinic/patients/{pid}/visits/M3/mrs"
    rid = re.search(r'name="response_id" value="([^"]+)"', s.get(url).get_data(as_text=True)).group(1)
    assert s.post(url, data={"MRS0101": "1", "response_id": rid}).status_code == 302
    return rid


def test_a_signature_needs_a_known_meaning_and_keeps_what_was_typed(app, login, ids):
    s = login("clinician.a")
    rid = _mrs(s, ids["A-001"])
    with app.app_context():
        version = db.session.get(Response, rid).version
    r = s.post(f"/clinic/responses/{rid}/sign?lang=en", data={"meaning": "approved", "password": "x",
                                                              "version": version})
    r = s.follow(r)
    assert r.status_code == 422 and "Choose what the signature means." in r.get_data(as_text=True)
    zh = s.post(f"/clinic/responses/{rid}/sign?lang=zh", data={"password": "x", "version": version})
    zh = s.follow(zh)
    assert zh.status_code == 422 and "请选择签名的含义。" in zh.get_data(as_text=True)
    with app.app_context():  # refused by the form: no signature attempt reached the service or the trail
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.record_id == rid)))
    assert "signature_failed" not in actions and "sign" not in actions


def test_a_reason_that_is_too_long_is_refused_in_place(app, login, ids):
    s = login("clinician.a")
    rid = _mrs(s, ids["A-001"])
    with app.app_context():
        version = db.session.get(Response, rid).version
    r = s.post(f"/clinic/responses/{rid}/remove?lang=en", data={"reason": "x" * 501, "version": version})
    r = s.follow(r)
    assert r.status_code == 422 and "500 characters at most" in r.get_data(as_text=True)
    assert 'value="' + "x" * 501 + '"' in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Response, rid).status == "active"
    assert s.post(f"/clinic/responses/{rid}/archive", data={"reason": "r", "version": version}).status_code == 404


def test_activation_codes_only_for_the_patient_or_a_caregiver(login, ids):
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-003']}/codes"
    assert s.post(url, data={"role": "clinician"}).status_code == 400
    issued = s.follow(s.post(url + "?lang=en", data={"role": "caregiver"}))
    assert issued.status_code == 200 and "/activate?code=" in issued.get_data(as_text=True)
