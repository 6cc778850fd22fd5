"""The questions a caregiver reads follow the answer to "who is answering?" (issue 10 §1):
with JavaScript the wizard switches the wording on the phone (offline too), without it the
respondent is chosen on a step of its own before the questions show."""
import re

OWN = "您对生活基本上满意吗？"
PROXY = "他/她对自己的生活基本满意吗？"


def legend_text(page, key):
    return page.locator(f"#q-{key} legend .q-text").inner_text().strip()


def test_wizard_switches_the_wording_with_the_respondent_even_offline(page_for, helpers):
    page = page_for("caregiver.a1", "zh")
    page.click('a[data-instrument="gds15"][data-visit="M3"]')
    wizard = helpers.Wizard(page)
    assert wizard.current_key() == "respondent"
    assert "现在是谁在回答这些问题？" in wizard.step.locator("legend").inner_text()
    # No JavaScript-free button in the wizard: the choice applies at once.
    assert page.locator("button[name=choose_respondent]").count() == 0

    page.context.set_offline(True)  # the switch happens on the phone, no request needed
    wizard.choose("respondent", "caregiver-proxy")
    assert "他/她过去一周" in page.locator("#instructions").inner_text()
    wizard.next.click()
    assert wizard.current_key() == "GDS0201"
    assert legend_text(page, "GDS0201") == PROXY
    assert "他/她" in legend_text(page, "GDS0215")

    wizard.back.click()
    wizard.choose("respondent", "caregiver-assisted")
    wizard.next.click()
    assert legend_text(page, "GDS0201") == OWN
    assert "他/她" not in page.locator("#instructions").inner_text()
    page.context.set_offline(False)

    # A reload restores the draft, and with it the wording of the chosen respondent.
    wizard.back.click()
    wizard.choose("respondent", "caregiver-proxy")
    page.reload()
    wizard = helpers.Wizard(page)
    assert wizard.checked("respondent") == "caregiver-proxy"
    assert legend_text(page, "GDS0201") == PROXY


def test_without_javascript_the_respondent_comes_first(page_for, helpers):
    page = page_for("caregiver.a1", "en", js=False)
    pid = helpers.patient_id(page)
    page.goto(f"/patients/{pid}/visits/M3/gds15")
    assert page.locator("#q-respondent").is_visible()
    assert not page.locator("#q-GDS0201").is_visible()
    assert not page.locator("[data-submit-row] button[type=submit]").is_visible()
    page.check('input[name=respondent][value="caregiver-proxy"]')
    with page.expect_navigation():
        page.click("button[name=choose_respondent]")
    assert re.search(rf"/patients/{pid}/visits/M3/gds15$", page.url)
    assert page.locator("#q-GDS0201").is_visible()
    assert legend_text(page, "GDS0201") == "Is he or she basically satisfied with his or her life?"
    assert page.is_checked('input[name=respondent][value="caregiver-proxy"]')
    assert page.locator("[data-submit-row] button[type=submit]").is_visible()
