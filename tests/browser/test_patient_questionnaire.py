"""patient.a1 answers M3 BI, then GDS-15, in Chinese on a 360x640 phone, one question per screen."""
import re

BI_KEYS = ["feeding", "bathing", "grooming", "dressing", "bowels", "bladder", "toilet_use",
           "transfers", "mobility", "stairs"]
# First answers; grooming is then changed from the review screen, 0 -> 5.
BI_ANSWERS = {"feeding": 10, "bathing": 5, "grooming": 0, "dressing": 5, "bowels": 10, "bladder": 5,
              "toilet_use": 10, "transfers": 15, "mobility": 10, "stairs": 5}
BI_CHANGED = ("grooming", 5)
BI_TOTAL = sum(BI_ANSWERS.values()) - BI_ANSWERS["grooming"] + BI_CHANGED[1]  # plain sum (INSTRUMENTS.md)

CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str) -> str:
    assert CJK.search(text), f"not in Chinese: {text!r}"
    return text


# Depressive answers on items 1 (NO), 2, 3 (YES), 5 (NO), 9 (YES) and 14 (YES): total 6.
GDS_ANSWERS = {f"GDS02{n:02d}": v for n, v in enumerate(
    ["NO", "YES", "YES", "NO", "NO", "NO", "YES", "NO", "YES", "NO", "YES", "NO", "YES", "YES", "NO"], start=1)}


def walk(page, wizard, helpers, answers: dict, *, check_errors: bool) -> dict[str, str]:
    """Answer every step in order; returns the text of each chosen answer by key."""
    keys = wizard.step_keys()
    assert keys == list(answers), keys
    assert page.locator("form#questionnaire input[type=radio]:checked").count() == 0, "an answer is pre-selected"
    chosen = {}
    for i, key in enumerate(keys):
        assert wizard.current_key() == key
        assert helpers.numbers(wizard.progress()) == [str(i + 1), str(len(keys))], wizard.progress()
        assert wizard.checked(key) is None
        assert wizard.step.locator("input[type=radio]").count() >= 2
        helpers.no_horizontal_scroll(page)
        assert wizard.back.is_visible() == (i > 0)
        if check_errors and i == 0:
            chinese(wizard.progress())
            chinese(wizard.next.inner_text())
            wizard.next.click()
            assert wizard.message.is_visible()
            chinese(wizard.message.inner_text())
            assert wizard.message.inner_text() == wizard.text("required")
            assert wizard.current_key() == key
        chosen[key] = wizard.choose(key, answers[key])
        assert not wizard.message.is_visible(), "the error stays after answering"
        if check_errors and i == 1:
            wizard.back.click()
            assert wizard.current_key() == keys[0]
            assert wizard.checked(keys[0]) == str(answers[keys[0]])
            wizard.next.click()
            assert wizard.current_key() == key
            assert wizard.checked(key) == str(answers[key])
        expected = wizard.text("review") if i == len(keys) - 1 else wizard.text("next")
        assert wizard.next.inner_text() == expected
        wizard.next.click()
    return chosen


def test_bi_then_gds15_in_chinese_on_a_phone(page_for, helpers):
    page = page_for("patient.a1", "zh", 360, 640)
    assert page.get_attribute("html", "lang") == "zh-Hans"
    pid = helpers.patient_id(page)
    assert helpers.responses_of(page, pid, "M3", "bi") == []
    helpers.no_horizontal_scroll(page)

    # --- Barthel Index -------------------------------------------------------------------------
    page.click('a[data-instrument="bi"][data-visit="M3"]')
    assert re.search(rf"/patients/{pid}/visits/M3/bi$", page.url)
    assert "进食" in page.inner_text("main")  # the Chinese item wording
    wizard = helpers.Wizard(page)
    chosen = walk(page, wizard, helpers, BI_ANSWERS, check_errors=True)

    assert wizard.review.is_visible()
    assert not wizard.next.is_visible() and wizard.submit.is_visible()
    chinese(wizard.review.locator("h2").inner_text())
    chinese(wizard.submit.inner_text())
    items = wizard.review_items()
    assert len(items) == len(BI_KEYS)
    for n, (key, text) in enumerate(chosen.items(), start=1):
        assert items[n - 1].startswith(f"{n}. "), items[n - 1]
        assert text in items[n - 1], (key, text, items[n - 1])
    helpers.no_horizontal_scroll(page)

    # Change the 3rd answer (grooming) and come straight back to the review.
    key, value = BI_CHANGED
    wizard.change(3)
    assert wizard.current_key() == key and not wizard.review.is_visible()
    assert wizard.checked(key) == str(BI_ANSWERS[key])
    new_text = wizard.choose(key, value)
    assert wizard.next.inner_text() == wizard.text("review")
    wizard.next.click()
    assert wizard.review.is_visible()
    assert new_text in wizard.review_items()[2] and chosen[key] not in wizard.review_items()[2]

    with page.expect_navigation():
        wizard.submit.click()
    assert re.search(rf"/patients/{pid}/done/[\w-]+$", page.url), page.url
    confirmation = chinese(page.locator(".good-news").inner_text())
    assert str(BI_TOTAL) in helpers.numbers(confirmation), confirmation
    helpers.no_horizontal_scroll(page)

    # --- GDS-15, reached from the confirmation page -----------------------------------------------
    page.click('main a[href$="/me"]')
    assert page.locator('a[data-instrument="bi"][data-visit="M3"]').count() == 0, "BI still shown as due"
    page.click('a[data-instrument="gds15"][data-visit="M3"]')
    assert re.search(rf"/patients/{pid}/visits/M3/gds15$", page.url)
    wizard = helpers.Wizard(page)
    walk(page, wizard, helpers, GDS_ANSWERS, check_errors=False)
    assert len(wizard.review_items()) == 15
    with page.expect_navigation():
        wizard.submit.click()
    gds_total = helpers.gds15_total(GDS_ANSWERS)
    assert gds_total == 6
    assert str(gds_total) in helpers.numbers(page.locator(".good-news").inner_text())

    # --- stored exactly once each, with the expected totals ---------------------------------------
    bi = helpers.responses_of(page, pid, "M3", "bi")
    gds = helpers.responses_of(page, pid, "M3", "gds15")
    assert len(bi) == 1 and len(gds) == 1, (bi, gds)
    assert bi[0]["total"] == BI_TOTAL == 80 and bi[0]["respondent"] == "patient" and bi[0]["counts"] is True
    assert gds[0]["total"] == gds_total and gds[0]["respondent"] == "patient"
    page.goto("/me")
    assert page.locator("a[data-visit=M3]").count() == 0
