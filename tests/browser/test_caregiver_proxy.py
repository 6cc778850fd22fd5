"""caregiver.a1 answers GDS-15 for patient.a1; the score is marked as proxy everywhere it shows."""
import re

# Depressive answers on items 2, 3, 4 (YES) and 13 (NO): total 4.
ANSWERS = {f"GDS02{n:02d}": v for n, v in enumerate(
    ["YES", "YES", "YES", "YES", "YES", "NO", "YES", "NO", "NO", "NO", "YES", "NO", "NO", "NO", "NO"], start=1)}


def test_caregiver_answers_gds15_as_proxy(page_for, helpers):
    total = helpers.gds15_total(ANSWERS)
    assert total == 4
    page = page_for("caregiver.a1", "zh")
    pid = helpers.patient_id(page)
    me = helpers.api_get(page, "/api/v1/me")
    assert me["role"] == "caregiver" and [p["subject_code"] for p in me["patients"]] == ["A-001"]
    assert "A-001" in page.inner_text("main")

    page.click('a[data-instrument="gds15"][data-visit="M3"]')
    assert re.search(rf"/patients/{pid}/visits/M3/gds15$", page.url)
    wizard = helpers.Wizard(page)
    keys = wizard.step_keys()
    assert keys == ["respondent", *ANSWERS]
    total_steps = str(len(keys))
    assert total_steps == "16"

    # Step 1: how are you answering?  Nothing chosen beforehand, both ways offered.
    assert wizard.current_key() == "respondent"
    assert helpers.numbers(wizard.progress()) == ["1", total_steps]
    assert wizard.checked("respondent") is None
    values = page.eval_on_selector_all("input[name=respondent]", "els => els.map(e => e.value)")
    assert values == ["caregiver-assisted", "caregiver-proxy"]
    wizard.next.click()
    assert wizard.message.is_visible() and wizard.current_key() == "respondent"
    wizard.choose("respondent", "caregiver-proxy")
    wizard.next.click()

    for i, key in enumerate(keys[1:], start=2):
        assert wizard.current_key() == key
        assert helpers.numbers(wizard.progress()) == [str(i), total_steps]
        wizard.choose(key, ANSWERS[key])
        wizard.next.click()
    assert wizard.review.is_visible()
    assert len(wizard.review_items()) == 16
    with page.expect_navigation():
        wizard.submit.click()
    assert re.search(rf"/patients/{pid}/done/[\w-]+$", page.url), page.url
    assert str(total) in helpers.numbers(page.locator(".good-news").inner_text())

    stored = helpers.responses_of(page, pid, "M3", "gds15")
    assert len(stored) == 1, stored
    response = stored[0]
    assert response["respondent"] == "caregiver-proxy"
    assert "proxy" in response["flags"], response
    assert response["total"] == total

    # The caregiver's own history marks it too.
    page.goto(f"/patients/{pid}/history")
    assert page.locator("td .badge.proxy").count() >= 1

    clinician = page_for("clinician.a", "en", 1280, 900)
    clinician.goto(f"/clinic/patients/{pid}")
    cell = clinician.locator('table#timeline tr#visit-M3 td[data-instrument="gds15"]')
    assert cell.locator(".total").inner_text().strip() == str(total)
    badge = cell.locator(".badge.proxy")
    assert badge.count() == 1 and badge.is_visible() and badge.inner_text().strip()
    # Earlier self-reported GDS scores carry no proxy badge.
    assert clinician.locator('table#timeline tr#visit-BL td[data-instrument="gds15"] .badge.proxy').count() == 0
    timeline = helpers.api_get(clinician, f"/api/v1/patients/{pid}/timeline")
    m3 = next(v for v in timeline["visits"] if v["code"] == "M3")
    gds = next(a for a in m3["assessments"] if a["instrument"] == "gds15")
    assert gds["respondent"] == "caregiver-proxy" and gds["total"] == total
