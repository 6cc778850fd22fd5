"""A data query in Chromium, in Chinese and English on a 360-px phone: the monitor raises it on a
clinician's mRS, the clinician answers with a correction (with a reason), the monitor closes it by
keyboard; every query page passes axe-core and fits the screen; the overview and the site list follow."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_accessibility import assert_no_violations
from test_keyboard import FOCUSED

WORDS = {
    "zh": {"raise": "提出质疑", "save": "保存", "open": "待中心回复", "answered": "已回复", "closed": "已关闭",
           "close": "关闭", "none": "没有未关闭的质疑。"},
    "en": {"raise": "Raise the query", "save": "Save", "open": "awaiting the site", "answered": "answered",
           "closed": "closed", "close": "Close", "none": "No open queries."},
}


def mrs_response(page, helpers, pid: int, visit: str) -> dict:
    found = [r for r in helpers.responses_of(page, pid, visit, "mrs") if r["counts"]]
    assert len(found) == 1, found
    return found[0]


def checked(page, what: str, helpers) -> None:
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, what)


@pytest.mark.parametrize("lang,visit", [("zh", "M1"), ("en", "BL")])
def test_raise_correct_and_close_a_query(page_for, helpers, lang, visit):
    w = WORDS[lang]
    monitor = page_for("monitor.a", lang)
    pid = helpers.patient_id(monitor)
    old = mrs_response(monitor, helpers, pid, visit)
    # The monitor raises the query from the record page.
    monitor.goto(f"/clinic/responses/{old['id']}")
    checked(monitor, f"record with its queries ({lang})", helpers)
    monitor.click("a[data-raise-query]")
    monitor.wait_for_load_state("load")
    checked(monitor, f"raise a query ({lang})", helpers)
    monitor.get_by_role("button", name=w["raise"]).click()  # no message yet: the form says so in place
    expect(monitor.locator("#error-summary")).to_be_visible()
    assert monitor.locator("textarea#text[aria-invalid=true]").count() == 1
    checked(monitor, f"raise a query with an error ({lang})", helpers)
    monitor.select_option("select#item", "MRS0101")
    monitor.fill("textarea#text", "源文件记录的是 mRS 3 分。" if lang == "zh" else "The source says mRS 3.")
    with monitor.expect_navigation():
        monitor.get_by_role("button", name=w["raise"]).click()
    qid = int(re.search(r"/queries/(\d+)$", monitor.url).group(1))
    assert monitor.locator("h1 [data-query-status]").inner_text() == w["open"]
    checked(monitor, f"query thread, open ({lang})", helpers)

    # The clinician finds it on the site list and the timeline, and answers with a correction.
    clinician = page_for("clinician.a", lang)
    clinician.goto("/clinic/")
    assert clinician.locator('tr[data-subject="A-001"] [data-open-queries="1"]').count() == 1
    assert_no_violations(clinician, f"site list with an open query ({lang})")
    clinician.goto(f"/clinic/patients/{pid}")
    assert_no_violations(clinician, f"timeline with an open query ({lang})")
    link = clinician.locator(f'#visit-{visit} td[data-instrument="mrs"] a[data-timeline-query="{qid}"]')
    with clinician.expect_navigation():
        link.click()
    checked(clinician, f"query thread for the site ({lang})", helpers)
    with clinician.expect_navigation():
        clinician.click("a[data-correct]")
    assert clinician.locator(f'[data-answering-query="{qid}"]').count() == 1
    checked(clinician, f"correction answering a query ({lang})", helpers)
    new_value = 3 if old["total"] != 3 else 2
    clinician.locator(f'label.choice:has(input[name="MRS0101"][value="{new_value}"])').click()
    clinician.fill("input#reason", "抄错了一行" if lang == "zh" else "Copied from the wrong line")
    with clinician.expect_navigation():
        clinician.locator(".sticky-total button[type=submit]").click()
    assert clinician.url.endswith(f"/queries/{qid}"), clinician.url
    assert clinician.locator("h1 [data-query-status]").inner_text() == w["answered"]
    assert clinician.locator('#thread li[data-action="correct"]').count() == 1
    assert clinician.locator("[data-step=close]").count() == 0  # only monitors and data managers close
    checked(clinician, f"query thread, answered ({lang})", helpers)
    stored = mrs_response(clinician, helpers, pid, visit)
    assert stored["id"] != old["id"] and stored["total"] == new_value

    # The monitor closes it with the keyboard alone.
    monitor.goto(f"/queries/{qid}")
    assert monitor.locator("[data-corrected]").count() == 1
    monitor.focus("textarea#text-close")
    monitor.keyboard.type("好的" if lang == "zh" else "Thank you")
    monitor.keyboard.press("Tab")
    focus = monitor.evaluate(FOCUSED)
    assert focus["tag"] == "button" and focus["text"] == w["close"] and focus["visible"], focus
    with monitor.expect_navigation():
        monitor.keyboard.press("Enter")
    assert monitor.locator("h1 [data-query-status]").inner_text() == w["closed"]
    assert monitor.locator("form[data-step]").count() == 0  # final: nothing more to do
    assert monitor.locator("#thread li").count() == 3
    checked(monitor, f"query thread, closed ({lang})", helpers)
    monitor.goto("/queries/")
    assert monitor.locator(f'tr[data-query="{qid}"]').count() == 0
    checked(monitor, f"query overview ({lang})", helpers)


def test_the_data_manager_overview_and_verification_on_a_phone(page_for, helpers):
    dm = page_for("datamanager", "zh")
    pid = helpers.patient_id(dm, "B-001")
    rid = [r for r in helpers.api_get(dm, f"/api/v1/patients/{pid}/responses")["responses"]
           if r["respondent"] == "clinician"][0]["id"]
    dm.goto(f"/queries/new/{rid}")
    dm.fill("textarea#text", "请核对")
    with dm.expect_navigation():
        dm.get_by_role("button", name=WORDS["zh"]["raise"]).click()
    dm.goto("/queries/")
    assert dm.locator('#query-summary tr[data-site="B"] [data-open]').inner_text() == "1"
    assert dm.locator("#site-filter a").count() == 3
    checked(dm, "query overview for every site (zh)", helpers)
    monitor = page_for("monitor.a", "en")
    a1 = helpers.patient_id(monitor)
    nihss = [r for r in helpers.responses_of(monitor, a1, "M1", "nihss") if r["counts"]][0]["id"]
    monitor.goto(f"/clinic/responses/{nihss}")
    with monitor.expect_navigation():
        monitor.locator("#verify-form button").click()
    assert monitor.locator('[data-verification="verified"]').count() == 1
    checked(monitor, "record, source-verified (en)", helpers)
