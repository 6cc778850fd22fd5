"""Roles mean what they say (epro.core.roles): every role × the clinic's pages and endpoints.

The data manager reads every site and the monitor one site, both always masked
and read-only; the investigator sees arms at their own site only.  Run on
SQLite and PostgreSQL (the ``app`` fixture's backends).
"""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from epro.base.orm import db
from epro.core import roles
from epro.models import (
    ROLES,
    ActivationCode,
    AdverseEvent,
    AuditEvent,
    CaregiverLink,
    Infusion,
    Patient,
    Response,
    SafetyCheck,
    Screening,
    Signature,
    Study,
    SymptomReport,
    Unblinding,
    User,
)
from epro.models.people import STAFF_ROLES
from epro.services.masking import Presenter
from epro.web import guards

PASSWORD = "epro-demo-2026"
READ_ONLY = ("datamanager", "monitor.a")


# --- the table --------------------------------------------------------------------


def test_capability_table_covers_every_role_and_nothing_else():
    assert set(roles.TABLE) == set(ROLES)
    assert STAFF_ROLES == roles.with_capability("reads_clinical") == (
        "clinician", "investigator", "data-manager", "monitor")
    assert roles.of("nobody") == roles.NOTHING and roles.of(None) == roles.NOTHING
    for role in ROLES:
        caps = roles.of(role)
        user = User(username="x", role=role, unblinded=True)
        for name, rule in guards.AUDIENCES.items():  # every audience answers for every role
            assert rule(user) in (True, False), (role, name)
        assert caps.read_only == (caps.reads_clinical and not caps.enters_data)
        # Whoever enters, reads or exports clinical data has a patient scope; nobody else sees a patient.
        assert (caps.patients != "none") == (caps.reads_clinical or caps.answers_patient_reported or caps.exports)


def test_the_table_says_what_the_brief_says():
    dm, mon, inv, clin, admin = (roles.of(r) for r in ("data-manager", "monitor", "investigator", "clinician",
                                                       "admin"))
    assert dm.sees_all_sites and not dm.sees_own_site and dm.exports and dm.raises_queries
    assert mon.sees_own_site and mon.raises_queries and mon.verifies_source and not mon.exports
    assert roles.with_capability("raises_queries") == ("data-manager", "monitor")  # raise and close
    assert roles.with_capability("verifies_source") == ("monitor",)
    assert roles.with_capability("answers_queries") == ("clinician", "investigator")
    for caps in (dm, mon):  # read-only and masked, even if the account were marked unblinded
        assert caps.read_only and not caps.signs and not caps.unblinds and not caps.respondents
        assert not caps.sees_arms(True) and not caps.sees_open_label_arms
    for caps in (inv, clin):
        assert caps.enters_data and caps.signs and caps.sees_own_site and not caps.sees_arms(False)
    assert inv.sees_arms(True) and inv.told_of_unblindings and not clin.told_of_unblindings
    assert admin.administers and admin.sees_arms(False) and admin.patients == "none"
    stat = roles.of("statistician")  # every site's data, for exports only; unblinded if the account is
    assert stat.sees_all_sites and stat.exports and not stat.reads_clinical and not stat.enters_data
    assert stat.sees_arms(True) and not stat.sees_arms(False) and not stat.raises_queries
    assert roles.with_capability("exports") == ("data-manager", "statistician")
    assert roles.with_capability("enters_data") == ("clinician", "investigator")
    assert roles.with_capability("answers_patient_reported") == ("patient", "caregiver")
    with pytest.raises(KeyError):
        roles.with_capability("flies")


# --- helpers ----------------------------------------------------------------------


def _arm_texts(app) -> dict[str, set[str]]:
    """The arm labels (both languages) of A-001, A-002 and B-001, as an unblinded eye sees them."""
    out = {}
    with app.app_context():
        for subject, viewer in (("A-001", "investigator.a"), ("A-002", "investigator.a"), ("B-001", "clinician.b")):
            p = db.session.scalar(select(Patient).where(Patient.subject_code == subject))
            arm = Presenter(db.session.scalar(select(User).where(User.username == viewer))).arm(p)
            assert arm is not None
            out[subject] = {arm.text("zh"), arm.text("en")}
    return out


def _bl_bi(app, subject: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Response.id).join(Patient, Patient.id == Response.patient_id).where(
            Patient.subject_code == subject, Response.visit_code == "BL", Response.instrument == "bi"))


def _no_arm(text: str, labels: set[str]) -> None:
    assert "data-arm" not in text
    for label in labels:
        assert label not in text, label


