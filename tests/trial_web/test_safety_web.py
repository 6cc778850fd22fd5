"""Safety: symptom reports from the app, adverse events and the SAE clock, safety checks, the summary."""
from sqlalchemy import select


def test_symptom_report_reaches_the_sites_clinicians_only(login, trial, ids, text):
    from epro.models import SymptomReport

    a1 = ids["A-001"]
    patient = login("patient.a1")
    home = patient.get("/me?lang=en").get_data(as_text=True)
    assert f'href="/patients/{a1}/report"' in home
    empty = patient.follow(patient.post(f"/patients/{a1}/report?lang=en", data={}))
    assert empty.status_code == 422 and "Please fill this in." in empty.get_data(as_text=True)
    r = patient.post(f"/patients/{a1}/report", data={
        "what": "Dizzy when standing up", "since": trial.today().isoformat(), "severity": "severe",
        "hospital_visit": "yes"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/me")
    caregiver = login("caregiver.a1")
    assert caregiver.post(f"/patients/{a1}/report", data={
        "what": "Swollen ankle", "since": trial.today().isoformat(), "severity": "mild",
        "hospital_visit": "no"}).status_code == 302
    rows = trial.all(select(SymptomReport).where(SymptomReport.patient_id == a1).order_by(SymptomReport.id))
    assert [(r.respondent, r.hospital_visit) for r in rows[-2:]] == [("patient", True), ("caregiver", False)]

    site_a = login("clinician.a")
    patients = site_a.get("/clinic/?lang=en").get_data(as_text=True)
    assert 'data-reports="3"' in patients  # the demo report and the two new ones
    desk = text(site_a.get("/clinic/trial/safety?lang=en").get_data(as_text=True))
    assert "Dizzy when standing up" in desk and "Swollen ankle" in desk and "went to a hospital" in desk
    site_b = login("clinician.b")
    assert "data-reports" not in site_b.get("/clinic/").get_data(as_text=True)
    assert "Dizzy" not in site_b.get("/clinic/trial/safety").get_data(as_text=True)
    # patients of another site and staff cannot use the report page
    assert login("patient.b1").get(f"/patients/{a1}/report").status_code == 404
    assert site_a.get(f"/patients/{a1}/report").status_code == 404


def test_review_or_record_as_adverse_event(login, trial, ids):
    from epro.models import AdverseEvent, SymptomReport

    report = trial.scalar(select(SymptomReport).where(SymptomReport.patient_id == ids["A-001"]))  # demo report
    s = login("clinician.a")
    assert login("clinician.b").post(f"/clinic/trial/reports/{report.id}/reviewed", data={}).status_code == 404
    form = s.get(f"/clinic/trial/patients/{ids['A-001']}/adverse-events/new?report={report.id}&lang=en")
    assert "头痛" in form.get_data(as_text=True)  # prefilled from the patient's words
    r = s.post(f"/clinic/trial/patients/{ids['A-001']}/adverse-events/new?report={report.id}", data={
        "term": "Headache", "onset": report.since.isoformat(), "grade": "1", "relatedness": "possible",
        "action": "not_applicable", "outcome": "recovering", "aware_on": trial.today().isoformat(),
        "aware_time": "08:00"})
    assert r.status_code == 302
    reviewed = trial.scalar(select(SymptomReport).where(SymptomReport.id == report.id))
    ae = trial.scalar(select(AdverseEvent).where(AdverseEvent.term == "Headache"))
    assert reviewed.reviewed_at is not None and reviewed.adverse_event_id == ae.id and not ae.serious
    assert 'data-reports' not in s.get("/clinic/").get_data(as_text=True)


def test_sae_clock_is_shown_until_reported(login, trial, ids):
    from epro.models import AdverseEvent, AuditEvent

    s = login("clinician.a")
    pid = ids["A-001"]
    now = trial.today()
    bad = s.post(f"/clinic/trial/patients/{pid}/adverse-events/new?lang=en", data={
        "term": "Death", "onset": now.isoformat(), "grade": "5", "relatedness": "unlikely",
        "action": "not_applicable", "outcome": "fatal", "aware_on": now.isoformat(), "aware_time": "00:00"})
    bad = s.follow(bad)
    assert bad.status_code == 422 and "Results in death" in bad.get_data(as_text=True)
    r = s.post(f"/clinic/trial/patients/{pid}/adverse-events/new", data={
        "term": "Seizure", "onset": now.isoformat(), "grade": "3", "serious_criteria": ["hospitalization"],
        "relatedness": "possible", "action": "not_applicable", "outcome": "recovering",
        "aware_on": now.isoformat(), "aware_time": "00:00"})
    assert r.status_code == 302
    ae = trial.scalar(select(AdverseEvent).where(AdverseEvent.term == "Seizure"))
    assert ae.serious and ae.reported_at is None
    listing = s.get("/clinic/?lang=en").get_data(as_text=True)
    assert f'<li data-ae="{ae.id}">' in listing and "data-sae-clock" in listing
    assert "Seizure" in login("investigator.a").get("/clinic/").get_data(as_text=True)
    assert "Seizure" not in login("clinician.b").get("/clinic/").get_data(as_text=True)
    events = s.get(f"/clinic/trial/patients/{pid}/adverse-events?lang=en").get_data(as_text=True)
    assert "Seizure" in events and "Mark as reported" in events
    assert login("clinician.b").post(f"/clinic/trial/adverse-events/{ae.id}/reported", data={}).status_code == 404
    done = s.post(f"/clinic/trial/adverse-events/{ae.id}/reported", data={"back": "list"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/clinic/")
    assert trial.scalar(select(AdverseEvent).where(AdverseEvent.id == ae.id)).reported_at is not None
    assert f'<li data-ae="{ae.id}">' not in s.get("/clinic/").get_data(as_text=True)
    assert trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "adverse_events",
                                                 AuditEvent.record_id == str(ae.id),
                                                 AuditEvent.field == "reported_at"))


def test_safety_check_per_visit(login, trial, ids):
    from epro.models import AuditEvent, SafetyCheck

    pid = ids["A-001"]
    s = login("clinician.a")
    timeline = s.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert f'/clinic/trial/patients/{pid}/visits/M1/safety' in timeline
    url = f"/clinic/trial/patients/{pid}/visits/M1/safety?lang=en"
    missing = s.follow(s.post(url, data={"lab": "abnormal_cs", "neuro": "normal", "imaging": "none"}))
    assert missing.status_code == 422 and "Please describe what was found." in missing.get_data(as_text=True)
    assert s.post(url, data={"lab": "abnormal_cs", "lab_detail": "ALT 3× ULN", "neuro": "normal",
                             "imaging": "none"}).status_code == 302
    again = s.follow(s.post(url, data={"lab": "normal", "neuro": "normal", "imaging": "none"}))
    assert again.status_code == 422 and "give a reason" in again.get_data(as_text=True)
    assert s.post(url, data={"lab": "abnormal_ncs", "lab_detail": "Na 133", "neuro": "abnormal",
                             "neuro_detail": "new left drift",
                             "imaging": "hemorrhage", "imaging_detail": "small petechial", "reason": "lab re-read"}
                  ).status_code == 302
    checks = trial.all(select(SafetyCheck).where(SafetyCheck.patient_id == pid).order_by(SafetyCheck.id))
    assert [c.status for c in checks] == ["replaced", "active"] and checks[1].imaging == "hemorrhage"
    replaced = trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "safety_checks",
                                                     AuditEvent.action == "replace"))
    assert replaced.reason == "lab re-read"
    assert s.get(f"/clinic/trial/patients/{pid}/visits/M7/safety").status_code == 404
    assert login("clinician.b").get(url).status_code == 404


