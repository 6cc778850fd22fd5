"""One validation style: WTForms at the edge, typed values into the services, one Invalid/Refused.

Each problem shows next to its field, also those only a service can find (a
code already used), together with the form's own, in the reader's language.
"""
import importlib
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice


def test_one_error_type_for_every_service():
    from epro.services import errors, records, responses

    assert responses.Invalid is errors.Invalid and responses.FieldError is errors.FieldError
    assert issubclass(records.RecordError, errors.Refused) and records.Outdated.status == 409
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("epro.services.trial.fields")


@pytest.mark.sqlite_only  # reading a form does not depend on the database
def test_fields_read_like_the_clinic_forms(app, db_backend):
    from epro.web.fields import CheckboxesField, DayField, Form, NumberField, TextField, YesNoField

    class Sample(Form):
        class Meta:
            csrf = False

        code = TextField(max_len=5, upper=True)
        day = DayField()
        count = NumberField(whole=True, low=1, high=10000)
        weight = NumberField(required=False, low=0.5, high=2)
        boxes = CheckboxesField(choices=[SelectChoice("a", "A"), SelectChoice("b", "B")])
        answer = YesNoField()

    today = date(2026, 3, 1)
    with app.test_request_context("/?lang=en", method="POST", data=MultiDict([
            ("code", " ab "), ("day", "2026-03-02"), ("count", "1,200"), ("weight", "x"),
            ("boxes", "b"), ("boxes", "zzz"), ("answer", "yes")])):
        form = Sample(today=today)
        assert not form.validate()
        assert form.code.data == "AB" and form.count.data == 1200 and form.answer.answer is True
        problems = form.problems()
        assert problems == {"day": "This date is in the future.", "weight": "Please enter a number.",
                            "boxes": "Please choose one."}
        assert form.weight._value() == "x" and form.day._value() == "2026-03-02"  # kept as typed
    with app.test_request_context("/?lang=en", method="POST", data={"count": "1.5", "code": "abcdef"}):
        form = Sample(today=today)
        form.validate()
        assert form.problems()["count"] == "Please enter a whole number."
        assert form.problems()["code"] == "Too long (5 characters at most)."
        assert form.problems()["day"] == "Please enter a date." and form.problems()["answer"] == "Please choose one."
    with app.test_request_context("/?lang=en", method="POST", data={"count": "0", "boxes": ["a", "b"]}):
        form = Sample(today=today)
        form.validate()
        assert form.problems()["count"] == "Please enter a number between 1 and 10000."
        assert "boxes" not in form.problems() and form.boxes.chosen == ["a", "b"]


def test_a_service_rule_shows_in_place_with_the_forms_own(login, trial, eligible_form):
    """The code is taken (the database says so) and a date is missing: both at once, values kept."""
    from epro.models import Screening

    today = trial.today()
    url = f"/clinic/trial/studies/{trial.study_id('BMSC')}/screenings/new"
    s = login("clinician.b")
    for lang, taken in (("en", "This screening code is used already."), ("zh", "此筛选号已被使用。")):
        r = s.post(f"{url}?lang={lang}", data=eligible_form(today, "s-b-001", birth_date=""))
        r = s.follow(r)
        html = r.get_data(as_text=True)
        assert r.status_code == 422
        assert re.search(r'<p class="error" id="err-screening_code">' + re.escape(taken), html)
        assert 'id="err-birth_date"' in html and 'href="#f-screening_code"' in html
        assert 'value="S-B-001"' in html  # kept (as the code is stored: upper case)
    assert len(trial.all(select(Screening))) == 3  # the demo's, nothing new


def test_both_enrolment_pages_use_one_service(login, trial, eligible_form, monkeypatch):
    from epro.models import AuditEvent, Patient
    from epro.services.trial import enrolment

    calls = []
    real = enrolment.enrol

    def counting(*args, **kwargs):
        calls.append(args[2].subject_code)
        return real(*args, **kwargs)

    monkeypatch.setattr(enrolment, "enrol", counting)
    clinic = login("clinician.b")
    r = clinic.post("/clinic/enrol?lang=en", data={"subject_code": "b-700", "birth_year": "1961", "sex": "male",
                                                 "education": "primary", "language": "zh",
                                                 "day0": trial.today().isoformat(), "not_randomized": "y"})
    assert r.status_code == 302
    sid = trial.screening_id("S-B-001")  # demo: eligible, not randomized
    taken = clinic.post(f"/clinic/trial/screenings/{sid}/randomize?lang=en",
                        data={"subject_code": "B-700", "education": "primary", "language": "zh"})
    taken = clinic.follow(taken)
    html = taken.get_data(as_text=True)
    assert taken.status_code == 422
    assert re.search(r'id="err-subject_code">This subject code is already enrolled\.', html)
    assert 'value="B-700"' in html and 'value="primary" selected' in html
    ok = clinic.post(f"/clinic/trial/screenings/{sid}/randomize",
                     data={"subject_code": "b-701", "education": "primary", "language": "zh"})
    assert ok.status_code == 302
    assert calls == ["B-700", "B-701"]  # the taken code was refused by the form before the service
    for code in ("B-700", "B-701"):
        pid = trial.patient_id(code)
        assert trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "patients",
                                                     AuditEvent.action == "create",
                                                     AuditEvent.record_id == str(pid)))
    randomized = trial.scalar(select(Patient).where(Patient.subject_code == "B-701"))
    assert randomized.arm_id is not None and randomized.day0 == trial.today()
    # the enrolment page says the same thing, in place, for a taken code
    again = clinic.post("/clinic/enrol?lang=zh", data={"subject_code": "B-701", "birth_year": "1961", "sex": "male",
                                                     "education": "primary", "language": "zh",
                                                     "day0": trial.today().isoformat(), "not_randomized": "y"})
    again = clinic.follow(again)
    assert again.status_code == 422 and "该受试者编号已入组。" in again.get_data(as_text=True)


def test_a_service_raises_the_shared_invalid_on_its_own_rules(app, trial):
    from epro.base.orm import db
    from epro.models import Site, User
    from epro.services.errors import FieldError, Invalid
    from epro.services.trial import studies

    def create_twice():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        sites = list(db.session.scalars(select(Site)))
        with pytest.raises(Invalid) as caught:
            studies.create_from_protocol("BMSC", "again", "bmsc", sites, admin)
        db.session.rollback()
        return caught.value.errors

    assert trial.run(create_twice) == [FieldError("code", "A study with this code exists already.")]


def test_refusal_comes_before_the_fields(login, trial):
    """A step the rules refuse is said at the top (409) even when the fields are wrong too."""
    pid = trial.patient_id("A-001")
    later = (trial.today() + timedelta(days=9)).isoformat()
    s = login("clinician.a")
    r = s.follow(s.post(f"/clinic/trial/patients/{pid}/infusions?lang=en",
                        data={"weight_kg": "heavy", "given_on": later}))
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "recorded by unblinded staff" in html
    assert "Please enter a number." not in html