COUNTED = (Patient, Response, Signature, ActivationCode, Screening, Infusion, AdverseEvent, SafetyCheck,
           Unblinding, AuditEvent)


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


# --- the data manager ---------------------------------------------------------------


def test_datamanager_reads_every_site_and_never_sees_an_arm(app, login, ids, db_backend):
    arms = _arm_texts(app)
    s = login("datamanager")
    page = s.get("/clinic/").get_data(as_text=True)
    for subject in ("A-001", "A-002", "B-001", "B-002"):
        assert f'data-subject="{subject}"' in page
    assert "所有中心的患者" in page or "Patients at all sites" in page
    assert 'id="site-filter"' in page and 'data-site="A"' in page and 'data-site="B"' in page
    assert 'href="/clinic/enrol"' not in page
    only_b = s.get("/clinic/?site=B").get_data(as_text=True)
    assert 'data-subject="B-001"' in only_b and 'data-subject="A-001"' not in only_b
    unknown_site = s.get("/clinic/?site=Z").get_data(as_text=True)  # an unknown site filters nothing out
    assert 'data-subject="A-001"' in unknown_site and 'data-subject="B-001"' in unknown_site

    me = s.get("/api/v1/me").get_json()
    assert me["role"] == "data-manager"
    assert {"A-001", "A-002", "B-001", "B-002"} <= {p["subject_code"] for p in me["patients"]}
    for subject in ("A-001", "B-001"):
        pid = ids[subject]
        timeline = s.get(f"/clinic/patients/{pid}")
        assert timeline.status_code == 200
        html = timeline.get_data(as_text=True)
        assert subject in html
        _no_arm(html, arms[subject])
        assert "/codes" not in html and "data-safety-check" not in html and "/unblind" not in html
        assert ">Enter<" not in html and ">录入<" not in html
        api = s.get(f"/api/v1/patients/{pid}").get_json()
        assert api["subject_code"] == subject and "arm" not in api
        api_tl = s.get(f"/api/v1/patients/{pid}/timeline").get_json()
        assert api_tl["patient"]["subject_code"] == subject and "arm" not in api_tl["patient"]
        csv = s.get(f"/clinic/patients/{pid}/audit.csv").get_data(as_text=True)
        assert csv.lstrip("\ufeff").startswith("at_utc,user,role")
        _no_arm(csv, arms[subject])
        assert "allocation_slots" not in csv
        record = s.get(f"/clinic/responses/{_bl_bi(app, subject)}").get_data(as_text=True)
        assert subject in record and "change_record" not in record and 'name="password"' not in record
        assert "/responses/" + _bl_bi(app, subject) + "/sign" not in record
    # Site B is open label: its clinician sees the arm and the lot; the data manager neither.
    b1 = ids["B-001"]
    infusions = s.get(f"/clinic/trial/patients/{b1}/infusions").get_data(as_text=True)
    assert "BM-B-001" not in infusions and 'name="weight_kg"' not in infusions
    clinician_b = login("clinician.b")
    assert "BM-B-001" in clinician_b.get(f"/clinic/trial/patients/{b1}/infusions").get_data(as_text=True)
    assert "data-arm" in clinician_b.get(f"/clinic/patients/{b1}").get_data(as_text=True)
    assert "BM-B-001" not in s.get(f"/clinic/patients/{b1}/audit.csv").get_data(as_text=True)


def test_read_only_staff_stay_masked_even_when_marked_unblinded(app, login, ids, db_backend):
    arms = _arm_texts(app)
    with app.app_context():
        for username in READ_ONLY:
            db.session.scalar(select(User).where(User.username == username)).unblinded = True
        db.session.commit()
        dm = db.session.scalar(select(User).where(User.username == "datamanager"))
        a1 = db.session.get(Patient, ids["A-001"])
        assert not dm.sees_arms and Presenter(dm).arm(a1) is None and Presenter(dm).study_arms(a1.study) == ()
        assert not Presenter(dm).sees_allocation_list(a1.study)
    for username in READ_ONLY:
        s = login(username)
        html = s.get(f"/clinic/patients/{ids['A-001']}").get_data(as_text=True)
        assert "A-001" in html
        _no_arm(html, arms["A-001"])
        assert "arm" not in s.get(f"/api/v1/patients/{ids['A-001']}").get_json()
        with app.app_context():
            study_id = db.session.scalar(select(Study.id).where(Study.code == "IT-HMSC"))
        assert s.get(f"/clinic/trial/studies/{study_id}/allocation").status_code == 404


# --- the monitor ------------------------------------------------------------------


