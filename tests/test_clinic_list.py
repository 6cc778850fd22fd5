"""The site list: SQL filters agree with the domain's statuses; fixed query count."""
import pytest
from sqlalchemy import event, select

from epro.app import demo
from epro.base.orm import db
from epro.core import timeline
from epro.models import Patient, User
from epro.services import followup
from epro.services import site_list as clinic_list


@pytest.fixture
def crowded(app):
    from datetime import timedelta

    from epro.services.unit_of_work import unit_of_work

    with app.app_context():
        demo.generate(120)
        with unit_of_work():  # some participations ended, a while ago and today
            ended = db.session.scalars(select(Patient).where(Patient.subject_code.like("G-A-%"))
                                       .order_by(Patient.subject_code)).all()[::6]
            for n, p in enumerate(ended):
                today = followup.patient_today(p)
                p.disposition = ("withdrawn", "lost", "completed")[n % 3]
                p.disposition_on = max(p.enrolled_on, today - timedelta(days=(n * 37) % 200))
            followup.refresh_progress([p.id for p in ended])
    return app


def python_filter(name, summary, today, patient=None):
    if name in ("on_study", "ended"):
        return (patient.disposition is None) == (name == "on_study")
    if name == "due_week":
        return clinic_list.Row(None, summary) and (
            bool(summary.due) or (summary.next_visit is not None
                                  and summary.next_visit.window_start <= today + clinic_list.DUE_HORIZON))
    return {"late": bool(summary.late), "missed": bool(summary.missed), "alerts": bool(summary.alerts),
            "all": True}[name]


@pytest.mark.parametrize("name", clinic_list.FILTERS)
def test_sql_filters_match_domain_statuses(crowded, name):
    with crowded.app_context():
        user = db.session.scalar(select(User).where(User.username == "clinician.a"))
        rows, total = clinic_list.site_list(user, page=1, per_page=10000, filter_by=name, sort="subject",
                                            today_for=followup.today_in)
        sql_ids = {r.patient.id for r in rows}
        everyone = db.session.scalars(select(Patient).where(Patient.site_id == user.site_id)).all()
        subs = followup.submissions_by_patient(list(everyone))
        expected = set()
        for p in everyone:
            today = followup.patient_today(p)
            summary = timeline.summarize(p.day0, followup.planned_visits(p), subs[p.id], today,
                                         followup.ended_on(p))
            if python_filter(name, summary, today, p):
                expected.add(p.id)
        assert sql_ids == expected
        assert total == len(expected)
        if name != "all":
            assert 0 < len(expected) < len(everyone), "the generated cohort should exercise this filter"


def count_queries(app, client, url):
    counter = [0]
    with app.app_context():
        engine = db.engine

    def _count(*_):
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", _count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    return counter[0]


@pytest.mark.parametrize("url", ["/clinic/", "/clinic/?filter=late", "/clinic/?sort=next_visit&filter=due_week"])
def test_list_queries_do_not_grow_with_patients(app, login, url):
    s = login("clinician.a")
    before = count_queries(app, s.client, url)
    with app.app_context():
        demo.generate(150)
    after = count_queries(app, s.client, url)
    assert after == before


def test_pagination(crowded, login):
    s = login("clinician.a")
    first = s.get("/clinic/?lang=en").get_data(as_text=True)
    assert "Page 1 of 2" in first
    second = s.get("/clinic/?page=2&lang=en").get_data(as_text=True)
    codes_1 = set(__import__("re").findall(r'data-subject="([^"]+)"', first))
    codes_2 = set(__import__("re").findall(r'data-subject="([^"]+)"', second))
    assert len(codes_1) == 50 and codes_2 and not codes_1 & codes_2
    assert s.get("/clinic/?page=abc").status_code == 200
