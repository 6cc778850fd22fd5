"""Every route × every role × own and someone else's resource → the expected answer.

A new route fails this test until it is classified below, so nobody adds a
page without deciding who may see it.
"""
import re
from datetime import UTC

import pytest
from sqlalchemy import select

from epro.base.orm import db
from epro.models import Response, User

PUBLIC = {"static", "auth.login", "auth.activate", "auth.logout_page", "pwa.manifest",
          "pwa.service_worker", "pwa.offline", "api.openapi"}
SIGNED_IN = {"main.home", "main.keepalive", "api.me", "pwa.session_state",
             # one's own account (tests/test_credentials.py); the second step of a sign-in
             "account.home", "account.change_password", "account.second_factor", "account.disable_second_factor",
             "account.verify", "account.display",
             # the reset code just issued, on its page (epro.web.shown_codes); else back home (302)
             "account.reset_code"}  # any signed-in user; no patient involved
PATIENT_SIDE = {"patient.home", "patient.questionnaire", "patient.done", "patient.history", "report.new_problem"}
#: Reminders: a patient's or caregiver's own channels and the push key; no patient in the URL.
REMINDED = {"reminders.page", "api.push_public_key"}
#: Pages that change clinical data (or are the form for it): staff who enter data only (epro.core.roles).
ENTRY = {"clinic.assess", "clinic.enrol", "clinic.codes", "trial.new_screening", "trial.edit_screening",
         "trial.new_adverse_event", "trial.safety_check", "trial.disposition_form",
         # worklists: the call list, recording a call, the clinician alerts (site staff who enter data)
         "worklists.call_list", "worklists.call", "worklists.alert_list"}
STAFF = {"clinic.patients", "clinic.timeline", "clinic.record", "clinic.audit_export", "care.caregivers_page",
         # trial conduct: the subject's study, its site's screening, the patient itself
         "trial.studies_index", "trial.screening_log", "trial.reports",
         "trial.screening_detail", "trial.safety_summary", "trial.outcome_summary",
         "trial.infusion_list", "trial.adverse_events", *ENTRY,
         # data queries: the overview (one's site, or every site for a data manager) and a query's thread
         "queries.overview", "queries.thread"}
SITE_PAGES = {"clinic.patients", "clinic.enrol", "trial.studies_index", "trial.screening_log", "trial.reports",
              "queries.overview", "worklists.call_list", "worklists.alert_list"}
#: Raising a data query: monitors and data managers, on a patient they see (epro.core.queries).
RAISE_QUERY = {"queries.new"}
MASKED_STUDY = {"trial.unblind"}  # staff of the site who enter data, masked studies only (site A)
UNBLINDED = {"trial.allocation_list"}  # unblinded staff of the study's site only
ADMIN = {"clinic.admin_home", "trial.new_study",
         "admin.sites_page", "admin.edit_site", "admin.studies_page", "admin.users_page", "admin.user_page",
         "admin.log_page", "api.list_sites", "api.list_users"}
#: An account's code just issued, on its page (epro.web.shown_codes): administrators only; with no code
#: held for this session, back to the account's page (302).
ADMIN_CODE = {"admin.user_code"}
#: The Data page: whoever exports (data managers, statisticians); masked or unblinded is its own test
#: (tests/test_data_page.py).
EXPORTS = {"data.page"}
#: The completion report: data managers (every site) and site staff who enter data (their own site);
#: not statisticians (exports only), monitors, patients or caregivers (tests/test_worklists.py checks the sites).
COMPLETION = {"worklists.completion_report", "worklists.completion_csv"}
API_PATIENT = {"api.patient", "api.patient_schedule", "api.patient_responses", "api.patient_timeline"}
POST_ONLY = {"auth.logout", "clinic.change_record", "api.create_response", "care.unlink",  # own tests
             "trial.randomize", "trial.adverse_event_reported", "trial.report_reviewed",
             "account.issue_reset", "account.issue_patient_reset",
             "admin.add_study_site", "admin.deactivate_user", "admin.reactivate_user", "admin.new_user_code",
             "api.create_site", "api.create_study", "api.create_user", "api.deactivate_user", "api.reactivate_user",
             "trial.allocate",  # trial.allocate: tests/trial_web/test_patient_course.py
             "api.create_push_subscription", "api.delete_push_subscription",  # tests/test_reminders_web.py
             "queries.step", "queries.verify"}  # tests/test_queries.py