def test_monitor_reads_site_a_only_masked(app, login, ids, db_backend):
    arms = _arm_texts(app)
    s = login("monitor.a")
    page = s.get("/clinic/").get_data(as_text=True)
    assert 'data-subject="A-001"' in page and 'data-subject="A-002"' in page
    assert 'data-subject="B-001"' not in page and 'id="site-filter"' not in page
    assert 'href="/clinic/enrol"' not in page
    me = s.get("/api/v1/me").get_json()
    assert me["role"] == "monitor" and {p["subject_code"] for p in me["patients"]} >= {"A-001", "A-002"}
    assert not any(p["subject_code"].startswith("B-") for p in me["patients"])
    for path in (f"/clinic/patients/{ids['B-001']}", f"/api/v1/patients/{ids['B-001']}",
                 f"/clinic/responses/{_bl_bi(app, 'B-001')}", f"/clinic/patients/{ids['B-001']}/audit.csv"):
        r = s.get(path)
        assert r.status_code == 404 and "B-001" not in r.get_data(as_text=True), path
    html = s.get(f"/clinic/patients/{ids['A-001']}").get_data(as_text=True)
    assert "A-001" in html
    _no_arm(html, arms["A-001"])
    record = s.get(f"/clinic/responses/{_bl_bi(app, 'A-001')}").get_data(as_text=True)
    assert "A-001" in record and 'name="password"' not in record
    csv = s.get(f"/clinic/patients/{ids['A-001']}/audit.csv").get_data(as_text=True)
    assert "A-001" in csv and "allocation_slots" not in csv
    _no_arm(csv, arms["A-001"])
    # Read pages of the trial work, without the buttons that change anything.
    ae = s.get(f"/clinic/trial/patients/{ids['A-002']}/adverse-events").get_data(as_text=True)
    assert "Pneumonia" in ae and "/reported" not in ae and "/adverse-events/new" not in ae
    reports = s.get("/clinic/trial/safety").get_data(as_text=True)
    assert "/reviewed" not in reports and "/reported" not in reports
    log = s.get("/clinic/trial/screening").get_data(as_text=True)
    assert "/screenings/new" not in log
    carers = s.get(f"/clinic/patients/{ids['A-001']}/caregivers").get_data(as_text=True)
    assert "caregiver.a1" in carers and "/unlink" not in carers and "/codes" not in carers


def _clinical_posts(app, ids) -> list[tuple[str, dict]]:
    """Every page or endpoint that changes clinical data, with a body that would be accepted."""
    a1, a2 = ids["A-001"], ids["A-002"]
    rid = _bl_bi(app, "A-001")
    with app.app_context():
        study_id = db.session.scalar(select(Study.id).where(Study.code == "IT-HMSC"))
        patient = db.session.get(Patient, a1)
        screening = Screening(study_id=patient.study_id, site_id=patient.site_id, screening_code="S-A-900",
                              screened_on=date(2026, 1, 5), birth_date=date(1960, 1, 1), sex="male",
                              onset_date=date(2025, 12, 1), eligible=True, answers={}, failing=[], missing=[])
        db.session.add(screening)
        db.session.commit()
        screening_id = screening.id
        ae_id = db.session.scalar(select(AdverseEvent.id).where(AdverseEvent.patient_id == a2))
        link_id = db.session.scalar(select(CaregiverLink.id).where(CaregiverLink.patient_id == a1))
        site_a = db.session.get(Patient, a1).site_id
        report_id = db.session.scalar(select(SymptomReport.id).join(Patient, Patient.id == SymptomReport.patient_id)
                                      .where(Patient.site_id == site_a).order_by(SymptomReport.id))
    posts = [
        ("/clinic/enrol", {"subject_code": "A-777", "birth_year": "1960", "sex": "male", "education": "primary",
                           "language": "zh", "day0": date.today().isoformat()}),
        (f"/clinic/patients/{a1}/visits/M3/mrs", {"MRS0101": "2"}),
        (f"/clinic/patients/{a1}/codes", {"role": "caregiver"}),
        (f"/clinic/responses/{rid}/sign", {"password": PASSWORD, "meaning": "reviewed", "version": "1"}),
        (f"/clinic/responses/{rid}/unlock", {"reason": "typo", "version": "1"}),
        (f"/clinic/responses/{rid}/remove", {"reason": "typo", "version": "1"}),
        (f"/clinic/trial/studies/{study_id}/screenings/new", {"code": "S-A-777"}),
        (f"/clinic/trial/screenings/{screening_id}/edit", {"code": "S-A-778"}),
        (f"/clinic/trial/screenings/{screening_id}/randomize", {"subject_code": "A-778"}),
        (f"/clinic/trial/patients/{a1}/infusions", {"weight_kg": "60"}),
        (f"/clinic/trial/patients/{a1}/visits/M1/safety", {"reason": "check"}),
        (f"/clinic/trial/patients/{a1}/adverse-events/new", {"term": "Headache"}),
        (f"/clinic/trial/adverse-events/{ae_id}/reported", {}),
        (f"/clinic/trial/reports/{report_id}/reviewed", {}),
        (f"/clinic/trial/patients/{a1}/unblind", {"reason": "emergency", "confirm": "y"}),
        (f"/clinic/trial/studies/{study_id}/allocation", {"seed": "x", "length": "12"}),
        (f"/clinic/patients/{a1}/caregivers/{link_id}/unlink", {"reason": "moved away"}),
        (f"/clinic/trial/patients/{a2}/disposition", {"disposition": "withdrawn", "reason": "asked"}),
        (f"/patients/{a1}/reset", {"username": "patient.a1"}),
    ]
    assert [url for url, _ in posts if re.search(r"/None\b", url)] == []
    return posts


