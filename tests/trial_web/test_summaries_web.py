"""Outcome summary on a small known dataset: change from baseline, mRS bars, pooled or per arm."""
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import event, select

from epro.base.orm import db

#: subject → arm, then instrument → {visit: total}
KNOWN = {
    "K-1": ("low", {"nihss": {"BL": 10, "M1": 8, "M3": 6}, "mrs": {"BL": 3, "M1": 2}}),
    "K-2": ("low", {"nihss": {"BL": 12, "M1": 9}, "mrs": {"BL": 4, "M1": 4}}),
    "K-3": ("high", {"nihss": {"BL": 8, "M1": 8}, "mrs": {"BL": 3, "M1": 3}}),
}


def _known_study(app, login, trial, code="KNOWN", patients=KNOWN):
    """A masked it-hMSC study at site B with the known totals stored as responses."""
    from epro.models import Patient, Response, Site
    from epro.services import followup

    if trial.study_id(code) is None:
        site_b = trial.scalar(select(Site.id).where(Site.code == "B"))
        assert login("admin").post("/clinic/trial/admin/studies/new", data={
            "code": code, "name": "known", "protocol": "it-hmsc", "sites": [str(site_b)]}).status_code == 302
    day0 = trial.today() - timedelta(days=100)
    for subject, (arm, totals) in patients.items():
        pid = trial.add_patient(code, "B", subject, arm, day0)

        def store(pid=pid, totals=totals):
            patient = db.session.get(Patient, pid)
            for visit in followup.planned_visits(patient):
                for instrument, by_visit in totals.items():
                    if visit.code in by_visit:
                        moment = datetime.combine(visit.target_date, time(10), UTC)
                        db.session.add(Response(
                            id=str(uuid.uuid4()), patient_id=pid, visit_code=visit.code, instrument=instrument,
                            answers={}, total=by_visit[visit.code], respondent="clinician", completed_at=moment,
                            received_at=moment, payload_digest="0" * 64))
            db.session.commit()

        trial.run(store)
    return trial.study_id(code)


def _unblinded_user_at_b(trial):
    from epro.models import Site, User
    from epro.services.passwords import hash_password

    def make():
        site = db.session.scalar(select(Site).where(Site.code == "B"))
        db.session.add(User(username="investigator.b", role="investigator", unblinded=True, site_id=site.id,
                            password_hash=hash_password("epro-demo-2026")))
        db.session.commit()

    trial.run(make)


def row(html, instrument, group, visit):
    table = html.split(f'<table data-instrument="{instrument}">')[1].split("</table>")[0]
    return table.split(f'data-group="{group}" data-visit="{visit}"')[1].split(">")[0]


def test_outcome_summary_pooled_for_masked_staff(app, login, trial, text):
    study = _known_study(app, login, trial)
    html = login("clinician.b").get(f"/clinic/trial/studies/{study}/outcomes?lang=en").get_data(as_text=True)
    assert "data-pooled" in html
    m1 = row(html, "nihss", "all", "M1")  # changes -2, -3, 0
    assert 'data-n="3" data-mean="-1.7" data-sd="1.5" data-median="-2.0"' in m1
    assert "-2.0 (-2.5 – -1.0)" in text(html)
    assert 'data-n="1" data-mean="-4.0"' in row(html, "nihss", "all", "M3")
    assert 'data-n="3" data-mean="-0.3"' in row(html, "mrs", "all", "M1")  # -1, 0, 0
    assert 'data-n="0"' in row(html, "bi", "all", "M1")
    figure = html.split('data-mrs-group="all"')[1].split("</figure>")[0]
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in figure
    m1_bar = figure.split('data-visit="M1" data-n="3"')[1].split("</g>")[0]
    assert m1_bar.count('data-count="1"') == 3 and 'data-category="2"' in m1_bar
    for label in ("Low-dose it-hMSC", "High-dose it-hMSC", "低剂量"):
        assert label not in html


def test_outcome_summary_per_arm_for_unblinded_staff(app, login, trial):
    study = _known_study(app, login, trial)
    _unblinded_user_at_b(trial)
    html = login("investigator.b").get(f"/clinic/trial/studies/{study}/outcomes?lang=en").get_data(as_text=True)
    assert "data-pooled" not in html and "Low-dose it-hMSC" in html
    assert 'data-n="2" data-mean="-2.5" data-sd="0.7" data-median="-2.5"' in row(html, "nihss", "low", "M1")
    assert 'data-n="1" data-mean="0.0" data-sd="—"' in row(html, "nihss", "high", "M1")
    assert 'data-mrs-group="low"' in html and 'data-mrs-group="high"' in html


def test_outcome_summary_costs_a_fixed_number_of_queries(app, login, trial):
    study = _known_study(app, login, trial)
    s = login("clinician.b")

    @contextmanager
    def counting():
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", count)

    url = f"/clinic/trial/studies/{study}/outcomes"
    s.get(url)  # warm up (catalogs, caches)
    with counting() as few:
        assert s.get(url).status_code == 200
    more = {f"K-{n}": ("medium", {"nihss": {"BL": 9, "M1": 7}, "mrs": {"BL": 2, "M1": 1}}) for n in range(4, 14)}
    _known_study(app, login, trial, patients=more)
    with counting() as many:
        assert s.get(url).status_code == 200
    assert len(many) == len(few)
