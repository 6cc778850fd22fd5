"""A protocol file and a registered instrument drive every page, with no code change.

A third protocol, ``toy-proto``, lives in a temporary directory named by the
``PROTOCOL_DIRS`` setting: it differs from ``bmsc`` in its M1 window (±3 days
instead of ±7), an extra visit M2 (bi only), and the GDS-15 at M6 only.  A
study is created from it on the admin page, patients are put in that study, and
the API schedule, the patient's home, response validation, the site list's
filters, the timeline page and the API timeline are shown to follow it.

A toy instrument registered in a test (``instruments.registered``) and listed by
a protocol at M2 is offered on the patient's home, rendered, scored, stored and
listed by the API schedule.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from epro.base.orm import db
from epro.core import instruments, protocols
from epro.core.instruments import Choice, Instrument, Item
from epro.core.schedule import add_months
from epro.models import Patient, Response, Site, Study, User
from epro.services import followup
from epro.services.passwords import hash_password

PASSWORD = "epro-demo-2026"
TODAY = date(2026, 6, 15)
FIVE = ["bi", "gds15", "nihss", "mrs", "mmse"]
NO_GDS = ["bi", "nihss", "mrs", "mmse"]
BI_ALL_MAX = {"feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10, "bladder": 10,
              "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10}
GDS_ALL_NO = {f"GDS02{n:02d}": "NO" for n in range(1, 16)}


def _bmsc() -> dict:
    return json.loads((protocols.DATA_DIR / "bmsc.json").read_text(encoding="utf-8"))


def toy_protocol(code: str = "toy-proto", m2_instruments: list[str] | None = None) -> dict:
    """bmsc with M1 ±3 days, an extra M2 (±5 days), and the GDS-15 at M6 only."""
    data = copy.deepcopy(_bmsc())
    data["code"] = code
    visits = []
    for v in data["visits"]:
        v = dict(v, instruments=FIVE if v["code"] == "M6" else NO_GDS)
        if v["code"] == "M1":
            v.update(days_before=3, days_after=3)
        visits.append(v)
        if v["code"] == "M1":
            visits.append({"code": "M2", "months": 2, "days_before": 5, "days_after": 5,
                           "instruments": m2_instruments or ["bi"]})
    data["visits"] = visits
    return data


@pytest.fixture
def protocol_dir(app, tmp_path):
    """A directory of extra protocols, named by the app's PROTOCOL_DIRS setting (as EPRO_PROTOCOL_DIRS would)."""
    folder = tmp_path / "protocols"
    folder.mkdir()
    app.config["PROTOCOL_DIRS"] = [str(folder)]
    app.config["TODAY"] = TODAY
    return folder


def write_protocol(folder, data: dict) -> None:
    (folder / f"{data['code']}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def create_study(login, protocol: str, code: str) -> None:
    """The admin's page "create a study from a protocol" lists the new file and makes the study."""
    admin = login("admin")
    page = admin.get("/clinic/trial/admin/studies/new?lang=en").get_data(as_text=True)
    assert f'name="protocol" value="{protocol}"' in page
    site_a = re.search(r'name="sites" value="(\d+)"\s*> <span>A ', page).group(1)
    r = admin.post("/clinic/trial/admin/studies/new",
                   data={"code": code, "name": f"Study {code}", "protocol": protocol, "sites": site_a})
    assert r.status_code == 302, r.get_data(as_text=True)


def add_patient(app, study_code: str, subject: str, day0: date, *, username: str | None = None) -> int:
    """A patient of site A in *study_code* (with an account when *username* is given), projection built."""
    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == study_code))
        site = db.session.scalar(select(Site).where(Site.code == "A"))
        user = None
        if username:
            user = User(username=username, role="patient", password_hash=hash_password(PASSWORD), locale="en")
            db.session.add(user)
            db.session.flush()
        patient = Patient(subject_code=subject, site_id=site.id, study_id=study.id,
                          user_id=user.id if user else None, birth_year=1960, sex="female",
                          education="primary", language="en", day0=day0, enrolled_on=day0 - timedelta(days=3))
        db.session.add(patient)
        db.session.flush()
        followup.refresh_progress([patient.id])
        db.session.commit()
        return patient.id