ROLES = ["anonymous", "patient.a1", "caregiver.a1", "clinician.a", "clinician.b", "investigator.a", "admin",
         "datamanager", "monitor.a", "statistician"]
SEES = {  # which demo subjects each user may see
    "patient.a1": {"A-001"}, "caregiver.a1": {"A-001"}, "clinician.a": {"A-001", "A-002"},
    "investigator.a": {"A-001", "A-002"}, "clinician.b": {"B-001"}, "admin": set(), "anonymous": set(),
    "datamanager": {"A-001", "A-002", "B-001"}, "monitor.a": {"A-001", "A-002"},
    # every site's data, for exports (and the read-only patient API); no clinic page
    "statistician": {"A-001", "A-002", "B-001"},
}
EXPORTERS = {"datamanager", "statistician"}
ENTERING_USERS = {"clinician.a", "clinician.b", "investigator.a"}
STAFF_USERS = ENTERING_USERS | {"datamanager", "monitor.a"}  # read the clinic pages
RAISERS = {"datamanager", "monitor.a"}


def test_every_route_is_classified(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    known = (PUBLIC | SIGNED_IN | PATIENT_SIDE | REMINDED | STAFF | MASKED_STUDY | UNBLINDED | ADMIN | API_PATIENT
             | POST_ONLY | EXPORTS | COMPLETION | RAISE_QUERY | ADMIN_CODE)
    assert endpoints - known == set(), "classify the new route in tests/test_access_matrix.py"


def url_for_rule(rule, pid, rid, instrument, owned=None):
    """The rule's URL for one subject; *owned* gives the ids of the subject's study, screening…"""
    url = rule.rule
    url = re.sub(r"<int(\([^)]*\))?:patient_id>", str(pid), url)
    url = re.sub(r"<int:(\w+)>", lambda m: str((owned or {})[m.group(1)]), url)
    return (url.replace("<visit>", "M3").replace("<instrument>", instrument)
            .replace("<response_id>", rid).replace("<path:filename>", "css/app.css"))


def owned_ids(app, ids):
    """Per subject: its study and an open screening of its site (one is added at site A)."""
    from datetime import date

    from epro.models import DataQuery, Patient, Screening

    with app.app_context():
        a = db.session.get(Patient, ids["A-001"])
        db.session.add(Screening(study_id=a.study_id, site_id=a.site_id, screening_code="S-A-900",
                                 screened_on=date(2026, 1, 5), birth_date=date(1960, 1, 1), sex="male",
                                 onset_date=date(2025, 12, 1), eligible=False, answers={}, failing=[], missing=[]))
        db.session.commit()
        monitor = db.session.scalar(select(User.id).where(User.username == "datamanager"))
        for subject in ("A-001", "B-001"):  # a data query on each subject's baseline Barthel Index
            p = db.session.get(Patient, ids[subject])
            response = db.session.scalar(select(Response).where(
                Response.patient_id == p.id, Response.visit_code == "BL", Response.instrument == "bi"))
            db.session.add(DataQuery(patient_id=p.id, response_id=response.id, visit_code="BL", instrument="bi",
                                     source="patient", raised_by_id=monitor))
        db.session.commit()
        out = {}
        for subject in ("A-001", "B-001"):
            p = db.session.get(Patient, ids[subject])
            out[subject] = {"study_id": p.study_id, "screening_id": db.session.scalar(
                select(Screening.id).where(Screening.site_id == p.site_id, Screening.patient_id.is_(None))
                .order_by(Screening.id)),
                # the administration pages: the subject's site and its clinician's account
                "site_id": p.site_id, "user_id": db.session.scalar(
                    select(User.id).where(User.site_id == p.site_id, User.role == "clinician").order_by(User.id)),
                "query_id": db.session.scalar(select(DataQuery.id).where(DataQuery.patient_id == p.id))}
        return out


def expected(endpoint, user, subject, api):
    anon = user == "anonymous"
    if endpoint in PUBLIC:
        return {200, 302} if endpoint == "auth.login" and not anon else {200}
    if anon:
        return {401} if api or endpoint == "pwa.session_state" else {302}
    if endpoint in SIGNED_IN:
        return {200, 302}
    visible = subject in SEES[user]
    if endpoint in PATIENT_SIDE:
        ok = user in ("patient.a1", "caregiver.a1") and (visible or endpoint == "patient.home")
        return {200} if ok else {404}
    if endpoint in REMINDED:
        return {200} if user in ("patient.a1", "caregiver.a1") else {404}
    if endpoint in STAFF:
        ok = user in (ENTERING_USERS if endpoint in ENTRY else STAFF_USERS) and (visible or endpoint in SITE_PAGES)
        return {200} if ok else {404}
    if endpoint in MASKED_STUDY:
        return {200} if user in ENTERING_USERS and visible and subject.startswith("A-") else {404}
    if endpoint in UNBLINDED:
        return {200} if user == "investigator.a" and visible else {404}
    if endpoint in ADMIN:
        return {200} if user == "admin" else {404}
    if endpoint in ADMIN_CODE:
        return {302} if user == "admin" else {404}
    if endpoint in EXPORTS:
        return {200} if user in EXPORTERS else {404}
    if endpoint in COMPLETION:
        return {200} if user in ENTERING_USERS | {"datamanager"} else {404}
    if endpoint in RAISE_QUERY:
        return {200} if user in RAISERS and visible else {404}
    if endpoint in API_PATIENT:
        return {200} if visible else {404}
    raise AssertionError(endpoint)


@pytest.mark.parametrize("user", ROLES)
@pytest.mark.sqlite_only  # access rules do not depend on the database; the matrix runs on SQLite
def test_matrix(app, login, ids, user, db_backend):
    with app.app_context():
        bl_bi = dict(db.session.execute(
            select(Response.patient_id, Response.id)
            .where(Response.visit_code == "BL", Response.instrument == "bi")).all())
    owned = owned_ids(app, ids)
    client = app.test_client() if user == "anonymous" else login(user).client
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in POST_ONLY:
            continue
        for subject in ("A-001", "B-001"):
            pid = ids[subject]
            instrument = "nihss" if rule.endpoint.startswith("clinic.") else "bi"
            url = url_for_rule(rule, pid, bl_bi[pid], instrument, owned[subject])
            response = client.get(url)
            response.close()  # static files are streamed
            want = expected(rule.endpoint, user, subject, rule.rule.startswith("/api/"))
            assert response.status_code in want, (user, url, response.status_code, want)
            if response.status_code == 404:
                body = response.get_data(as_text=True)
                assert subject not in body, (user, url)
                if rule.rule.startswith("/api/"):
                    assert response.mimetype == "application/problem+json"
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("user,subject,status", [
    ("patient.a1", "B-001", 404), ("caregiver.a1", "B-001", 404), ("clinician.b", "A-001", 404),
    ("admin", "A-001", 404), ("clinician.a", "A-001", 201),
    # read-only staff see the patient but may submit nothing (as a patient sending nihss: 403)
    ("datamanager", "A-001", 403), ("datamanager", "B-001", 403), ("monitor.a", "A-001", 403),
    ("monitor.a", "B-001", 404),
])
def test_post_response_matrix(app, login, ids, user, subject, status, db_backend):
    import uuid
    from datetime import datetime

    s = login(user)
    body = {"id": str(uuid.uuid4()), "patient_id": ids[subject], "visit": "M3", "instrument": "mrs",
            "answers": {"MRS0101": 2}, "respondent": "clinician",
            "completed_at": datetime.now(UTC).isoformat()}
    r = s.api_post("/api/v1/responses", body)
    assert r.status_code == status
    if status == 404:
        assert subject not in r.get_data(as_text=True)
    if status == 403:
        assert r.mimetype == "application/problem+json" and r.get_json()["status"] == 403
    with app.app_context():
        stored = db.session.get(Response, body["id"])
        assert (stored is not None) == (status == 201)
