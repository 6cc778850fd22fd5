"""The questions follow who answers them, through the plain HTML form (issue 10 §1).

A caregiver who answers *for* the patient reads the GDS-15 about the patient
(他/她, "he or she"); the patient, or a caregiver only helping the patient,
reads it in the patient's own voice (您, "you").  The stored answer stays
flagged as proxy.
"""
import html
import re

from sqlalchemy import select

GDS_YES_ALL = {f"GDS02{n:02d}": "YES" for n in range(1, 16)}

ITEM_1 = {
    "zh": ("您对生活基本上满意吗？", "他/她对自己的生活基本满意吗？"),
    "en": ("Are you basically satisfied with your life?", "Is he or she basically satisfied with his or her life?"),
}
INSTRUCTIONS = {
    "zh": ("请根据您过去一周的感受", "请根据他/她过去一周的感受"),
    "en": ("how you have felt over the past week", "how he or she has felt over the past week"),
}


def stored(app, patient_id, instrument, visit="M3"):
    from epro.base.orm import db
    from epro.models import Response

    with app.app_context():
        return db.session.scalars(select(Response).where(
            Response.patient_id == patient_id, Response.instrument == instrument,
            Response.visit_code == visit)).all()


def form_id(page: str) -> str:
    return re.search(r'name="response_id" value="([^"]+)"', page).group(1)


def questions(page: str) -> dict[str, str]:
    """The question text each step shows (what a person reads), by item key."""
    found = re.findall(r'id="q-(GDS\d{4})".*?<span class="q-text"[^>]*>([^<]*)</span>', page, flags=re.S)
    return {key: html.unescape(text) for key, text in found}


def instructions(page: str) -> str:
    return html.unescape(re.search(r'<p id="instructions"[^>]*>([^<]*)</p>', page).group(1))


def step_hidden(page: str, key: str) -> bool:
    tag = re.search(rf'<fieldset class="step" id="q-{key}"[^>]*>', page).group(0)
    return " hidden" in tag


def url_for(ids, lang, instrument="gds15"):
    return f"/patients/{ids['A-001']}/visits/M3/{instrument}?lang={lang}"


def test_patient_reads_the_questions_in_the_second_person(login, ids):
    s = login("patient.a1")
    for lang, (own, proxy) in ITEM_1.items():
        page = s.get(url_for(ids, lang)).get_data(as_text=True)
        shown = questions(page)
        assert len(shown) == 15 and shown["GDS0201"] == own and proxy not in shown.values()
        assert INSTRUCTIONS[lang][0] in instructions(page)
        assert 'name="respondent"' not in page  # the patient answers for himself: nothing to choose
        assert not step_hidden(page, "GDS0201")
        if lang == "zh":
            assert all("您" in text and "他/她" not in text for text in shown.values())


def test_caregiver_answering_for_the_patient_reads_about_the_patient_without_javascript(app, login, ids):
    s = login("caregiver.a1")
    for lang, (own, proxy) in ITEM_1.items():
        url = url_for(ids, lang)
        first = s.get(url).get_data(as_text=True)
        # Nothing chosen yet: without JavaScript only the choice shows, with a button to go on.
        assert 'name="choose_respondent"' in first
        assert step_hidden(first, "GDS0201") and step_hidden(first, "GDS0215")
        assert re.search(r"<div class=\"actions\" data-submit-row\s+hidden", first)
        r = s.follow(s.post(url, data={"response_id": form_id(first), "respondent": "caregiver-proxy",
                                       "choose_respondent": "1"}))
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        shown = questions(page)
        assert shown["GDS0201"] == proxy and len(shown) == 15
        assert not step_hidden(page, "GDS0201")
        assert INSTRUCTIONS[lang][1] in instructions(page)
        assert re.search(r'value="caregiver-proxy" data-voice="proxy" checked', page)
        assert form_id(page) == form_id(first)  # the same response, not a new one
        if lang == "zh":
            assert all("他/她" in text and "您" not in text for text in shown.values()), shown
        else:
            assert all(" you" not in text.lower() for text in shown.values()), shown
        # Both wordings travel with the page, so questionnaire.js switches them offline too.
        assert f'data-voice-self="{html.escape(own)}"' in page and f'data-voice-proxy="{html.escape(proxy)}"' in page
        assert not stored(app, ids["A-001"], "gds15")

    r = s.post(url_for(ids, "zh"), data={**GDS_YES_ALL, "response_id": form_id(page), "respondent": "caregiver-proxy"})
    assert r.status_code == 302
    (row,) = stored(app, ids["A-001"], "gds15")
    assert row.respondent == "caregiver-proxy" and "proxy" in row.flags and row.total == 10


