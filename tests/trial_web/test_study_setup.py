"""An administrator creates a study from each shipped protocol."""
from sqlalchemy import select


def test_admin_creates_a_study_from_each_protocol(app, login, trial):
    from epro.models import Arm, AuditEvent, Site, Study, StudySite

    admin = login("admin")
    page = admin.get("/clinic/admin?lang=en").get_data(as_text=True)
    assert "/clinic/trial/admin/studies/new" in page
    sites = dict(trial.run(lambda: [(s.code, s.id) for s in trial.all(select(Site))]))
    for code, protocol, masked, arms in (("HMSC-2", "it-hmsc", True, ["low", "medium", "high"]),
                                         ("BMSC-2", "bmsc", False, ["routine", "bmsc"])):
        r = admin.post("/clinic/trial/admin/studies/new?lang=en", data={
            "code": code.lower(), "name": f"{protocol} second study", "protocol": protocol,
            "sites": [str(sites["A"]), str(sites["B"])]})
        assert r.status_code == 302
        study = trial.scalar(select(Study).where(Study.code == code))
        assert study.protocol == protocol and study.masked is masked
        assert [a.code for a in trial.all(select(Arm).where(Arm.study_id == study.id).order_by(Arm.id))] == arms
        assert len(trial.all(select(StudySite).where(StudySite.study_id == study.id))) == 2
        assert trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "studies",
                                                     AuditEvent.record_id == str(study.id)))
    listing = admin.get("/clinic/trial/admin/studies/new?lang=en").get_data(as_text=True)
    assert 'data-study="HMSC-2"' in listing and 'data-study="BMSC-2"' in listing


def test_study_form_names_every_problem(login):
    admin = login("admin")
    r = admin.post("/clinic/trial/admin/studies/new?lang=en", data={"code": "IT-HMSC", "protocol": "nope"})
    r = admin.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for message in ("A study with this code exists already.", "Please choose one.",
                    "Choose at least one site."):
        assert message in html


def test_only_the_administrator_creates_studies(login):
    for user in ("clinician.a", "investigator.a", "patient.a1"):
        assert login(user).get("/clinic/trial/admin/studies/new").status_code == 404
