"""The masking walk: patients, caregivers and masked clinicians of the masked study at
site A never see an arm, an arm label (English or Chinese) or a dose label, on any page
or API endpoint they can reach; the unblinded investigator does see the arm.
"""
import re
from itertools import product

import pytest
from sqlalchemy import select

from epro.core import protocols, schedule

VISITS = schedule.VISIT_CODES
INSTRUMENTS = ("bi", "gds15", "nihss", "mrs", "mmse")
PLACEHOLDER = re.compile(r"<(?:(?:int|string|path)(?:\([^)]*\))?:)?(\w+)>")


def forbidden_texts(trial) -> list[str]:
    """Every arm label and dose label of the study, in both languages, from the protocol and the database."""
    from epro.models import Arm, Study

    protocol = protocols.load("it-hmsc")
    texts = set()
    for arm in protocol.arms:
        texts |= {arm.label.en, arm.label.zh, arm.dose.en, arm.dose.zh}
    study = trial.study_id("IT-HMSC")
    texts |= {a.label for a in trial.all(select(Arm).where(Arm.study_id == study))}
    texts |= {"低剂量", "中剂量", "高剂量", "Low-dose", "Medium-dose", "High-dose"}
    assert trial.scalar(select(Study.masked).where(Study.id == study))
    return sorted(texts)


#: An arm code standing alone as a value: in JSON, an attribute or an element of its own
#: (plain words in a sentence, such as "low mood" on the GDS page, are not codes).
ARM_CODE = re.compile(r"""["'=>]\s*(low|medium|high)\s*["'<]""")


def leaks(body: str, texts: list[str]) -> list[str]:
    found = [t for t in texts if t in body]
    found += sorted(set(ARM_CODE.findall(body)))
    return found


def urls_for(app, values: dict[str, list[str]]) -> list[str]:
    """Every GET URL of the app with each placeholder filled by each given value."""
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        names = PLACEHOLDER.findall(rule.rule)
        if any(n not in values for n in names):
            raise AssertionError(f"no walk values for {rule.rule}")
        for combo in product(*(values[n] for n in names)):
            url = rule.rule
            for name, value in zip(names, combo, strict=True):
                url = PLACEHOLDER.sub(lambda m, n=name, v=value: v if m.group(1) == n else m.group(0), url, count=1)
            out.append(url)
    return out


def _masked_activity(login, trial, ids, eligible_form):
    """Leave traces a masked user could stumble on: a randomization, an AE, a safety check, a report."""
    from epro.models import Screening

    study = trial.study_id("IT-HMSC")
    s = login("clinician.a")
    form = {k: v for k, v in eligible_form(trial.today(), "S-A-700").items() if not k.startswith("criterion_")}
    form.update(criterion_ischemic_stroke="yes", criterion_informed_consent="yes")
    assert s.post(f"/clinic/trial/studies/{study}/screenings/new", data=form).status_code == 302
    sid = trial.scalar(select(Screening.id).where(Screening.screening_code == "S-A-700"))
    r = s.post(f"/clinic/trial/screenings/{sid}/randomize",
               data={"subject_code": "A-700", "education": "primary", "language": "zh"})
    assert r.status_code == 302
    flashed = s.get(r.headers["Location"]).get_data(as_text=True)
    pid = trial.patient_id("A-700")
    s.post(f"/clinic/trial/patients/{pid}/adverse-events/new", data={
        "term": "Fever", "onset": trial.today().isoformat(), "grade": "2", "relatedness": "possible",
        "action": "not_applicable", "outcome": "recovered", "aware_on": trial.today().isoformat(),
        "aware_time": "07:00"})
    s.post(f"/clinic/trial/patients/{pid}/visits/BL/safety", data={"lab": "normal", "neuro": "normal",
                                                                    "imaging": "none"})
    s.post(f"/clinic/trial/patients/{pid}/infusions", data={})  # refused: masked
    login("patient.a1").post(f"/patients/{ids['A-001']}/report", data={
        "what": "tired", "since": trial.today().isoformat(), "severity": "mild", "hospital_visit": "no"})
    _query_activity(login, trial, ids)
    return flashed