def at(d: date) -> str:
    """Noon in Shanghai on *d*, as RFC 3339."""
    return datetime.combine(d, time(4, 0), tzinfo=UTC).isoformat()


def body(patient_id: int, visit: str, instrument: str, answers: dict, on: date) -> dict:
    return {"id": str(uuid.uuid4()), "patient_id": patient_id, "visit": visit, "instrument": instrument,
            "answers": answers, "respondent": "patient", "completed_at": at(on)}


def subjects(page: str) -> set[str]:
    return set(re.findall(r'data-subject="([^"]+)"', page))


@pytest.fixture
def toy_world(app, login, protocol_dir):
    """Three patients of a study made from toy-proto; TOY-2 can sign in."""
    write_protocol(protocol_dir, toy_protocol())
    create_study(login, "toy-proto", "TOY")
    return {
        # M1 was 5 days ago: closed with the protocol's ±3 days (open with the default ±7).
        "TOY-1": add_patient(app, "TOY", "TOY-1", add_months(TODAY, -1) - timedelta(days=5)),
        # M2 is today: open.
        "TOY-2": add_patient(app, "TOY", "TOY-2", add_months(TODAY, -2), username="patient.toy2"),
        # M2 was 8 days ago: closed 3 days ago (and M3 opens in 8 days, after the list's week).
        "TOY-3": add_patient(app, "TOY", "TOY-3", add_months(TODAY, -2) - timedelta(days=8)),
    }


def test_api_schedule_follows_the_protocol_file(login, toy_world):
    s = login("clinician.a")
    visits = s.get(f"/api/v1/patients/{toy_world['TOY-2']}/schedule").get_json()["visits"]
    assert [v["code"] for v in visits] == ["BL", "M1", "M2", "M3", "M6", "M9", "M12"]
    by_code = {v["code"]: v for v in visits}
    day0 = add_months(TODAY, -2)
    m1 = add_months(day0, 1)
    assert (by_code["M1"]["window_start"], by_code["M1"]["window_end"]) == (
        (m1 - timedelta(days=3)).isoformat(), (m1 + timedelta(days=3)).isoformat())
    assert (by_code["M2"]["target_date"], by_code["M2"]["window_start"], by_code["M2"]["window_end"]) == (
        TODAY.isoformat(), (TODAY - timedelta(days=5)).isoformat(), (TODAY + timedelta(days=5)).isoformat())
    assert by_code["M2"]["status"] == "open"
    assert [i["code"] for i in by_code["M2"]["instruments"]] == ["bi"]
    assert [i["code"] for i in by_code["M6"]["instruments"]] == FIVE
    for code in ("BL", "M1", "M3", "M9", "M12"):
        assert [i["code"] for i in by_code[code]["instruments"]] == NO_GDS, code


def test_patient_home_offers_what_the_protocol_asks_for(login, toy_world):
    s = login("patient.toy2")
    page = s.get("/me?lang=en").get_data(as_text=True)
    links = re.findall(r'data-instrument="([^"]+)" data-visit="([^"]+)"', page)
    assert links == [("bi", "M2")]  # no GDS-15: the protocol asks for it at M6 only
    assert "Due now: Month 2" in page
    assert "第2个月" in s.get("/me?lang=zh").get_data(as_text=True)
    assert s.get(f"/patients/{toy_world['TOY-2']}/visits/M2/bi").status_code == 200
    assert s.get(f"/patients/{toy_world['TOY-2']}/visits/M1/gds15").status_code == 404


def test_responses_are_checked_against_the_protocol(login, toy_world):
    s = login("patient.toy2")
    pid = toy_world["TOY-2"]
    r = s.api_post("/api/v1/responses", body(pid, "M2", "bi", BI_ALL_MAX, TODAY))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["visit"] == "M2" and r.get_json()["counts"] is True
    r = s.api_post("/api/v1/responses", body(pid, "M1", "gds15", GDS_ALL_NO, TODAY))
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["instrument"]
    r = s.api_post("/api/v1/responses", body(pid, "M4", "bi", BI_ALL_MAX, TODAY))
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["visit"]
    home = s.get("/me?lang=en").get_data(as_text=True)
    assert 'data-visit="M2"' not in home  # done


