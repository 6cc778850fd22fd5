"""Offline first, continued (a module of its own, so its own server: each test answers a questionnaire
no other test of the module has, because an answered one opens read-only): two tabs and a double tap,
answers the server refuses, a session that ended while answers waited."""
from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

from playwright.sync_api import expect
from support.offline import (
    ALL_SENT,
    BI,
    BI_TOTAL,
    GDS,
    NO_BACKGROUND_SYNC,
    answer,
    answer_and_send,
    assert_no_violations,
    stored_with_id,
    wait_js,
    wait_until,
    waiting_items,
)


def test_two_tabs_and_a_double_tap_store_once(page_for, helpers):
    """Two open tabs send the same queue at the same moment (no lock between them, replies slowed
    down so both requests are in flight), and send is tapped twice: one response on the server."""
    page = page_for("patient.a2", "zh")
    pid = helpers.patient_id(page, "A-002")
    context = page.context
    context.add_init_script("Object.defineProperty(navigator, 'locks', { value: undefined });")
    context.add_init_script(NO_BACKGROUND_SYNC)
    server = {"reachable": False}
    posts: list[int] = []

    def network(route):
        if not server["reachable"]:
            route.abort("connectionrefused")
            return
        response = route.fetch()
        posts.append(response.status)
        time.sleep(0.4)  # the reply is slow: the other tab's request is on its way meanwhile
        route.fulfill(response=response)

    context.route("**/api/v1/responses", network)
    page.goto(f"/patients/{pid}/visits/M3/gds15")
    answer(page, helpers, GDS)
    response_id = page.input_value("input[name=response_id]")
    page.locator("form#questionnaire [data-submit-row] button[type=submit]").dblclick()
    page.locator("#saved-here").wait_for()
    assert [i["id"] for i in waiting_items(page)] == [response_id]

    other = context.new_page()
    other.goto("/me")
    other.locator(f'#outbox li[data-id="{response_id}"]').wait_for()

    server["reachable"] = True
    for tab in (page, other):  # both at once, without waiting for the first
        tab.evaluate("() => { window.eproApp.flushNow(); return true; }")
    for tab in (page, other):
        wait_js(tab, ALL_SENT)
    assert posts and posts.count(201) == 1 and set(posts) <= {200, 201}, posts
    stored = stored_with_id(page, helpers, pid, response_id)
    assert len(stored) == 1 and stored[0]["total"] == helpers.gds15_total(GDS)
    context.unroute_all(behavior="ignoreErrors")


def test_refused_answers_stay_on_the_phone_and_sign_out_warns(page_for, helpers):
    """A 422 (here: the visit changed while the answers waited) keeps them with the server's
    message; signing out with unsent answers asks first and only then clears them."""
    page = page_for("patient.a1", "en")
    pid = helpers.patient_id(page)
    page.context.add_init_script(NO_BACKGROUND_SYNC)  # only this page sends, when the test says so
    page.context.route("**/api/v1/responses", lambda route: route.abort("connectionrefused"))
    response_id = answer_and_send(page, helpers, "bi", BI, pid)
    page.locator("#saved-here").wait_for()
    # The schedule changed while the answers waited: they now belong to a visit that is not open.
    page.evaluate("(id) => window.eproOutbox.update(id, { visit: 'M6' })", response_id)
    page.context.unroute("**/api/v1/responses")
    page.evaluate("() => window.eproApp.flushNow()")
    refused = page.locator(f'#outbox li[data-id="{response_id}"][data-state="rejected"]')
    refused.wait_for()
    assert page.get_attribute("#outbox", "data-t-rejected") in refused.inner_text()
    assert refused.locator(".detail").inner_text().strip()  # the server's own words
    (item,) = waiting_items(page)
    assert item["answers"] == {k: str(v) for k, v in BI.items()} and item["state"] == "rejected"
    assert stored_with_id(page, helpers, pid, response_id) == []
    page.reload()
    expect(page.locator(f'#outbox li[data-id="{response_id}"][data-state="rejected"]')).to_be_visible()

    # A 409 (this id already stored with other answers) is shown, and the answers stay too.
    other_id = str(uuid.uuid4())
    body = {"id": other_id, "patient_id": pid, "visit": "M3", "instrument": "bi", "answers": BI,
            "respondent": "patient", "completed_at": datetime.now(UTC).isoformat()}
    assert helpers.api_post(page, "/api/v1/responses", body).status == 201
    page.evaluate("""(item) => window.eproOutbox.add(item).then(() => window.eproApp.flushNow())""", dict(
        body, answers={**{k: str(v) for k, v in BI.items()}, "stairs": "10"}, title="BI",
        user=page.get_attribute("#outbox", "data-user")))
    conflict = page.locator(f'#outbox li[data-id="{other_id}"][data-state="conflict"]')
    conflict.wait_for()
    assert page.get_attribute("#outbox", "data-t-conflict") in conflict.inner_text()
    assert len(stored_with_id(page, helpers, pid, other_id)) == 1  # the first answers, unchanged
    assert len(waiting_items(page)) == 2
    assert_no_violations(page, "refused and conflicting answers shown (en)")

    # Signing out: a warning first; "cancel" keeps everything.
    warning = page.get_attribute("#outbox", "data-t-confirm-logout")
    seen = []

    def dismiss(dialog):
        seen.append((dialog.type, dialog.message))
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("form[data-logout] button")
    wait_until(page, lambda: seen)
    page.wait_for_timeout(200)
    assert seen == [("confirm", warning)]
    assert "/login" not in page.url and len(waiting_items(page)) == 2
    assert [k for k in page.evaluate("caches.keys()") if k.startswith("epro-pages-")]

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("form[data-logout] button")
    assert "/login" in page.url
    assert not [k for k in page.evaluate("caches.keys()") if k.startswith("epro-pages-")]
    left = page.evaluate("""() => new Promise((resolve) => {
        const req = indexedDB.open("epro", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("outbox", { keyPath: "id" });
        req.onsuccess = () => { const r = req.result.transaction("outbox").objectStore("outbox").getAll();
                                r.onsuccess = () => resolve(r.result); };
    })""")
    assert left == []


def test_signed_out_meanwhile_keeps_answers_and_asks_to_sign_in(page_for, helpers):
    """A 401 (the session ended while the answers waited) keeps them and asks for a sign-in;
    after signing in again they are sent."""
    page = page_for("patient.a2", "zh")
    pid = helpers.patient_id(page, "A-002")
    page.context.add_init_script(NO_BACKGROUND_SYNC)
    page.goto(f"/patients/{pid}/visits/M3/bi")
    answer(page, helpers, BI)
    response_id = page.input_value("input[name=response_id]")
    page.context.clear_cookies()  # the session ends before the answers are sent
    helpers.Wizard(page).submit.click()
    page.locator("#saved-here").wait_for()
    assert page.locator('#saved-here [data-when="problem"]').is_visible()
    ask = page.locator(f'#outbox li[data-id="{response_id}"][data-state="signin"]')
    ask.wait_for()
    assert page.get_attribute("#outbox", "data-t-signin") in ask.inner_text()
    assert [i["id"] for i in waiting_items(page)] == [response_id]

    with page.expect_navigation():
        ask.locator("a").click()
    assert "/login" in page.url
    page.fill("input[name=username]", "patient.a2")
    page.fill("input[name=password]", helpers.PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert re.search(r"/me$", page.url), page.url
    wait_js(page, ALL_SENT)
    stored = stored_with_id(page, helpers, pid, response_id)
    assert len(stored) == 1 and stored[0]["total"] == BI_TOTAL
