"""Finding a patient on the site list by subject code: partial, case-insensitive, normalized, no JS."""
import re

from epro.base.orm import db
from epro.models import Patient


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-subject="([^"]+)"', html)


def test_search_partial_case_insensitive_and_normalized(app, login, ids):
    s = login("clinician.a")
    everyone = listed(s.get("/clinic/?lang=en").get_data(as_text=True))
    assert "A-001" in everyone and len(everyone) > 1
    for typed in ("a-001", "A001", " a 0 0 1 ", "ａ－００１", "-001"):  # full-width forms from a Chinese IME
        html = s.get("/clinic/", query_string={"q": typed, "lang": "en"}).get_data(as_text=True)
        assert listed(html) == ["A-001"], typed
    partial = listed(s.get("/clinic/?q=00&lang=en").get_data(as_text=True))
    assert partial == sorted(everyone) and partial  # every A-00x
    # Another site's patient is never found.
    assert listed(s.get("/clinic/?q=B-001&lang=en").get_data(as_text=True)) == []


def test_search_form_is_a_labelled_get_form_keeping_filters(app, login):
    s = login("clinician.a")
    html = s.get("/clinic/?filter=late&sort=day0&q=a-0&lang=en").get_data(as_text=True)
    form = re.search(r'<form method="get"[^>]*role="search".*?</form>', html, re.S).group(0)
    assert '<label for="q">Find a patient by subject code</label>' in form
    assert 'id="q" name="q" value="A-0"' in form
    assert 'name="filter" value="late"' in form and 'name="sort" value="day0"' in form
    # Tabs, sort links keep the search.
    assert re.search(r'href="/clinic/\?filter=alerts&amp;sort=day0&amp;q=A-0"', html)
    assert re.search(r'href="/clinic/\?filter=late&amp;sort=subject&amp;q=A-0"', html)


def test_no_match_message_in_both_languages(app, login):
    s = login("clinician.a")
    en = s.get("/clinic/?q=zz9&lang=en").get_data(as_text=True)
    assert listed(en) == [] and "No patient matches “ZZ9”." in en
    zh = s.get("/clinic/?q=zz9&lang=zh").get_data(as_text=True)
    assert listed(zh) == [] and "没有与“ZZ9”相符的患者。" in zh


def test_like_wildcards_are_literal(app, login, ids):
    with app.app_context():
        db.session.get(Patient, ids["A-002"]).subject_code = "A_5%X"
        db.session.commit()
    s = login("clinician.a")
    assert listed(s.get("/clinic/", query_string={"q": "_"}).get_data(as_text=True)) == ["A_5%X"]
    assert listed(s.get("/clinic/", query_string={"q": "%"}).get_data(as_text=True)) == ["A_5%X"]