@pytest.mark.parametrize("username", READ_ONLY)
def test_read_only_staff_cannot_change_clinical_data(app, login, ids, username, db_backend):
    s = login(username)
    posts = _clinical_posts(app, ids)
    before = _counts(app)
    for url, body in posts:
        r = s.post(url, data=body)
        assert r.status_code == 404, (username, url, r.status_code)
        assert "A-001" not in r.get_data(as_text=True)
        # The form pages that go with them are not there either.
        if not url.endswith(("/sign", "/unlock", "/remove", "/randomize", "/reported", "/reviewed",
                             "/infusions", "/allocation", "/unlink", "/reset")):
            assert s.get(url).status_code == 404, url
    import uuid
    from datetime import UTC, datetime

    body = {"id": str(uuid.uuid4()), "patient_id": ids["A-001"], "visit": "M3", "instrument": "nihss",
            "answers": {}, "respondent": "clinician", "completed_at": datetime.now(UTC).isoformat()}
    r = s.api_post("/api/v1/responses", body)
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert _counts(app) == before  # nothing stored, nothing audited


def test_the_same_posts_work_for_a_clinician(app, login, ids, db_backend):
    """So the refusals above come from the role, not from a bad body: two of them, accepted."""
    s = login("clinician.a")
    rid = _bl_bi(app, "A-001")
    r = s.post(f"/clinic/responses/{rid}/sign", data={"password": PASSWORD, "meaning": "reviewed", "version": "1"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.response_id == rid)) == 1
    r = s.post(f"/clinic/trial/patients/{ids['A-001']}/unblind", data={"reason": "emergency", "confirm": "y"})
    assert r.status_code in (200, 302)
    assert s.get(f"/clinic/patients/{ids['A-001']}").status_code == 200


# --- the investigator ---------------------------------------------------------------


def test_investigator_sees_arms_at_own_site_only(app, login, ids, db_backend):
    arms = _arm_texts(app)
    s = login("investigator.a")
    html = s.get(f"/clinic/patients/{ids['A-001']}").get_data(as_text=True)
    assert "data-arm" in html and any(label in html for label in arms["A-001"])
    assert s.get(f"/api/v1/patients/{ids['A-001']}").get_json()["arm"]["code"] == "low"
    assert s.get(f"/clinic/patients/{ids['B-001']}").status_code == 404
    assert s.get(f"/api/v1/patients/{ids['B-001']}").status_code == 404
    with app.app_context():
        inv = db.session.scalar(select(User).where(User.username == "investigator.a"))
        b1 = db.session.get(Patient, ids["B-001"])
        a1 = db.session.get(Patient, ids["A-001"])
        presenter = Presenter(inv)
        # Even handed another site's patient, the presenter shows no arm, dose or lot.
        assert presenter.arm(b1) is None and presenter.infusion_plan(b1) is None
        assert presenter.arm(a1) is not None
    clinician = login("clinician.a")
    _no_arm(clinician.get(f"/clinic/patients/{ids['A-001']}").get_data(as_text=True), arms["A-001"])


def test_demo_accounts_of_the_read_only_roles(app, db_backend):
    from epro.app import demo
    from epro.services.passwords import verify_password

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(User))
        demo.load()  # idempotent: nothing new
        assert db.session.scalar(select(func.count()).select_from(User)) == before
        dm = db.session.scalar(select(User).where(User.username == "datamanager"))
        mon = db.session.scalar(select(User).where(User.username == "monitor.a"))
        assert dm.role == "data-manager" and dm.site_id is None and not dm.unblinded
        assert mon.role == "monitor" and mon.site.code == "A" and not mon.unblinded
        for user in (dm, mon):
            assert user.display_name and user.display_name_zh
            assert user.display_name_in("zh") != user.display_name_in("en")
            assert verify_password(user.password_hash, PASSWORD)


