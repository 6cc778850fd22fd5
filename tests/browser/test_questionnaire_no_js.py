"""Without JavaScript the questionnaire is one plain HTML form that validates on the server."""
import re

ANSWERS = {"feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10, "bladder": 10,
           "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10}
TOTAL = 100
PARTIAL = ["feeding", "bathing", "grooming", "dressing"]


def open_bi(page, pid):
    page.click('a[data-instrument="bi"][data-visit="M3"]')
    assert re.search(rf"/patients/{pid}/visits/M3/bi$", page.url)


def test_plain_form_shows_errors_in_place_and_keeps_answers(page_for, helpers):
    page = page_for("patient.a1", "en", js=False)
    pid = helpers.patient_id(page)
    open_bi(page, pid)
    form = page.locator("form#questionnaire")
    # One plain form: every question visible at once, no wizard buttons, the submit button shown.
    steps = form.locator("fieldset.step")
    assert steps.count() == 10
    for i in range(10):
        assert steps.nth(i).is_visible()
    assert form.locator("button[type=button]").count() == 0
    assert form.locator("section[aria-labelledby=review-title]").count() == 0
    assert form.locator("input[type=radio]:checked").count() == 0
    helpers.no_horizontal_scroll(page)

    for key in PARTIAL:
        page.check(f'input[name="{key}"][value="{ANSWERS[key]}"]')
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert re.search(r"/visits/M3/bi$", page.url)
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    missing = [k for k in ANSWERS if k not in PARTIAL]
    assert helpers.numbers(summary.locator("strong").inner_text()) == [str(len(missing))]
    for key in missing:
        error = page.locator(f"#q-{key} p.error#err-{key}")
        assert error.is_visible() and error.inner_text().strip(), f"no error shown at {key}"
        assert page.get_attribute(f"#q-{key}", "aria-describedby") == f"err-{key}"
        assert summary.locator(f'a[href="#q-{key}"]').count() == 1
    for key in PARTIAL:
        assert page.locator(f"#q-{key} p.error").count() == 0
        assert page.is_checked(f'input[name="{key}"][value="{ANSWERS[key]}"]'), f"{key} lost"
    assert helpers.responses_of(page, pid, "M3", "bi") == []

    for key in missing:
        page.check(f'input[name="{key}"][value="{ANSWERS[key]}"]')
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert re.search(rf"/patients/{pid}/done/[\w-]+$", page.url), page.url
    assert "100" in helpers.numbers(page.locator(".good-news").inner_text())
    stored = helpers.responses_of(page, pid, "M3", "bi")
    assert len(stored) == 1 and stored[0]["total"] == TOTAL, stored

