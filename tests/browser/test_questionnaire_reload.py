"""A reload mid-way keeps the answers (kept on the device) and still stores one response."""
import re

ANSWERS = {"feeding": 5, "bathing": 0, "grooming": 5, "dressing": 10, "bowels": 5, "bladder": 10,
           "toilet_use": 5, "transfers": 10, "mobility": 5, "stairs": 0}
TOTAL = 55  # plain sum of the chosen levels (INSTRUMENTS.md)


def test_answers_survive_a_reload(page_for, helpers):
    assert sum(ANSWERS.values()) == TOTAL
    page = page_for("patient.a1", "zh")
    pid = helpers.patient_id(page)
    page.click('a[data-instrument="bi"][data-visit="M3"]')
    wizard = helpers.Wizard(page)
    keys = wizard.step_keys()
    assert keys == list(ANSWERS)
    first_id = page.input_value("input[name=response_id]")

    for key in keys[:3]:
        assert wizard.current_key() == key
        wizard.choose(key, ANSWERS[key])
        wizard.next.click()
    assert wizard.current_key() == keys[3]

    page.reload()
    wizard = helpers.Wizard(page)
    for key in keys[:3]:
        assert wizard.checked(key) == str(ANSWERS[key]), f"{key} lost on reload"
    assert wizard.current_key() == keys[3], "not back on the step where the patient was"
    assert helpers.numbers(wizard.progress()) == ["4", "10"]
    assert wizard.checked(keys[3]) is None
    # The draft keeps its response id, so a resend can never store the answers twice.
    assert page.input_value("input[name=response_id]") == first_id

    wizard.back.click()
    assert wizard.current_key() == keys[2] and wizard.checked(keys[2]) == str(ANSWERS[keys[2]])
    wizard.next.click()
    for key in keys[3:]:
        assert wizard.current_key() == key
        wizard.choose(key, ANSWERS[key])
        wizard.next.click()
    assert wizard.review.is_visible()
    assert len(wizard.review_items()) == 10
    with page.expect_navigation():
        wizard.submit.click()
    assert re.search(rf"/patients/{pid}/done/{first_id}$", page.url), page.url
    assert str(TOTAL) in helpers.numbers(page.locator(".good-news").inner_text())

    stored = helpers.responses_of(page, pid, "M3", "bi")
    assert len(stored) == 1, stored
    assert stored[0]["id"] == first_id and stored[0]["total"] == TOTAL

    # The confirmation page cleared the draft: the form starts empty again.
    draft_keys = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('epro:draft:'))")
    assert draft_keys == []