def test_caregiver_helping_the_patient_reads_the_patients_own_voice(app, login, ids):
    s = login("caregiver.a1")
    url = url_for(ids, "zh")
    first = s.get(url).get_data(as_text=True)
    r = s.follow(s.post(url, data={"response_id": form_id(first), "respondent": "caregiver-assisted",
                                   "choose_respondent": "1"}))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and questions(page)["GDS0201"] == ITEM_1["zh"][0]
    assert "他/她" not in instructions(page)
    # A link may carry the choice too.
    page = s.get(url + "&respondent=caregiver-proxy").get_data(as_text=True)
    assert questions(page)["GDS0201"] == ITEM_1["zh"][1]
    page = s.get(url + "&respondent=nobody").get_data(as_text=True)
    assert questions(page)["GDS0201"] == ITEM_1["zh"][0] and step_hidden(page, "GDS0201")


def test_choosing_nobody_asks_who_is_answering(app, login, ids):
    s = login("caregiver.a1")
    url = url_for(ids, "en")
    first = s.get(url).get_data(as_text=True)
    assert "Who is answering these questions?" in first and "How are you answering?" not in first
    r = s.follow(s.post(url, data={"response_id": form_id(first), "choose_respondent": "1"}))
    assert r.status_code == 422 and "Please choose who is answering." in r.get_data(as_text=True)
    assert step_hidden(r.get_data(as_text=True), "GDS0201")
    assert not stored(app, ids["A-001"], "gds15")


def test_barthel_for_a_proxy_is_about_the_patient_and_in_plain_words(login, ids):
    s = login("caregiver.a1")
    url = url_for(ids, "zh", "bi")
    first = s.get(url).get_data(as_text=True)
    r = s.follow(s.post(url, data={"response_id": form_id(first), "respondent": "caregiver-proxy",
                                   "choose_respondent": "1"}))
    page = r.get_data(as_text=True)
    texts = re.findall(r'<span class="q-text"[^>]*>([^<]*)</span>', page)
    assert len(texts) == 10 and all("他/她" in t for t in texts), texts
    assert "个人卫生（洗脸、梳头、刷牙、剃须）：他/她能自己做吗？" in texts
    assert "从床上移到椅子上再回到床上：他/她的情况怎样？" in texts
    patient = login("patient.a1").get(url).get_data(as_text=True)
    texts = re.findall(r'<span class="q-text"[^>]*>([^<]*)</span>', patient)
    assert len(texts) == 10 and all("您" in t for t in texts), texts
    assert "个人卫生（洗脸、梳头、刷牙、剃须）：您能自己做吗？" in texts


def test_clinician_nihss_form_shows_the_rater_rules(login, ids):
    s = login("clinician.a")
    for lang, words in {"en": ("intubation", "non-paretic hand", "without significant limitation on ideas"),
                        "zh": ("气管插管", "非瘫痪侧的手", "没有明显受限")}.items():
        page = s.get(f"/clinic/patients/{ids['A-001']}/visits/M3/nihss?lang={lang}").get_data(as_text=True)
        help_1b = re.search(r'<p class="muted help" id="help-nihss_1b"[^>]*>([^<]*)</p>', page).group(1)
        help_1c = re.search(r'<p class="muted help" id="help-nihss_1c"[^>]*>([^<]*)</p>', page).group(1)
        assert words[0] in help_1b and words[1] in help_1c
        assert words[2] in page
        assert 'aria-describedby="help-nihss_1b"' in page
        for key in ("nihss_1a", "nihss_7", "nihss_8", "nihss_9"):
            assert f'id="help-{key}"' in page, key


def test_the_caregivers_home_page_speaks_of_the_patients_mood(login, ids):
    caregiver = login("caregiver.a1").get("/me?lang=zh").get_data(as_text=True)
    assert "患者的心情 — 15个问题" in caregiver and "您的心情" not in caregiver
    patient = login("patient.a1").get("/me?lang=zh").get_data(as_text=True)
    assert "您的心情 — 15个问题" in patient and "患者的心情" not in patient
