"""axe-core finds no violation on the patient, public and clinician pages, in Chinese and English;
the phone layout has no horizontal scroll and answers are big enough to tap."""
import re

import pytest
from axe_playwright_python.sync_playwright import Axe

MIN_TAP = 44  # px, WCAG 2.5.5 / platform guidelines

_axe = Axe()


def assert_no_violations(page, what: str) -> None:
    results = _axe.run(page)
    assert results.violations_count == 0, (
        f"axe: {results.violations_count} violation(s) on {what} ({page.url}):\n{results.generate_report()}")


def answer_all(page, wizard, helpers, answers: dict) -> None:
    for key, value in answers.items():
        assert wizard.current_key() == key
        wizard.choose(key, value)
        wizard.next.click()


def tap_heights(page, selector: str) -> list[tuple[str, float]]:
    return page.eval_on_selector_all(
        selector,
        "els => els.filter(e => e.offsetParent !== null)"
        "          .map(e => [e.querySelector('input').name + '=' + e.querySelector('input').value,"
        "                     e.getBoundingClientRect().height])")


BI = {"feeding": 5, "bathing": 0, "grooming": 0, "dressing": 5, "bowels": 5, "bladder": 5,
      "toilet_use": 5, "transfers": 5, "mobility": 5, "stairs": 0}
GDS = {f"GDS02{n:02d}": "YES" for n in range(1, 16)}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_public_pages(anon_page, lang):
    page = anon_page(lang)
    page.goto(f"/login?lang={lang}")
    assert page.get_attribute("html", "lang") == ("zh-Hans" if lang == "zh" else "en")
    assert_no_violations(page, f"login ({lang})")
    page.fill("input[name=username]", "patient.a1")
    page.fill("input[name=password]", "not-the-password")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator("#login-error").is_visible()
    assert_no_violations(page, f"login with an error ({lang})")
    page.goto(f"/activate?lang={lang}")
    assert page.locator("main form input[name=code]").count() == 1
    assert_no_violations(page, f"activation ({lang})")


@pytest.mark.parametrize("lang,instrument,answers", [("zh", "bi", BI), ("en", "gds15", GDS)])
def test_patient_pages(page_for, helpers, lang, instrument, answers):
    page = page_for("patient.a1", lang)
    pid = helpers.patient_id(page)
    assert page.locator(f'a[data-instrument="{instrument}"][data-visit="M3"]').count() == 1
    assert_no_violations(page, f"patient home ({lang})")

    page.click(f'a[data-instrument="{instrument}"][data-visit="M3"]')
    wizard = helpers.Wizard(page)
    assert_no_violations(page, f"questionnaire step ({lang})")
    wizard.next.click()
    assert wizard.message.is_visible()
    assert_no_violations(page, f"questionnaire step with an error ({lang})")
    answer_all(page, wizard, helpers, answers)
    assert wizard.review.is_visible()
    assert_no_violations(page, f"review screen ({lang})")
    with page.expect_navigation():
        wizard.submit.click()
    assert "/done/" in page.url
    assert_no_violations(page, f"confirmation page ({lang})")
    page.goto(f"/patients/{pid}/history")
    assert page.locator("main table").count() == 1
    assert_no_violations(page, f"history page ({lang})")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_clinician_pages(page_for, helpers, lang):
    page = page_for("clinician.a", lang, 1280, 900)
    assert page.locator("table#patient-list tbody tr[data-subject]").count() >= 1
    assert_no_violations(page, f"clinician list ({lang})")
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}")
    assert page.locator("table#timeline tr#visit-BL").count() == 1
    assert_no_violations(page, f"timeline ({lang})")
    page.goto(f"/clinic/patients/{pid}/visits/M3/nihss")
    assert page.locator("form#assessment fieldset").count() == 15
    page.locator("form#assessment label.choice").first.click()
    assert_no_violations(page, f"NIHSS entry ({lang})")
    for name, height in tap_heights(page, "form#assessment label.choice"):
        assert height >= MIN_TAP, f"NIHSS answer {name} is {height:.0f} px tall"


def test_phone_layout_and_tap_targets(anon_page, page_for, helpers):
    page = anon_page("zh", 360, 640)
    page.goto("/login")
    helpers.no_horizontal_scroll(page)
    for selector in ("main form button[type=submit]", "input[name=username]", "input[name=password]"):
        box = page.locator(selector).bounding_box()
        assert box["height"] >= MIN_TAP and box["x"] + box["width"] <= 360, (selector, box)

    for js in (True, False):
        page = page_for("patient.a2", "zh", 360, 640, js=js)
        page.click('a[data-instrument][data-visit]')
        assert re.search(r"/visits/\w+/(bi|gds15)$", page.url)
        helpers.no_horizontal_scroll(page)
        heights = tap_heights(page, "form#questionnaire label.choice")
        assert heights, "no answers visible"
        for name, height in heights:
            assert height >= MIN_TAP, f"answer {name} is {height:.0f} px tall (js={js})"
        if js:
            wizard = helpers.Wizard(page)
            for control in (wizard.next,):
                assert control.bounding_box()["height"] >= MIN_TAP
            # Every step of the questionnaire fits the phone's width.
            for key in wizard.step_keys():
                assert wizard.current_key() == key
                helpers.no_horizontal_scroll(page)
                for name, height in tap_heights(page, "form#questionnaire label.choice"):
                    assert height >= MIN_TAP, f"answer {name} is {height:.0f} px tall"
                value = page.locator(f'{wizard.FORM} fieldset.step:not([hidden]) input').first.get_attribute("value")
                wizard.choose(key, value)
                wizard.next.click()
            assert wizard.review.is_visible()
            helpers.no_horizontal_scroll(page)


def test_axe_is_really_checking(anon_page):
    """Guard against a silently inert checker: a known violation must be reported."""
    page = anon_page("en")
    page.goto("/login")
    page.evaluate("() => { const i = document.createElement('img'); i.src = '/static/icons/icon-192.png';"
                  " document.querySelector('main').appendChild(i); }")
    results = _axe.run(page)
    assert results.violations_count >= 1
    assert "image-alt" in results.generate_report()
