"""The patient's caregivers, the activation card (on screen and printed), the search and the
assessment's when-and-who fields: axe-core finds nothing, in Chinese and English."""
import pytest
from test_accessibility import MIN_TAP, assert_no_violations


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_caregiver_list_and_activation_card(page_for, helpers, lang):
    page = page_for("clinician.a", lang, 1280, 900)
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}/caregivers")
    assert page.locator('table#caregivers tr[data-caregiver="caregiver.a1"]').count() == 1
    assert_no_violations(page, f"caregiver list ({lang})")
    with page.expect_navigation():
        page.click('button[name=role][value=caregiver]')
    card = page.locator("section.activation-card")
    assert card.count() == 1 and card.get_attribute("lang") == "zh-Hans"  # A-001 prefers Chinese
    assert card.locator("svg").count() == 1
    assert page.locator("button[data-print]").is_visible()  # shown by print.js
    assert page.locator("button[data-print]").bounding_box()["height"] >= MIN_TAP
    assert_no_violations(page, f"activation card ({lang})")
    page.emulate_media(media="print")
    assert card.is_visible() and card.locator("[data-activation-code]").is_visible()
    for chrome in ("header.topbar", "button[data-print]", "main > h1", "form.actions"):
        assert not page.locator(chrome).first.is_visible(), chrome
    page.emulate_media(media="screen")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_search_and_assessment_fields(page_for, helpers, lang):
    page = page_for("clinician.a", lang, 1280, 900)
    page.fill("input#q", "zz9")
    with page.expect_navigation():
        page.press("input#q", "Enter")
    assert page.locator("td[data-no-match]").is_visible()
    assert_no_violations(page, f"site list, no match ({lang})")
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}/visits/M3/mrs")
    assert page.locator("input#q-assessed_on").input_value()
    page.fill("input#q-assessed_on", "2000-01-01")
    page.locator("form#assessment label.choice").first.click()
    with page.expect_navigation():
        page.click("form#assessment button[type=submit]")
    assert page.locator("#err-assessed_on").is_visible()
    assert_no_violations(page, f"assessment with a date error ({lang})")