def _query_activity(login, trial, ids):
    """Data queries to walk: one answered on a clinician's form (verified too), one open on the patient's own."""
    from epro.models import Response

    def form(instrument):
        return trial.scalar(select(Response.id).where(Response.patient_id == ids["A-001"], Response.visit_code == "M1",
                                                      Response.instrument == instrument))

    monitor, clinician = login("monitor.a"), login("clinician.a")
    for instrument, item in (("mrs", "MRS0101"), ("bi", "bathing")):
        r = monitor.post(f"/queries/new/{form(instrument)}", data={"item": item, "text": "Please check."})
        assert r.status_code == 302
    qid = r.headers["Location"].rsplit("/", 1)[1]
    assert clinician.post(f"/queries/{qid}/answer", data={"text": "Checked.", "version": "1"}).status_code == 302
    assert monitor.post(f"/queries/records/{form('mrs')}/verify", data={}).status_code == 302


def walk_values(trial, patient_ids: list[int]) -> dict[str, list[str]]:
    from epro.models import DataQuery, Patient, Response, Screening, User

    responses = trial.all(select(Response.id).where(Response.patient_id.in_(patient_ids)))
    site = trial.scalar(select(Patient.site_id).where(Patient.id == patient_ids[0]))
    return {
        "patient_id": [str(p) for p in patient_ids], "visit": list(VISITS), "instrument": list(INSTRUMENTS),
        "response_id": responses, "study_id": [str(trial.study_id("IT-HMSC"))],
        "screening_id": [str(i) for i in trial.all(select(Screening.id).where(Screening.site_id == site))] or ["1"],
        "filename": [],
        "site_id": [str(site)], "user_id": [str(u) for u in trial.all(select(User.id).where(User.site_id == site))],
        "query_id": [str(q) for q in trial.all(select(DataQuery.id).where(DataQuery.patient_id.in_(patient_ids)))],
    }


@pytest.mark.parametrize("user", ["patient.a1", "caregiver.a1", "clinician.a", "monitor.a", "datamanager"])
@pytest.mark.sqlite_only  # what a page shows does not depend on the database; the walk runs on SQLite
def test_masked_users_never_see_an_arm(app, login, trial, ids, eligible_form, user, db_backend):
    flashed = _masked_activity(login, trial, ids, eligible_form)
    texts = forbidden_texts(trial)
    assert leaks(flashed, texts) == []
    s = login(user)
    own = [p["id"] for p in s.get("/api/v1/me").get_json()["patients"]]
    assert own and (user not in ("clinician.a", "monitor.a") or len(own) == 5)
    walked = queries_walked = 0
    for lang in ("en", "zh"):
        s.get(f"/me?lang={lang}")  # remember the language for every page
        for url in urls_for(app, walk_values(trial, own)):
            r = s.get(url)
            body = r.get_data(as_text=True)
            r.close()
            assert r.status_code < 500, url
            assert leaks(body, texts) == [], (user, lang, url, r.status_code)
            if r.status_code == 200:
                walked += 1
                queries_walked += url.startswith("/queries/")
    assert walked > (300 if user == "clinician.a" else 40)
    # the query pages (overview, threads, raising a query) were walked by the staff who read them
    assert queries_walked >= {"clinician.a": 6, "monitor.a": 40, "datamanager": 40}.get(user, 0), queries_walked


def test_the_unblinded_investigator_sees_the_arm(login, trial, ids):
    s = login("investigator.a")
    for lang, label in (("en", "Low-dose it-hMSC"), ("zh", "it-hMSC低剂量组")):
        html = s.get(f"/clinic/patients/{ids['A-001']}?lang={lang}").get_data(as_text=True)
        assert f"data-arm>{label}<" in html
    api = s.get(f"/api/v1/patients/{ids['A-001']}").get_json()
    assert api["arm"]["code"] == "low"
    assert s.get(f"/api/v1/patients/{ids['A-002']}/timeline").get_json()["patient"]["arm"]["code"] == "high"
