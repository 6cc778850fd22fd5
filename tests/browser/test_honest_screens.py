"""Honest screens, offline and on (issue 13): a questionnaire answered on this phone or on the server
shows as answered everywhere at once; opening it again shows the answers given and how to correct
them through the clinic, never an empty form; the home page says what waits to be sent; every link
and button a patient taps is at least 48 x 48 px at 360 px."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support.offline import GDS, assert_no_violations, wait_for_offline_copies, wait_js

CORRECTION_EN = ("If an answer is wrong, please tell your clinic, by phone or at your next visit. The clinic "
                 "writes down the correction; you do not need to answer again.")
MIN_TAP = 48


def given_lines(page) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip()
            for t in page.locator("main .given-answers > li:visible").all_inner_texts()]


def test_gds_answered_offline_is_waiting_then_answered(page_for, helpers):
    page = page_for("patient.a1", "zh")
    pid = helpers.patient_id(page)
    url = f"/patients/{pid}/visits/M3/gds15"
    count = page.locator("[data-outbox-count]")
    expect(count).to_have_text(count.get_attribute("data-t-none"))
    wait_for_offline_copies(page, ["/me", url])

    page.context.set_offline(True)
    page.reload()
    page.click('a[data-instrument="gds15"][data-visit="M3"]')
    wizard = helpers.Wizard(page)
    chosen = []
    for key, value in GDS.items():
        assert wizard.current_key() == key
        question = wizard.step.locator("legend .q-text").inner_text().strip()
        chosen.append(f"{question} {wizard.choose(key, value)}")
        wizard.next.click()
    wizard.submit.click()
    expect(page.locator("#saved-here")).to_be_visible()
    assert given_lines(page) == chosen  # the answers, right under "saved on this phone"

    # A reload offline (the copy of the page kept from before): the answers given, not question 1.
    page.reload()
    expect(page.locator("#given-here")).to_be_visible()
    expect(page.locator("form#questionnaire")).to_be_hidden()
    assert page.locator("form#questionnaire fieldset.step:visible").count() == 0
    assert given_lines(page) == chosen
    expect(page.locator("#given-here [data-correction]")).to_be_visible()
    expect(page.locator("#saved-here [data-when=pending]")).to_be_visible()
    assert_no_violations(page, "questionnaire reloaded offline (zh)")

    # The home page (its copy kept offline) shows it waiting, not due, and counts it.
    page.goto("/me")
    task = page.locator('a[data-instrument="gds15"][data-visit="M3"]')
    expect(task).to_have_attribute("data-state", "waiting")
    expect(task.locator(".badge.queued")).to_have_text(page.get_attribute("#outbox", "data-t-queued"))
    expect(task.locator(".task-hint")).to_be_hidden()
    expect(count).to_have_text(count.get_attribute("data-t-one"))
    assert_no_violations(page, "home with an answer waiting (zh)")

    # The signal returns: sent once; the same page now says done and all sent.
    page.context.set_offline(False)
    expect(count).to_have_text(count.get_attribute("data-t-none"))
    expect(task).to_have_attribute("data-state", "sent")
    stored = helpers.responses_of(page, pid, "M3", "gds15")
    assert len(stored) == 1 and stored[0]["total"] == helpers.gds15_total(GDS), stored

    page.reload()  # from the server now: answered, no longer a due link
    assert page.locator('a[data-instrument="gds15"]').count() == 0
    answered = page.locator('a[data-answered-instrument="gds15"][data-answered-visit="M3"]')
    expect(answered).to_be_visible()
    expect(answered.locator(".badge.complete")).to_be_visible()
    assert_no_violations(page, "home with an answered questionnaire (zh)")

    # Opening it again, offline (the kept copy is fetched again once it is answered) or on.
    wait_js(page, """async (path) => {
        const name = (await caches.keys()).find((k) => k.startsWith("epro-pages-"));
        const copy = name && await (await caches.open(name)).match(location.origin + path);
        return !!copy && copy.headers.get("X-Epro-Answered") === "1";
    }""", url)
    page.context.set_offline(True)
    page.goto(url)
    assert page.locator("form#questionnaire").count() == 0
    assert given_lines(page) == chosen
    page.context.set_offline(False)
    page.goto(url)
    assert page.locator("form#questionnaire").count() == 0 and given_lines(page) == chosen
    assert len(helpers.responses_of(page, pid, "M3", "gds15")) == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_answered_questionnaire_by_its_address(page_for, helpers, lang):
    page = page_for("patient.a1", lang)
    pid = helpers.patient_id(page)
    for code, items in (("bi", 10), ("gds15", 15)):  # the demo's M1 is answered
        response = page.goto(f"/patients/{pid}/visits/M1/{code}")
        assert response.status == 200
        assert page.locator("form#questionnaire, main input[type=radio]").count() == 0
        lines = given_lines(page)
        assert len(lines) == items and all(line for line in lines)
        correction = page.locator("main [data-correction]").inner_text()
        if lang == "en":
            assert correction == CORRECTION_EN
        else:
            assert re.search(r"[\u4e00-\u9fff]", correction) and correction != CORRECTION_EN
            assert not any(re.fullmatch(r"[ -~]+", line) for line in lines), lines  # not English
        expect(page.locator("main .good-news[data-answered]")).to_be_visible()
        helpers.no_horizontal_scroll(page)
    assert_no_violations(page, f"answered questionnaire ({lang})")


def test_answered_online_then_opened_again(page_for, helpers):
    page = page_for("patient.a1", "en")
    pid = helpers.patient_id(page)
    page.click('a[data-instrument="bi"][data-visit="M3"]')
    wizard = helpers.Wizard(page)
    for key in wizard.step_keys():
        value = wizard.step.locator("input").first.get_attribute("value")
        wizard.choose(key, value)
        wizard.next.click()
    with page.expect_navigation():
        wizard.submit.click()
    assert "/done/" in page.url
    page.goto(f"/patients/{pid}/visits/M3/bi")
    assert page.locator("form#questionnaire").count() == 0
    assert len(given_lines(page)) == 10
    assert page.locator("main [data-correction]").inner_text() == CORRECTION_EN
    assert len(helpers.responses_of(page, pid, "M3", "bi")) == 1


SMALL_TARGETS = """() => Array.from(document.querySelectorAll("a[href], button, summary, [role=button]"))
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth &&
                       getComputedStyle(el).visibility !== "hidden")
  .filter(([el, r]) => r.width < MIN - 0.5 || r.height < MIN - 0.5)
  .map(([el, r]) => `${el.tagName} "${el.textContent.trim().replace(/\\s+/g, " ").slice(0, 50)}" ` +
                    `${Math.round(r.width)}x${Math.round(r.height)}`)""".replace("MIN", str(MIN_TAP))


def assert_big_targets(page, what: str) -> None:
    page.wait_for_load_state("load")
    small = page.evaluate(SMALL_TARGETS)
    assert small == [], f"targets under {MIN_TAP} px on {what} ({page.url}): {small}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_patient_target_is_48_px(anon_page, page_for, helpers, lang):
    login = anon_page(lang, 360, 640)
    login.goto(f"/login?lang={lang}")
    assert_big_targets(login, "login")

    page = page_for("patient.a2", lang, 360, 640)
    pid = helpers.patient_id(page, "A-002")
    assert_big_targets(page, "home")
    for path in (f"/patients/{pid}/history", "/reminders", f"/patients/{pid}/report"):
        page.goto(path)
        assert_big_targets(page, path)
    page.goto("/me")
    page.click("a[data-instrument][data-visit]")
    page.wait_for_selector("form#questionnaire")
    assert_big_targets(page, "questionnaire")
    wizard = helpers.Wizard(page)
    for key in wizard.step_keys():
        value = wizard.step.locator("input").first.get_attribute("value")
        wizard.choose(key, value)
        wizard.next.click()
    assert_big_targets(page, "review")
    questionnaire_url = page.url
    with page.expect_navigation():
        wizard.submit.click()
    assert_big_targets(page, "confirmation")
    page.goto(questionnaire_url)
    assert page.locator("form#questionnaire").count() == 0
    assert_big_targets(page, "answered questionnaire")

    carer = page_for("caregiver.a1", lang, 360, 640)
    assert_big_targets(carer, "caregiver home")