def test_site_list_filters_use_the_protocol_windows(login, toy_world):
    patient = login("patient.toy2")
    # TOY-3 answers M2 five days after its window closed: complete, but late.
    r = patient.client.post("/api/v1/responses", json=body(toy_world["TOY-3"], "M2", "bi", BI_ALL_MAX, TODAY),
                            headers={"X-CSRFToken": patient.csrf})
    assert r.status_code == 404  # not TOY-2's to answer
    clinician = login("clinician.a")
    r = clinician.api_post("/api/v1/responses", {**body(toy_world["TOY-3"], "M2", "bi", BI_ALL_MAX, TODAY),
                                                 "respondent": "clinician"})
    assert r.status_code == 201, r.get_json()

    def listed(filter_by: str) -> set[str]:
        page = clinician.get(f"/clinic/?filter={filter_by}&lang=en").get_data(as_text=True)
        return subjects(page) & set(toy_world)

    assert listed("due_week") == {"TOY-2"}  # TOY-1's M1 (±3 days) closed; with ±7 it would be due
    assert listed("missed") == {"TOY-1", "TOY-2", "TOY-3"}  # all missed M1 (and their baseline)
    assert listed("late") == {"TOY-3"}
    page = clinician.get("/clinic/?lang=en").get_data(as_text=True)
    assert "M2: Open now" in page


def test_timeline_page_and_api_timeline_show_the_protocol_visits(login, toy_world):
    s = login("clinician.a")
    pid = toy_world["TOY-2"]
    page = s.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert re.findall(r'<tr id="visit-([^"]+)"', page) == ["BL", "M1", "M2", "M3", "M6", "M9", "M12"]
    m2_row = page.split('id="visit-M2"', 1)[1].split("</tr>", 1)[0]
    assert 'data-instrument="bi"' in m2_row and "due" in m2_row
    assert s.api_post("/api/v1/responses", {**body(pid, "M2", "bi", BI_ALL_MAX, TODAY),
                                            "respondent": "clinician"}).status_code == 201
    tl = s.get(f"/api/v1/patients/{pid}/timeline").get_json()
    by_code = {v["code"]: v for v in tl["visits"]}
    assert list(by_code) == ["BL", "M1", "M2", "M3", "M6", "M9", "M12"]
    assert [a["instrument"] for a in by_code["M2"]["assessments"]] == ["bi"]
    assert by_code["M2"]["status"] == "complete"
    assert by_code["M1"]["window_end"] == (add_months(add_months(TODAY, -2), 1) + timedelta(days=3)).isoformat()


def test_shipped_protocols_still_give_the_contract_schedule(login, ids, protocol_dir):
    """The extra directory adds protocols; demo patients keep their studies' schedule."""
    write_protocol(protocol_dir, toy_protocol())
    visits = login("clinician.a").get(f"/api/v1/patients/{ids['A-001']}/schedule").get_json()["visits"]
    assert [v["code"] for v in visits] == ["BL", "M1", "M3", "M6", "M9", "M12"]
    assert all([i["code"] for i in v["instruments"]] == FIVE for v in visits)


# --- a toy instrument, registered in the test -------------------------------------------------

TOY = Instrument(
    code="toy",
    name="Toy wellbeing check",
    short_name="TOY",
    reporter="patient",
    instructions="Answer both questions.",
    items=(
        Item("sleep", "Did you sleep well?", (Choice(0, "No"), Choice(2, "Yes"))),
        Item("walk", "How far did you walk today?", (Choice(0, "Not at all"), Choice(1, "A little"),
                                                     Choice(3, "Far"))),
    ),
    min_total=0,
    max_total=5,
    higher_is_better=True,
)


