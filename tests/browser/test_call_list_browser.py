"""The call list in Chromium on a phone (360 px), in Chinese and English: the most urgent patient first
with a status word, record a call on the most urgent card, see its outcome on the list; axe-core finds
nothing on the list, the call form or the alerts page."""
from __future__ import annotations

import pytest
from test_accessibility import assert_no_violations

WORDS = {
    "zh": {"title": "呼叫名单", "record": "记录一次电话", "outcome": "无人接听", "save": "保存这次电话",
           "saved": "已记录给", "statuses": {"已逾期", "最后几天", "待完成"}},
    "en": {"title": "Call list", "record": "Record a call", "outcome": "No answer", "save": "Save the call",
           "saved": "recorded", "statuses": {"Overdue", "Last days", "Due"}},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_nurse_records_a_call_and_sees_it_on_the_list(page_for, helpers, lang):
    words = WORDS[lang]
    page = page_for("clinician.a", lang, 360, 740)
    page.goto("/clinic/worklists/calls")
    assert page.locator("h1").inner_text() == words["title"]
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, f"call list at 360 px ({lang})")
    cards = page.locator("#call-list > li")
    assert cards.count() >= 2
    first = cards.first
    status = first.locator(".status-word").first.inner_text().strip("▲● ").strip()
    assert status.upper() in {s.upper() for s in words["statuses"]}  # a word, not colour alone
    subject = first.get_attribute("data-subject")
    first.get_by_role("link", name=words["record"]).click()
    assert_no_violations(page, f"call form at 360 px ({lang})")
    helpers.no_horizontal_scroll(page)
    page.get_by_label(words["outcome"]).check()
    page.fill("#note", f"browser {lang}")
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_url("**/clinic/worklists/calls**")
    assert words["saved"] in page.locator(".flash").first.inner_text()
    card = page.locator(f'#call-list > li[data-subject="{subject}"]')
    assert card.locator("[data-last-call]").get_attribute("data-last-call") == "no_answer"
    assert words["outcome"] in card.inner_text() and f"browser {lang}" in card.inner_text()
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, f"call list after a call ({lang})")


def test_the_alerts_page_fits_a_phone(page_for, helpers):
    page = page_for("investigator.a", "zh", 360, 640)
    page.goto("/clinic/worklists/alerts")
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, "alerts at 360 px (zh)")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_completion_report_fits_a_phone(page_for, helpers, lang):
    page = page_for("datamanager", lang, 360, 640)
    page.goto("/clinic/worklists/completion")
    assert page.locator("figure.chart-svg svg[role=img]").count() == 2  # sites A and B, each with its table
    assert page.locator("table[data-completion]").count() == 2
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, f"completion report at 360 px ({lang})")