def test_records_service_refuses_read_only_roles_too(app, db_backend):
    """Behind the pages, the service itself: no signature, unlock or removal by a read-only role."""
    from epro.services import records

    rid = _bl_bi(app, "A-001")
    with app.app_context():
        response = db.session.get(Response, rid)
        for username in READ_ONLY:
            user = db.session.scalar(select(User).where(User.username == username))
            for change, args in ((records.sign, (PASSWORD, "reviewed")), (records.unlock, ("typo",)),
                                 (records.remove, ("typo",))):
                with pytest.raises(records.NotYours) as refused:
                    change(response, user, *args, response.version)
                assert refused.value.status == 403 and refused.value.message == records.READ_ONLY
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.response_id == rid)) == 0
        assert db.session.get(Response, rid).status == "active"


def test_investigator_reads_the_allocation_list_of_own_site_only(app, login, db_backend):
    """A study run at two sites: the unblinded investigator of site A sees site A's places, not site B's."""
    from epro.models import AllocationSlot, Site, StudySite

    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == "IT-HMSC"))
        site_b = db.session.scalar(select(Site).where(Site.code == "B"))
        if db.session.scalar(select(StudySite.id).where(StudySite.study_id == study.id,
                                                        StudySite.site_id == site_b.id)) is None:
            db.session.add(StudySite(study_id=study.id, site_id=site_b.id))
        db.session.add(AllocationSlot(study_id=study.id, site_id=site_b.id, sequence=1, arm_code="high",
                                      seed_digest="x"))
        db.session.commit()
        study_id = study.id
    s = login("investigator.a")
    page = s.get(f"/clinic/trial/studies/{study_id}/allocation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-site="A"' in html and 'data-site="B"' not in html
    assert "data-arm=" in html
    for username in ("clinician.a", "monitor.a", "datamanager"):  # masked: the page is not there
        assert login(username).get(f"/clinic/trial/studies/{study_id}/allocation").status_code == 404


def test_datamanager_reads_every_study_pooled_and_masked(app, login, db_backend):
    arms = _arm_texts(app)
    everyone = set().union(*arms.values())
    s = login("datamanager")
    index = s.get("/clinic/trial/").get_data(as_text=True)
    assert 'data-study="IT-HMSC"' in index and 'data-study="BMSC"' in index
    assert "/allocation" not in index
    log = s.get("/clinic/trial/screening").get_data(as_text=True)
    assert 'data-study="BMSC"' in log and "/screenings/new" not in log
    with app.app_context():
        study_ids = dict(db.session.execute(select(Study.code, Study.id)).all())
        b_screening = db.session.scalar(select(Screening.id).where(Screening.study_id == study_ids["BMSC"])
                                        .order_by(Screening.id))
    assert b_screening is not None
    detail = s.get(f"/clinic/trial/screenings/{b_screening}").get_data(as_text=True)
    assert "/randomize" not in detail and "/edit" not in detail
    for code in ("IT-HMSC", "BMSC"):  # pooled, never per arm, in the open-label study too
        for page in ("safety", "outcomes"):
            r = s.get(f"/clinic/trial/studies/{study_ids[code]}/{page}")
            assert r.status_code == 200, (code, page)
            html = r.get_data(as_text=True)
            assert "所有中心" in html or "All sites" in html
            _no_arm(html, everyone)
    # clinician.b, in the open-label study, gets its numbers by arm
    by_arm = login("clinician.b").get(f"/clinic/trial/studies/{study_ids['BMSC']}/outcomes").get_data(as_text=True)
    assert any(label in by_arm for label in arms["B-001"])


def test_datamanager_safety_desk_covers_every_site_read_only(app, login, db_backend):
    s = login("datamanager")
    html = s.get("/clinic/trial/safety").get_data(as_text=True)
    assert "Pneumonia" in html and "头痛，比平时累" in html  # site A's SAE clock and patient report
    assert "/reviewed" not in html and "/reported" not in html and "/adverse-events/new" not in html
    assert "/studies/" in html  # the safety summaries of every study


@pytest.mark.parametrize("username,home", [
    ("datamanager", "/clinic/"), ("monitor.a", "/clinic/"), ("investigator.a", "/clinic/"),
    ("clinician.a", "/clinic/"), ("admin", "/clinic/admin"), ("patient.a1", "/me"), ("caregiver.a1", "/me"),
])
def test_each_role_lands_on_its_home(login, username, home, db_backend):
    r = login(username).get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith(home), r.headers.get("Location")
