"""The site list: SQL filters agree with the domain's statuses; fixed query count."""
import pytest
from sqlalchemy import event, func, select

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


def _summaries_from_responses(patients):
    subs = followup.submissions_by_patient(list(patients))
    return {p.id: timeline.summarize(p.day0, followup.planned_visits(p), subs[p.id], followup.patient_today(p),
                                     followup.ended_on(p)) for p in patients}


def _rows_from_projection(patients):
    return {r.patient.id: r.summary for r in clinic_list.summarize_page(list(patients), followup.today_in)}


def test_rows_from_the_projection_equal_summaries_from_responses(crowded):
    """The list reads stored facts (latest totals, alerts, counts), never the responses: same rows."""
    with crowded.app_context():
        everyone = db.session.scalars(select(Patient).order_by(Patient.id)).all()
        expected = _summaries_from_responses(everyone)
        assert _rows_from_projection(everyone) == expected
        assert sum(1 for s in expected.values() if s.alerts) > 5, "the cohort should exercise alerts"
        assert sum(1 for s in expected.values() if s.late) > 5
        assert any(v is not None for s in expected.values() for v in s.latest.values())


def test_incremental_updates_keep_the_projection_equal(crowded):
    """Submits, repeats, late answers and removals update one visit's row and the flags in place."""
    from datetime import UTC, datetime, time, timedelta

    from epro.models import Response
    from epro.services import records, responses
    from epro.services.unit_of_work import unit_of_work

    with crowded.app_context():
        clinician = db.session.scalar(select(User).where(User.username == "clinician.a"))
        patients = db.session.scalars(select(Patient).where(Patient.subject_code.like("G-A-%"),
                                                            Patient.disposition.is_(None))
                                      .order_by(Patient.id)).all()[:12]
        for n, p in enumerate(patients):
            for visit in followup.planned_visits(p):
                if visit.window_start > followup.patient_today(p) or "mrs" not in visit.instruments:
                    continue
                # A late answer, a repeat, and a worse one: counts, latest and alerts all move.
                day = min(visit.window_end + timedelta(days=n % 3), followup.patient_today(p))
                # Never in the future: late in the UTC day the patient's own day may already be tomorrow.
                moment = min(datetime.combine(day, time(2), tzinfo=UTC),
                             datetime.now(UTC) - timedelta(minutes=1)).isoformat()
                with unit_of_work(clinician):
                    outcome = responses.submit(clinician, p, visit=visit.code, instrument="mrs",
                                               answers={"MRS0101": 5 - n % 3}, respondent="clinician",
                                               completed_at=moment)
                assert outcome.counts == (outcome.response.id in followup.counting_ids(p))
        for p in patients[:4]:
            first = db.session.scalars(select(Response).where(Response.patient_id == p.id,
                                                              Response.status == "active")
                                       .order_by(Response.completed_at)).first()
            with unit_of_work(clinician):
                records.remove(first, clinician, "entered for the wrong patient", first.version)
        everyone = db.session.scalars(select(Patient).order_by(Patient.id)).all()
        assert _rows_from_projection(everyone) == _summaries_from_responses(everyone)


def test_a_projection_without_stored_facts_is_summarized_from_responses(crowded):
    """A database upgraded past migration 0011 keeps NULL facts until the next refresh: rows stay right."""
    from sqlalchemy import null, update

    from epro.models import PatientFlags
    from epro.services.unit_of_work import unit_of_work

    with crowded.app_context():
        everyone = db.session.scalars(select(Patient).order_by(Patient.id)).all()
        with unit_of_work():
            db.session.execute(update(PatientFlags).where(PatientFlags.patient_id.in_([p.id for p in everyone[::2]]))
                               .values(latest=null(), alerts=null()))
        assert _rows_from_projection(everyone) == _summaries_from_responses(everyone)
        with unit_of_work():
            demo.load()  # re-projects them
        stale = db.session.scalar(select(func.count()).select_from(PatientFlags).where(PatientFlags.latest.is_(None)))
        assert stale == 0


def test_worsening_pills_say_why_and_a_level_has_no_arrow(crowded, login):
    """A change shows "worse: a → b"; the GDS-15 cut-off is a level, shown as "≥ 5" with no arrow."""
    import re

    from epro.core.instruments import get as instrument

    s = login("clinician.a")
    page = s.get("/clinic/?filter=alerts&lang=en").get_data(as_text=True)
    pills = dict.fromkeys(re.findall(r'data-alert="([a-z0-9_]+)"', page))
    assert "gds15_cutoff" in pills and len(pills) > 1, pills
    for code, text in re.findall(r'data-alert="([a-z0-9_]+)"[^>]*><span aria-hidden="true">([^<]*)</span>', page):
        if code == "gds15_cutoff":
            assert re.fullmatch(r"GDS-15 \d+ \(≥ 5\)", text), text
        else:
            assert re.fullmatch(r"\S+ worse: \d+ → \d+", text), text
    zh = s.get("/clinic/?filter=alerts&lang=zh").get_data(as_text=True)
    assert "变差：" in zh and "（≥ 5）" in zh and "▲" not in zh
    assert instrument("gds15").code == "gds15"
