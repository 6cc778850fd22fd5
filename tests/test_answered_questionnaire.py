"""An answered questionnaire opens as the answers given (read-only) with how to correct them
through the clinic, never as an empty form; the home page marks it done instead of due."""
import html as htmllib
import re

from flask_babel import force_locale, gettext

from epro.core import instruments

BI_ANSWERS = {"feeding": "10", "bathing": "0", "grooming": "5", "dressing": "5", "bowels": "10",
              "bladder": "5", "toilet_use": "5", "transfers": "10", "mobility": "10", "stairs": "0"}
GDS_ANSWERS = {f"GDS02{n:02d}": ("YES" if n % 2 else "NO") for n in range(1, 16)}
CORRECTION = ("If an answer is wrong, please tell your clinic, by phone or at your next visit. The clinic "
              "writes down the correction; you do not need to answer again.")


def text(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True))


def form_id(page: str) -> str:
    return re.search(r'name="response_id" value="([^"]+)"', page).group(1)


def answer(s, url: str, answers: dict, **extra) -> None:
    rid = form_id(s.get(url).get_data(as_text=True))
    assert s.post(url, data={**answers, "response_id": rid, **extra}).status_code == 302


def translated(app, msgid: str, locale: str) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(msgid)


def expected_lines(code: str, answers: dict, voice: str = "self") -> list[tuple[str, str]]:
    definition = instruments.get(code)
    return [(item.wording(voice), item.choice(item.parse(answers[item.key])).label) for item in definition.items]


def assert_read_only(page: str) -> None:
    main = page.split('<main', 1)[1]  # the header's text-size menu has radios of its own
    assert 'id="questionnaire"' not in main and 'type="radio"' not in main
    assert "data-answered" in page and 'class="given-answers"' in page


def test_answered_questionnaire_shows_the_answers_in_both_languages(app, login, ids):
    s = login("patient.a1")
    url = f"/patients/{ids['A-001']}/visits/M3/bi"
    answer(s, url, BI_ANSWERS)

    en = s.get(url + "?lang=en")
    assert en.status_code == 200 and en.headers["X-Epro-Answered"] == "1"
    page = text(en)
    assert_read_only(page)
    assert CORRECTION in page
    items = re.findall(r'<li><span class="q">(.*?)</span> <strong class="a">(.*?)</strong></li>', page, re.S)
    assert [(q.strip(), a.strip()) for q, a in items] == expected_lines("bi", BI_ANSWERS)

    zh = text(s.get(url + "?lang=zh"))
    assert_read_only(zh)
    assert translated(app, CORRECTION, "zh_Hans") in zh and CORRECTION not in zh
    for question, label in expected_lines("bi", BI_ANSWERS):
        assert translated(app, question, "zh_Hans") in zh
        assert translated(app, label, "zh_Hans") in zh


def test_visits_answered_before_open_read_only(app, login, ids):
    """The demo's M1 is complete: opening it by its address shows what was given."""
    s = login("patient.a1")
    for code in ("bi", "gds15"):
        r = s.get(f"/patients/{ids['A-001']}/visits/M1/{code}?lang=en")
        assert r.status_code == 200
        assert_read_only(text(r))


def test_home_marks_answered_not_due(app, login, ids):
    s = login("patient.a1")
    pid = ids["A-001"]
    home = text(s.get("/me?lang=en"))
    assert 'data-instrument="bi" data-visit="M3"' in home and 'data-instrument="gds15" data-visit="M3"' in home
    answer(s, f"/patients/{pid}/visits/M3/bi", BI_ANSWERS)
    home = text(s.get("/me?lang=en"))
    assert 'data-instrument="bi"' not in home, "BI still shown as due"
    assert 'data-answered-instrument="bi" data-answered-visit="M3"' in home
    assert 'data-instrument="gds15" data-visit="M3"' in home
    assert "Tap to see the answers given." in home and "data-outbox-count" in home


def test_proxy_answer_opens_in_the_proxy_voice_and_the_patient_may_still_answer(app, login, ids):
    """The caregiver sees the proxy answer read-only; the patient is still asked, because the
    patient's own answer counts before a proxy one (schedule.counting_key) — then both see it."""
    pid = ids["A-001"]
    url = f"/patients/{pid}/visits/M3/gds15"
    carer, patient = login("caregiver.a1"), login("patient.a1")
    answer(carer, url, GDS_ANSWERS, respondent="caregiver-proxy")
    page = text(carer.get(url + "?lang=en"))
    assert_read_only(page)
    assert "answered by caregiver" in page
    for question, label in expected_lines("gds15", GDS_ANSWERS, "proxy"):
        assert question in page and label in page
    asked = text(patient.get(url + "?lang=en"))
    assert 'id="questionnaire"' in asked and "answered by caregiver" not in asked
    own = {key: ("NO" if value == "YES" else "YES") for key, value in GDS_ANSWERS.items()}
    answer(patient, url, own, respondent="patient")
    for s in (carer, patient):
        page = text(s.get(url + "?lang=en"))
        assert_read_only(page)
        assert "answered by caregiver" not in page
        for question, label in expected_lines("gds15", own):
            assert question in page and label in page


def test_someone_else_gets_not_found(app, login, ids):
    s = login("patient.a1")
    answer(s, f"/patients/{ids['A-001']}/visits/M3/bi", BI_ANSWERS)
    other = login("patient.a2")
    assert other.get(f"/patients/{ids['A-001']}/visits/M3/bi").status_code == 404
    # Its own questionnaire, not answered yet, is still a form.
    href = re.search(r'href="([^"]+)"\s+data-instrument=', text(other.get("/me"))).group(1)
    assert 'id="questionnaire"' in text(other.get(href))


def test_odd_addresses_never_fail(app, login, ids):
    s = login("patient.a1")
    pid = ids["A-001"]
    for path in (f"/patients/{pid}/visits/M99/bi", f"/patients/{pid}/visits/M3/nihss",
                 f"/patients/{pid}/visits/M3/nope", f"/patients/{pid}/visits/%00/bi"):
        assert s.get(path).status_code == 404, path
