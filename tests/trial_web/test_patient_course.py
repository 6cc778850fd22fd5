"""The patient's whole course: enrolment follows the study's design, and the end of participation.

A randomized study takes a patient only through screening and randomization, or
registered on purpose as "not yet randomized" (no arm, in no arm summary until
allocated); an open study directly.  A disposition (completed, withdrawn, lost,
died) ends the schedule: visits not done are "ended", nothing is due, no new
patient-reported answers, and consent withdrawn or death stops every contact.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from epro.models import AllocationSlot, AuditEvent, Patient


def enrol_form(today, code: str, **extra) -> dict[str, str]:
    return {"subject_code": code, "birth_year": "1961", "sex": "male", "education": "primary", "language": "zh",
            "day0": today.isoformat(), **extra}


# --- enrolment follows the design ------------------------------------------------------


@pytest.mark.parametrize("lang, message", [
    ("en", "This study is randomized: a patient enters it through screening and randomization"),
    ("zh", "本研究为随机研究：患者须经筛选和随机分组入组"),
])
def test_randomized_study_refuses_direct_enrolment_in_place(login, trial, lang, message):
    s = login("clinician.a")
    page = s.get(f"/clinic/enrol?lang={lang}").get_data(as_text=True)
    assert 'data-randomized-study="IT-HMSC"' in page and 'name="not_randomized"' in page
    assert 'href="/clinic/trial/screening"' in page
    r = s.post(f"/clinic/enrol?lang={lang}", data=enrol_form(trial.today(), "a-950"))
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'<p class="error" id="not_randomized-err">' + re.escape(message), html)
    assert 'value="A-950"' in html  # kept as typed (stored upper case)
    assert trial.patient_id("A-950") is None


def test_the_service_refuses_direct_enrolment_too(app):
    from epro.base.orm import db
    from epro.models import Study, User
    from epro.services.errors import Invalid
    from epro.services.trial import enrolment

    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == "IT-HMSC"))
        actor = db.session.scalar(select(User).where(User.username == "clinician.a"))
        details = enrolment.PatientDetails("A-951", 1960, "female", "primary", "zh")
        with pytest.raises(Invalid) as caught:
            enrolment.enrol(study, actor.site_id, details, actor, day0=datetime.now(UTC).date(),
                            enrolled_on=datetime.now(UTC).date())
        assert [e.field for e in caught.value.errors] == ["not_randomized"]
        assert caught.value.errors[0].message == enrolment.THROUGH_SCREENING
        db.session.rollback()
        assert db.session.scalar(select(Patient).where(Patient.subject_code == "A-951")) is None


def test_not_yet_randomized_is_audited_kept_apart_and_allocated_later(login, trial, text):
    clinic = login("clinician.a")
    r = clinic.post("/clinic/enrol?lang=en", data=enrol_form(trial.today(), "a-960", not_randomized="y"))
    assert r.status_code == 302
    pid = trial.patient_id("A-960")
    assert trial.scalar(select(Patient.arm_id).where(Patient.id == pid)) is None
    created = trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "patients", AuditEvent.action == "create",
                                                    AuditEvent.record_id == str(pid)))
    assert created is not None and '"not_randomized": true' in created.new_value
    timeline = clinic.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert "data-not-randomized" in timeline and "Randomize now" in timeline

    investigator = login("investigator.a")  # sees arms: the summary is per arm
    study = trial.study_id("IT-HMSC")
    before = investigator.get(f"/clinic/trial/studies/{study}/outcomes?lang=en").get_data(as_text=True)
    assert 'data-not-randomized="1"' in before and "Not yet randomized (1)" in text(before)
    assert 'data-group="none"' not in before  # in no arm's group
    masked = clinic.get(f"/clinic/trial/studies/{study}/outcomes?lang=zh").get_data(as_text=True)
    assert 'data-not-randomized="1"' in masked and "尚未随机（1）" in text(masked)

    done = clinic.post(f"/clinic/trial/patients/{pid}/allocate?lang=en", data={})
    assert done.status_code == 302
    arm_id = trial.scalar(select(Patient.arm_id).where(Patient.id == pid))
    assert arm_id is not None
    slot = trial.scalar(select(AllocationSlot).where(AllocationSlot.patient_id == pid))
    assert slot is not None and slot.assigned_by_id is not None
    assert trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "allocation_slots",
                                                 AuditEvent.action == "assign",
                                                 AuditEvent.record_id == str(slot.id)))
    flashed = clinic.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert "A-960 is randomized." in flashed and "data-not-randomized" not in flashed
    assert "data-arm" not in flashed  # the masked clinician still does not see the arm
    after = investigator.get(f"/clinic/trial/studies/{study}/outcomes?lang=en").get_data(as_text=True)
    assert "data-not-randomized" not in after
    again = clinic.post(f"/clinic/trial/patients/{pid}/allocate?lang=en", data={}, follow_redirects=True)
    assert "This patient is not waiting for randomization." in again.get_data(as_text=True)


def test_open_study_enrols_directly(login, trial, monkeypatch):
    from epro.services.trial import enrolment, studies

    real = studies.protocol_of

    def open_label(study):
        p = real(study)
        return dataclasses.replace(p, design=dataclasses.replace(p.design, allocation="non_randomized"))

    monkeypatch.setattr(studies, "protocol_of", open_label)
    monkeypatch.setattr(enrolment, "protocol_of", open_label)
    s = login("clinician.b")
    page = s.get("/clinic/enrol?lang=en").get_data(as_text=True)
    assert "data-randomized-study" not in page and 'name="not_randomized"' not in page
    r = s.post("/clinic/enrol?lang=en", data=enrol_form(trial.today(), "b-960"))
    assert r.status_code == 302 and trial.patient_id("B-960") is not None


# --- the end of participation ------------------------------------------------------------


def fatal_sae(trial, subject: str) -> int:
    from epro.base.orm import db
    from epro.models import User
    from epro.services.trial import safety

    def make():
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == subject))
        actor = db.session.scalar(select(User).where(User.username == "clinician.a"))
        ae = safety.record_adverse_event(patient, safety.AdverseEventEntry(
            term="Fatal stroke", onset=trial.today() - timedelta(days=2), end=trial.today() - timedelta(days=1),
            grade=5, serious_criteria=["death"], relatedness="unlikely", action="not_applicable",
            outcome="fatal", aware_at=datetime.now(UTC) - timedelta(hours=5)), actor)
        db.session.commit()
        return ae.id

    return trial.run(make)


@pytest.mark.parametrize("lang, future, reason, death", [
    ("en", "This date is in the future.", "Please give the reason for the withdrawal.",
     "Please choose the serious adverse event with the fatal outcome."),
    ("zh", "此日期在将来。", "请填写退出的原因。", "请选择结局为死亡的严重不良事件。"),
])
def test_disposition_problems_show_in_place(login, trial, ids, lang, future, reason, death):
    s = login("clinician.a")
    url = f"/clinic/trial/patients/{ids['A-003']}/disposition?lang={lang}"
    page = s.get(url)
    assert page.status_code == 200 and 'name="kind"' in page.get_data(as_text=True)
    tomorrow = (trial.today() + timedelta(days=1)).isoformat()
    r = s.post(url, data={"kind": "withdrawn", "on": tomorrow, "reason": ""})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'id="err-on">' + re.escape(future), html)
    r = s.post(url, data={"kind": "withdrawn", "on": trial.today().isoformat(), "reason": " "})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and re.search(r'id="err-reason">' + re.escape(reason), html)
    assert 'href="#f-reason"' in html
    r = s.follow(s.post(url, data={"kind": "died", "on": trial.today().isoformat()}))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and re.search(r'id="err-death_event">' + re.escape(death), html)
    assert trial.scalar(select(Patient.disposition).where(Patient.id == ids["A-003"])) is None


def test_died_links_to_a_fatal_sae_of_the_patient(login, trial, ids, text):
    from epro.base.orm import db
    from epro.services import followup

    s = login("clinician.a")
    url = f"/clinic/trial/patients/{ids['A-004']}/disposition?lang=en"
    other = fatal_sae(trial, "A-003")  # someone else's SAE is not a choice
    r = s.post(url, data={"kind": "died", "on": trial.today().isoformat(), "death_event": str(other)})
    r = s.follow(r)
    assert r.status_code == 422 and 'id="err-death_event">Please choose one.' in r.get_data(as_text=True)
    sae = fatal_sae(trial, "A-004")
    page = s.get(url).get_data(as_text=True)
    assert f'<option value="{sae}"' in page and f'<option value="{other}"' not in page
    r = s.post(url, data={"kind": "died", "on": trial.today().isoformat(), "death_event": str(sae)})
    assert r.status_code == 302
    timeline = s.get(f"/clinic/patients/{ids['A-004']}?lang=en").get_data(as_text=True)
    assert 'data-disposition="died"' in timeline and f'data-death-event="{sae}"' in timeline
    assert f'/clinic/trial/patients/{ids["A-004"]}/adverse-events#ae-{sae}' in timeline
    assert "Fatal stroke" in text(timeline)
    with trial.app.test_request_context():
        p = db.session.get(Patient, ids["A-004"])
        assert p.death_event_id == sae and followup.contactable(p) is False
    again = s.get(url)
    assert again.status_code == 302  # recorded once


def test_each_kind_is_recorded_and_audited(login, trial, ids):
    from epro.base.orm import db
    from epro.services import followup

    s = login("investigator.a")
    today = trial.today()
    cases = {
        "A-001": {"kind": "withdrawn", "on": today.isoformat(), "reason": "Moved away", "consent_withdrawn": "y"},
        "A-002": {"kind": "lost", "on": (today - timedelta(days=3)).isoformat()},
        "A-003": {"kind": "completed", "on": today.isoformat()},
    }
    for subject, form in cases.items():
        r = s.post(f"/clinic/trial/patients/{ids[subject]}/disposition?lang=en", data=form)
        assert r.status_code == 302, subject
    with trial.app.test_request_context():
        rows = {p.subject_code: p for p in db.session.scalars(select(Patient).where(
            Patient.subject_code.in_(list(cases))))}
        assert rows["A-001"].disposition == "withdrawn" and rows["A-001"].consent_withdrawn
        assert rows["A-001"].disposition_reason == "Moved away"
        assert rows["A-002"].disposition_on == today - timedelta(days=3) and not rows["A-002"].consent_withdrawn
        assert [followup.contactable(rows[c]) for c in ("A-001", "A-002", "A-003")] == [False, True, True]
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "disposition", AuditEvent.table_name == "patients",
            AuditEvent.record_id == str(ids["A-001"]))).all()
        fields = {e.field: e.new_value for e in events}
        assert fields["disposition"] == "withdrawn" and fields["consent_withdrawn"] in ("true", "True", "1")
        assert {e.reason for e in events} == {"Moved away"}
        assert {e.role for e in events} == {"investigator"}
    timeline = s.get(f"/clinic/patients/{ids['A-001']}?lang=zh").get_data(as_text=True)
    assert "已撤回知情同意" in timeline and "Moved away" in timeline
    # the masked monitor reads, never records
    monitor = login("monitor.a") if "monitor.a" in _usernames(trial) else None
    if monitor is not None:
        assert monitor.get(f"/clinic/trial/patients/{ids['A-004']}/disposition").status_code == 404


def _usernames(trial):
    from epro.models import User

    return {u.username for u in trial.all(select(User))}


def test_schedule_site_list_and_patient_home_after_withdrawal(login, trial, ids):
    s = login("clinician.a")
    a1 = ids["A-001"]
    home = login("patient.a1")
    before = home.get("/me?lang=en").get_data(as_text=True)
    assert 'data-visit="M3"' in before
    due = s.get("/clinic/?filter=due_week").get_data(as_text=True)
    assert 'data-subject="A-001"' in due
    r = s.post(f"/clinic/trial/patients/{a1}/disposition?lang=en",
               data={"kind": "withdrawn", "on": trial.today().isoformat(), "reason": "No longer wishes to take part"})
    assert r.status_code == 302

    schedule = home.get(f"/api/v1/patients/{a1}/schedule").get_json()
    by_code = {v["code"]: v for v in schedule["visits"]}
    assert by_code["BL"]["status"] == "complete" and by_code["M1"]["status"] == "complete"
    assert {by_code[c]["status"] for c in ("M3", "M6", "M12")} == {"ended"}
    assert {i["status"] for i in by_code["M3"]["instruments"]} == {"not-due"}
    timeline = s.get(f"/clinic/patients/{a1}?lang=en").get_data(as_text=True)
    assert re.search(r'data-visit="M3".*?<span class="badge ended">Closed</span>', timeline, re.S)

    listed = s.get("/clinic/?filter=ended&lang=en").get_data(as_text=True)
    assert 'data-subject="A-001"' in listed and 'data-subject="A-002"' not in listed
    assert 'data-disposition="withdrawn"' in listed and "Withdrawn" in listed
    on_study = s.get("/clinic/?filter=on_study").get_data(as_text=True)
    assert 'data-subject="A-001"' not in on_study and 'data-subject="A-002"' in on_study
    due = s.get("/clinic/?filter=due_week").get_data(as_text=True)
    assert 'data-subject="A-001"' not in due

    for lang, thanks in (("en", "Your part in the study has ended. Thank you very much"),
                         ("zh", "您参与的研究已经结束。衷心感谢")):
        page = home.get(f"/me?lang={lang}").get_data(as_text=True)
        assert "data-ended" in page and thanks in page
        assert "data-instrument=" not in page and "data-report-problem" not in page
    carer = login("caregiver.a1").get("/me?lang=en").get_data(as_text=True)
    assert "The follow-up of this patient has ended." in carer and "data-instrument=" not in carer

    body = {"id": "6f1c0b1e-0000-4000-8000-00000000a001", "patient_id": a1, "visit": "M3", "instrument": "bi",
            "answers": {}, "respondent": "patient", "completed_at": datetime.now(UTC).isoformat()}
    from epro.core import instruments

    body["answers"] = {i.key: i.allowed_values[-1] for i in instruments.get("bi").items}
    r = home.api_post("/api/v1/responses", body)
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in r.get_json()["errors"]] == ["visit"]
    assert "参与研究已于" in r.get_json()["errors"][0]["message"]  # the language chosen last (zh)
    page = home.get(f"/patients/{a1}/visits/M3/bi?lang=zh").get_data(as_text=True)
    assert "data-ended" in page and 'id="questionnaire"' not in page and "参与研究已经结束" in page
    posted = home.follow(home.post(f"/patients/{a1}/visits/M3/bi?lang=en", data=body["answers"]))
    assert posted.status_code == 422 and "no new answers are taken" in posted.get_data(as_text=True)
    # answers stored before stay, and count
    responses = home.get(f"/api/v1/patients/{a1}/responses").get_json()["responses"]
    assert {(r["visit"], r["instrument"]) for r in responses} >= {("BL", "bi"), ("M1", "bi")}


def test_no_new_code_for_a_patient_who_withdrew_consent(login, trial, ids):
    from epro.models import ActivationCode

    s = login("clinician.a")
    pid = ids["A-003"]
    r = s.post(f"/clinic/trial/patients/{pid}/disposition",
               data={"kind": "withdrawn", "on": trial.today().isoformat(), "reason": "Consent withdrawn",
                     "consent_withdrawn": "y"})
    assert r.status_code == 302
    before = len(trial.all(select(ActivationCode).where(ActivationCode.patient_id == pid)))
    for lang, message in (("en", "This patient may not be contacted any more"), ("zh", "已不能再联系该患者")):
        page = s.post(f"/clinic/patients/{pid}/codes?lang={lang}", data={"role": "caregiver"},
                      follow_redirects=True).get_data(as_text=True)
        assert message in page and "data-activation-code" not in page
    assert len(trial.all(select(ActivationCode).where(ActivationCode.patient_id == pid))) == before


def test_consent_only_with_a_withdrawal(login, trial, ids):
    s = login("clinician.a")
    r = s.post(f"/clinic/trial/patients/{ids['A-003']}/disposition?lang=en",
               data={"kind": "lost", "on": trial.today().isoformat(), "consent_withdrawn": "y"})
    r = s.follow(r)
    assert r.status_code == 422
    assert 'id="err-consent_withdrawn">Only a withdrawal can be a withdrawal of consent.' in r.get_data(as_text=True)


def test_the_disposition_service_names_every_problem_and_records_once(app, trial, ids):
    from epro.base.orm import db
    from epro.models import User
    from epro.services import disposition
    from epro.services.errors import Invalid, Refused

    with app.app_context():
        patient = db.session.get(Patient, ids["A-002"])
        actor = db.session.scalar(select(User).where(User.username == "clinician.a"))
        today = trial.today()
        with pytest.raises(Invalid) as caught:
            disposition.record_disposition(patient, "withdrawn", today + timedelta(days=1), "", True, None, actor)
        assert {(e.field, e.message) for e in caught.value.errors} == {
            ("on", disposition.IN_FUTURE), ("reason", disposition.REASON_NEEDED)}
        with pytest.raises(Invalid) as caught:
            disposition.record_disposition(patient, "died", patient.enrolled_on - timedelta(days=1), None, True,
                                           None, actor)
        assert {e.field for e in caught.value.errors} == {"on", "consent_withdrawn", "death_event"}
        with pytest.raises(Invalid) as caught:
            disposition.record_disposition(patient, "resting", today, None, False, None, actor)
        assert [e.field for e in caught.value.errors] == ["kind"]
        assert patient.disposition is None
        disposition.record_disposition(patient, "lost", today, None, False, None, actor)
        assert patient.disposition == "lost" and patient.disposition_on == today
        with pytest.raises(Refused):
            disposition.record_disposition(patient, "completed", today, None, False, None, actor)
        db.session.rollback()
