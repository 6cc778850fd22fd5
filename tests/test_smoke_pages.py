"""Every demo account can reach its pages, in both languages, with real content."""
import pytest

ACCOUNTS = ["patient.a1", "caregiver.a1", "clinician.a", "clinician.b", "investigator.a", "admin",
            "patient.a2", "patient.b1"]


@pytest.mark.parametrize("username", ACCOUNTS)
@pytest.mark.parametrize("lang,html_lang", [("zh", "zh-Hans"), ("en", "en")])
def test_home_renders_for_every_account(login, username, lang, html_lang):
    s = login(username)
    page = s.get(f"/?lang={lang}", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<html lang="{html_lang}">' in html
    assert 'name="csrf-token"' in html


def test_patient_a1_sees_m3_bi_and_gds_due(login):
    s = login("patient.a1")
    html = s.get("/me?lang=en").get_data(as_text=True)
    assert 'data-instrument="bi" data-visit="M3"' in html
    assert 'data-instrument="gds15" data-visit="M3"' in html
    assert "Month 3" in html


def test_clinician_pages(login, ids):
    s = login("clinician.a")
    listing = s.get("/clinic/?lang=en").get_data(as_text=True)
    assert "A-001" in listing and "B-001" not in listing
    for f in ("due_week", "late", "missed", "alerts"):
        assert s.get(f"/clinic/?filter={f}").status_code == 200
    timeline = s.get(f"/clinic/patients/{ids['A-001']}?lang=en").get_data(as_text=True)
    assert "<svg" in timeline and 'id="visit-M3"' in timeline
    for code in ("nihss", "mrs", "mmse"):
        page = s.get(f"/clinic/patients/{ids['A-001']}/visits/M3/{code}?lang=en")
        assert page.status_code == 200, code
        assert 'type="radio"' in page.get_data(as_text=True).split("<main")[1]