@pytest.fixture
def toy_instrument():
    with instruments.registered(TOY) as definition:
        yield definition
    assert "toy" not in instruments.CODES


def test_registered_instrument_shows_up_everywhere(app, login, protocol_dir, toy_instrument):
    write_protocol(protocol_dir, toy_protocol("toy-inst", m2_instruments=["bi", "toy"]))
    create_study(login, "toy-inst", "TOYI")
    pid = add_patient(app, "TOYI", "TOYI-1", add_months(TODAY, -2), username="patient.toyi")
    patient = login("patient.toyi")

    home = patient.get("/me?lang=en").get_data(as_text=True)
    assert re.findall(r'data-instrument="([^"]+)" data-visit="M2"', home) == ["bi", "toy"]
    assert "Toy wellbeing check" in home

    url = f"/patients/{pid}/visits/M2/toy"
    form = patient.get(url + "?lang=en").get_data(as_text=True)
    assert 'data-instrument="toy"' in form
    assert "Did you sleep well?" in form and "How far did you walk today?" in form
    assert re.search(r'name="walk" value="3"', form)
    r = patient.post(url, data={"sleep": "2", "walk": "1", "response_id": str(uuid.uuid4())})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(select(Response).where(Response.patient_id == pid,
                                                          Response.instrument == "toy"))
        assert (stored.visit_code, stored.total, stored.answers, stored.respondent) == (
            "M2", 3, {"sleep": 2, "walk": 1}, "patient")

    visits = patient.get(f"/api/v1/patients/{pid}/schedule").get_json()["visits"]
    m2 = next(v for v in visits if v["code"] == "M2")
    assert [{k: i[k] for k in ("code", "status")} for i in m2["instruments"]] == [
        {"code": "bi", "status": "due"}, {"code": "toy", "status": "done"}]
    # Invalid answers are refused by the toy's own definition, in the API as on the form.
    r = patient.api_post("/api/v1/responses", body(pid, "M2", "toy", {"sleep": 1, "walk": 1}, TODAY))
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["answers.sleep"]
    clinician = login("clinician.a")
    timeline = clinician.get(f"/clinic/patients/{pid}?lang=en").get_data(as_text=True)
    assert 'data-instrument="toy"' in timeline
    assert "TOYI-1" in clinician.get("/clinic/?lang=en").get_data(as_text=True)


def test_registry_refuses_duplicates_and_undoes_registration():
    with pytest.raises(ValueError):
        instruments.register(instruments.get("bi"))
    with pytest.raises(ValueError):
        instruments.unregister("bi")
    with instruments.registered(TOY):
        assert instruments.get("toy") is TOY and "toy" in instruments.CODES
        assert instruments.reported_by("patient") == ("bi", "gds15", "gds30", "toy")
    assert "toy" not in instruments.CODES and "toy" not in instruments.CORE_CODES
    with pytest.raises(instruments.UnknownInstrument):
        instruments.get("toy")


def test_protocol_dirs_setting_takes_a_path_list_as_the_environment_gives_it(app, tmp_path):
    """EPRO_PROTOCOL_DIRS="/a:/b" arrives as one string; a JSON list arrives as a list."""
    import os

    from epro.services import protocols as app_protocols

    folder = tmp_path / "more"
    folder.mkdir()
    write_protocol(folder, toy_protocol("toy-env"))
    with app.app_context():
        app.config["PROTOCOL_DIRS"] = os.pathsep.join([str(tmp_path / "missing"), str(folder)])
        assert app_protocols.directories() == (str(tmp_path / "missing"), str(folder))
        assert "toy-env" in app_protocols.codes()
        assert [v.code for v in app_protocols.load("toy-env").visits][:3] == ["BL", "M1", "M2"]
        app.config["PROTOCOL_DIRS"] = ()
        assert app_protocols.codes() == ("bmsc", "it-hmsc")
        with pytest.raises(protocols.UnknownProtocol):
            app_protocols.load("toy-env")
        with pytest.raises(protocols.UnknownProtocol):
            app_protocols.load("../bmsc")
