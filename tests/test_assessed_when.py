"""A clinician assessment records when it was done and who rated it (not when it was typed in)."""
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from epro.base.orm import db
from epro.models import Patient, Response, User

MRS = {"MRS0101": "3"}


def form_id(html):
    return re.search(r'name="response_id" value="([^"]+)"', html).group(1)


def the_response(app, rid):
    with app.app_context():
        r = db.session.get(Response, rid)
        db.session.expunge(r)
        return r


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def facts(app, pid):
    with app.app_context():
        p = db.session.get(Patient, pid)
        return p.enrolled_on, p.site.timezone


def test_form_defaults_to_now_on_site_clock_and_me(app, login, ids):
    s = login("clinician.a")
    html = s.get(f"/clinic/patients/{ids['A-001']}/visits/M3/mrs?lang=en").get_data(as_text=True)
    _, tz = facts(app, ids["A-001"])
    today = datetime.now(ZoneInfo(tz)).date().isoformat()
    assert f'id="q-assessed_on" name="assessed_on" value="{today}"' in html
    assert re.search(r'id="q-assessed_at" name="assessed_at" value="\d\d:\d\d"', html)
    me = user_id(app, "clinician.a")
    assert re.search(rf'<option value="{me}" selected>', html)
    # Raters: the site's clinicians and investigators, not another site's.
    assert "(investigator.a)" in html and "(clinician.b)" not in html
    assert '<label for="q-rater">Assessed by</label>' in html and "Time (" in html


def test_paper_score_keeps_its_date_and_rater(app, login, ids):
    s = login("clinician.a")
    pid = ids["A-001"]
    enrolled_on, tz = facts(app, pid)
    day = max(enrolled_on, date.today() - timedelta(days=3))
    url = f"/clinic/patients/{pid}/visits/M3/mrs"
    rid = form_id(s.get(url).get_data(as_text=True))
    rater = user_id(app, "investigator.a")
    r = s.post(url, data={**MRS, "response_id": rid, "assessed_on": day.isoformat(), "assessed_at": "09:30",
                          "rater": str(rater)})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    stored = the_response(app, rid)
    expected = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    assert stored.completed_at == expected
    assert stored.rater_id == rater and stored.entered_by_id == user_id(app, "clinician.a")
    record = s.get(f"/clinic/responses/{rid}?lang=en").get_data(as_text=True)
    assert re.search(r"<dd data-rater>[^<]*\(investigator\.a\)</dd>", record)
    assert "<dt>Assessed</dt>" in record
    timeline = s.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert re.search(r"data-rater>[^<]+ · ", timeline), timeline[timeline.index('id="visit-M3"'):][:3000]
    api = s.get(f"/api/v1/patients/{pid}/responses").get_json()["responses"]
    mine = next(x for x in api if x["id"] == rid)
    assert mine["rater"] == "investigator.a" and mine["completed_at"].startswith(expected.isoformat()[:16])
    # Patients and caregivers are not told who rated.
    patient = login("patient.a1").get(f"/api/v1/patients/{pid}/responses").get_json()["responses"]
    assert all("rater" not in x for x in patient)


def test_future_before_enrolment_and_unknown_rater_are_refused_in_place(app, login, ids):
    s = login("clinician.a")
    pid = ids["A-001"]
    enrolled_on, _tz = facts(app, pid)
    url = f"/clinic/patients/{pid}/visits/M3/mrs?lang=en"
    rid = form_id(s.get(url).get_data(as_text=True))
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    r = s.post(url, data={**MRS, "response_id": rid, "assessed_on": tomorrow, "assessed_at": "10:00",
                          "rater": str(user_id(app, "clinician.b"))})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert '<p class="error" id="err-assessed_on">This time is in the future.</p>' in html
    assert '<p class="error" id="err-rater">Choose a rater of this site.</p>' in html
    assert f'value="{tomorrow}"' in html  # what was typed stays
    before = (enrolled_on - timedelta(days=1)).isoformat()
    r = s.post(url, data={**MRS, "response_id": rid, "assessed_on": before, "assessed_at": "25:00"})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "This is before the patient was enrolled" in html
    assert '<p class="error" id="err-assessed_at">Please enter a time such as 09:30.</p>' in html
    r = s.post(url.replace("lang=en", "lang=zh"), data={**MRS, "response_id": rid, "assessed_on": "",
                                                          "assessed_at": ""})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "请输入评估日期。" in html and "请输入评估时间。" in html
    with app.app_context():
        assert db.session.get(Response, rid) is None


def test_deactivated_staff_cannot_be_named_rater(app, login, ids):
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == "investigator.a"))
        u.active = False
        u.deactivated_at = datetime.now(UTC)
        db.session.commit()
        inv = u.id
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-001']}/visits/M3/mrs?lang=en"
    html = s.get(url).get_data(as_text=True)
    assert "(investigator.a)" not in html
    rid = form_id(html)
    r = s.post(url, data={**MRS, "response_id": rid, "rater": str(inv)})
    r = s.follow(r)
    assert r.status_code == 422 and "Choose a rater of this site." in r.get_data(as_text=True)