def test_safety_summary_pooled_for_masked_per_arm_for_unblinded(login, trial, ids):
    from epro.core import protocols

    study = trial.study_id("IT-HMSC")
    s = login("clinician.a")
    s.post(f"/clinic/trial/patients/{ids['A-001']}/visits/M1/safety",
           data={"lab": "abnormal_cs", "lab_detail": "ALT high", "neuro": "normal", "imaging": "none"})
    s.post(f"/clinic/trial/patients/{ids['A-001']}/visits/BL/safety",  # before treatment: never counted
           data={"lab": "abnormal_cs", "lab_detail": "ALT high", "neuro": "abnormal", "neuro_detail": "x",
                 "imaging": "none"})
    url = f"/clinic/trial/studies/{study}/safety?lang=en"
    pooled = s.get(url).get_data(as_text=True)
    assert "data-pooled" in pooled and 'data-group="all"' in pooled
    assert '<tr data-category="sae">' in pooled
    # demo: one SAE; the M1 CS lab change of A-001; 4 patients at site A
    assert 'data-group="all" data-events="1" data-patients="1"' in pooled.split('data-category="sae"')[1]
    assert 'data-group="all" data-events="1"' in pooled.split('data-category="lab_cs"')[1]
    assert 'data-group="all" data-events="0"' in pooled.split('data-category="neuro_abnormal"')[1]
    assert "n = 4" in pooled
    it = protocols.load("it-hmsc")
    for arm in it.arms:
        assert arm.label.en not in pooled and f'data-group="{arm.code}"' not in pooled
    by_arm = login("investigator.a").get(url).get_data(as_text=True)
    assert "data-pooled" not in by_arm
    for arm in it.arms:
        assert arm.label.en in by_arm and f'data-group="{arm.code}"' in by_arm
    sae_row = by_arm.split('data-category="sae"')[1].split("</tr>")[0]
    assert 'data-group="high" data-events="1"' in sae_row  # A-002 is in the high-dose arm
    assert 'data-group="low" data-events="0"' in sae_row
