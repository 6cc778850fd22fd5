"""Screening against the BMSC criteria: eligible, not eligible with every reason, the log."""
from datetime import date, timedelta

from sqlalchemy import select

from epro.core import instruments, protocols


def new_url(trial):
    return f"/clinic/trial/studies/{trial.study_id('BMSC')}/screenings/new"


def test_eligible_candidate(login, trial, eligible_form, text):
    s = login("clinician.b")
    form_page = s.get(new_url(trial) + "?lang=en").get_data(as_text=True)
    assert form_page.count('name="nihss_') == sum(len(i.choices) for i in instruments.get("nihss").items)
    assert "Lacunar infarction" in form_page  # an investigator-answered criterion
    r = s.post(new_url(trial), data=eligible_form(trial.today(), "S-B-100"))
    assert r.status_code == 302
    page = s.get(r.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert 'data-result="eligible"' in page
    assert 'data-nihss>10<' in page  # the NIHSS entry was scored by the instrument
    assert 'action="/clinic/trial/screenings/' in page  # randomize form offered


def test_not_eligible_lists_every_failing_and_missing_criterion(login, trial, eligible_form, text):
    from epro.models import Screening

    today = trial.today()
    bmsc = protocols.load("bmsc")
    form = eligible_form(
        today, "S-B-101", birth_date=date(today.year - 70, 1, 1).isoformat(), sex="female",
        childbearing_potential="yes", pregnancy_test="positive", onset_date=(today - timedelta(days=3)).isoformat(),
        nihss_4="0", nihss_5a="0", nihss_6a="0", criterion_lacunar_infarction="yes", criterion_malignancy="yes",
        criterion_informed_consent=None)
    s = login("clinician.b")
    r = s.post(new_url(trial), data=form)
    assert r.status_code == 302
    stored = trial.scalar(select(Screening).where(Screening.screening_code == "S-B-101"))
    expected = ["age", "onset_window", "nihss_range", "pregnancy_test", "lacunar_infarction",
                "acute_infarction", "malignancy"]
    assert not stored.eligible
    assert sorted(stored.failing) == sorted(expected) and stored.missing == ["informed_consent"]
    for lang in ("en", "zh"):
        page = s.get(r.headers["Location"] + f"?lang={lang}").get_data(as_text=True)
        assert 'data-result="not-eligible"' in page
        for key in expected + ["informed_consent"]:
            assert protocols.text(bmsc.criterion(key).text, lang) in text(page), (lang, key)
        assert "/randomize" not in page  # not eligible: no randomization form
    # and randomizing it anyway is refused
    refused = s.post(f"/clinic/trial/screenings/{stored.id}/randomize?lang=en",
                     data={"subject_code": "B-101", "education": "primary", "language": "zh"})
    refused = s.follow(refused)
    assert refused.status_code == 409
    assert "Only an eligible candidate can be randomized." in refused.get_data(as_text=True)
    assert trial.patient_id("B-101") is None


def test_form_errors_are_named_and_values_kept(login, trial, eligible_form):
    today = trial.today()
    form = eligible_form(today, "S-B-102", birth_date="", onset_date=(today + timedelta(days=2)).isoformat(),
                         nihss_9=None, nihss_11=None)
    s = login("clinician.b")
    r = s.follow(s.post(new_url(trial) + "?lang=en", data=form))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Please enter a date." in html and "This date is in the future." in html
    assert html.count("Please choose an answer.") == 4  # two NIHSS items left out: summary + field
    assert 'value="S-B-102"' in html
    assert trial.screening_id("S-B-102") is None


def test_screening_log_counts_and_reasons(login, trial, text):
    s = login("clinician.b")
    html = s.get("/clinic/trial/screening?lang=zh").get_data(as_text=True)
    # demo: S-B-001 eligible, S-B-002 not eligible for five reasons, S-B-003 waiting for consent
    assert "data-screened>3<" in html and "data-eligible>1<" in html
    assert "data-not-eligible>2<" in html and "data-incomplete>1<" in html
    assert 'data-reason="lacunar_infarction"' in html
    assert "腔隙性脑梗死" in text(html)  # reasons in the reader's language
    # another site's staff see their own site only
    other = login("clinician.a").get("/clinic/trial/screening").get_data(as_text=True)
    assert "S-B-001" not in other
    assert login("clinician.a").get(f"/clinic/trial/screenings/{trial.screening_id('S-B-001')}").status_code == 404


def test_a_screening_is_completed_and_audited(login, trial):
    import re

    from epro.models import AuditEvent, Screening

    sid = trial.screening_id("S-B-003")  # demo: informed consent not answered yet
    s = login("clinician.b")
    form_html = s.get(f"/clinic/trial/screenings/{sid}/edit?lang=en").get_data(as_text=True)
    assert 'name="criterion_informed_consent"' in form_html
    values = dict(re.findall(r'name="([\w]+)" value="([^"]*)"\s*checked', form_html))
    values.update(re.findall(r'<input type="date" id="(\w+)" name="\w+" value="([^"]*)"', form_html))
    values["criterion_informed_consent"] = "yes"
    r = s.post(f"/clinic/trial/screenings/{sid}/edit", data=values)
    assert r.status_code == 302
    stored = trial.scalar(select(Screening).where(Screening.id == sid))
    assert stored.eligible and stored.missing == []
    assert trial.scalar(select(AuditEvent).where(AuditEvent.table_name == "screenings",
                                                 AuditEvent.record_id == str(sid), AuditEvent.field == "eligible"))
