"""The derivation rules where people meet them: the API, the timeline and the outcome summary.

The pure rules are tested one by one in tests/domain/test_endpoints.py; these
tests show the same rules at work through the app, on the demo database.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from epro.core import instruments

NIHSS_0 = dict.fromkeys(instruments.get("nihss").keys, 0)
GDS_ALL_NO = {f"GDS02{n:02d}": "NO" for n in range(1, 16)}  # total 5: the five "NO"-scored items
GDS_OWN = {**GDS_ALL_NO, "GDS0201": "YES", "GDS0205": "YES", "GDS0207": "YES"}  # total 2


def _body(patient_id: int, visit: str, instrument: str, answers: dict, respondent: str, at: str | None = None):
    return {"id": str(uuid.uuid4()), "patient_id": patient_id, "visit": visit, "instrument": instrument,
            "answers": answers, "respondent": respondent,
            "completed_at": at or datetime.now(UTC).isoformat()}


def _listed(session, patient_id: int) -> dict[str, dict]:
    rows = session.get(f"/api/v1/patients/{patient_id}/responses").get_json()["responses"]
    return {r["id"]: r for r in rows}


def test_rule_baseline_a_patients_answer_after_day0_is_refused_in_both_languages(login, ids):
    s = login("patient.a1")
    body = _body(ids["A-001"], "BL", "gds15", GDS_OWN, "patient")
    for lang, word in (("en", "baseline"), ("zh", "基线")):
        r = s.client.post(f"/api/v1/responses?lang={lang}", json=body, headers={"X-CSRFToken": s.csrf})
        assert r.status_code == 422, r.get_json()
        (error,) = [e for e in r.get_json()["errors"] if e["field"] == "visit"]
        assert word in error["message"]
    assert body["id"] not in _listed(s, ids["A-001"])


def test_rule_baseline_a_clinicians_late_baseline_is_kept_flagged_and_not_used(login, ids):
    s = login("clinician.a")
    before = s.get(f"/api/v1/patients/{ids['A-001']}/timeline").get_json()
    base = {a["instrument"]: a for a in before["visits"][0]["assessments"]}["nihss"]
    r = s.api_post("/api/v1/responses", _body(ids["A-001"], "BL", "nihss", NIHSS_0, "clinician"))
    assert r.status_code == 201, r.get_json()
    stored = _listed(s, ids["A-001"])[r.get_json()["id"]]
    assert stored["counts"] is False and stored["total"] == 0
    after = s.get(f"/api/v1/patients/{ids['A-001']}/timeline").get_json()
    still = {a["instrument"]: a for a in after["visits"][0]["assessments"]}["nihss"]
    assert still["response_id"] == base["response_id"] and still["analysis_flags"] == []


def test_rule_which_counts_the_patients_own_answer_beats_an_earlier_proxy(login, ids, app):
    from epro.base.orm import db
    from epro.models import PatientFlags

    caregiver, patient = login("caregiver.a1"), login("patient.a1")
    proxy = caregiver.api_post("/api/v1/responses",
                               _body(ids["A-001"], "M3", "gds15", GDS_ALL_NO, "caregiver-proxy"))
    assert proxy.status_code == 201 and "proxy" in proxy.get_json()["flags"]
    own = patient.api_post("/api/v1/responses", _body(ids["A-001"], "M3", "gds15", GDS_OWN, "patient"))
    assert own.status_code == 201
    listed = _listed(login("clinician.a"), ids["A-001"])
    assert listed[own.get_json()["id"]]["counts"] is True
    assert listed[proxy.get_json()["id"]]["counts"] is False
    timeline = login("clinician.a").get(f"/api/v1/patients/{ids['A-001']}/timeline").get_json()
    m3 = {a["instrument"]: a for v in timeline["visits"] if v["code"] == "M3" for a in v["assessments"]}
    assert (m3["gds15"]["total"], m3["gds15"]["respondent"]) == (2, "patient")
    # The proxy's 5 would have reached the GDS cut-off; the patient's own 2 does not, and the
    # projection the site list reads was rebuilt with the same rule.
    with app.app_context():
        from epro.core import timeline as tl
        from epro.models import Patient
        from epro.services import followup

        alerts = tl.alerts(followup.timeline_for(db.session.get(Patient, ids["A-001"])))
        assert "gds15" not in {a.instrument for a in alerts}
        flags = db.session.scalar(select(PatientFlags).where(PatientFlags.patient_id == ids["A-001"]))
        assert flags.alert_count == len(alerts)


def test_rule_separate_a_proxy_gds_is_reported_apart_on_the_outcome_summary(login, ids, trial, app):
    from epro.models import Patient

    study_id = trial.scalar(select(Patient.study_id).where(Patient.subject_code == "A-001"))
    r = login("caregiver.a1").api_post("/api/v1/responses",
                                       _body(ids["A-001"], "M3", "gds15", GDS_ALL_NO, "caregiver-proxy"))
    assert r.status_code == 201
    for lang, heading in (("en", "answered by a caregiver for the patient (proxy)"), ("zh", "照护者代患者回答")):
        html = login("clinician.a").get(f"/clinic/trial/studies/{study_id}/outcomes?lang={lang}").get_data(
            as_text=True)
        assert heading in html
        table = html.split('data-instrument="gds15" data-apart="proxy">')[1].split("</table>")[0]
        assert 'data-visit="M3" data-n="1"' in table
        assert 'data-rule="separate"' in html  # the rules document is on the page, in the reader's language
    assert "单独报告" in login("clinician.a").get(f"/clinic/trial/studies/{study_id}/outcomes?lang=zh").get_data(
        as_text=True)
    # … and the main table's M3 leaves it out.
    main = html.split('<table data-instrument="gds15">')[1].split("</table>")[0]
    assert 'data-visit="M3" data-n="0"' in main
