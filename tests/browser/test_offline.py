"""Offline first: answers given without a signal are kept on the phone (IndexedDB outbox) and
stored exactly once when the connection returns, whatever happens on the way.

Each test reads the server's responses by id, so the tests do not depend on each other's order
(a patient may answer a questionnaire again; that is a new response with a new id). Every test of a module
shares its server, and a questionnaire answered once opens read-only: each test answers a questionnaire no
other test of its module has (more in test_offline_resend.py)."""
from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import expect
from support.offline import (
    ALL_SENT,
    BI,
    BI_TOTAL,
    GDS,
    NO_BACKGROUND_SYNC,
    answer_and_send,
    assert_no_violations,
    go_offline_ready,
    stored_with_id,
    wait_js,
    wait_until,
    waiting_items,
)


def test_offline_answers_are_kept_and_sent_once(page_for, helpers):
    page = page_for("patient.a1", "zh")
    pid = helpers.patient_id(page)
    t = lambda key: page.get_attribute("#outbox", f"data-t-{key}")  # noqa: E731
    go_offline_ready(page, pid)

    bi_id = answer_and_send(page, helpers, "bi", BI)
    saved = page.locator("#saved-here")
    saved.wait_for()
    assert saved.locator('[data-when="pending"]').is_visible()
    assert page.locator("form#questionnaire").is_hidden()
    expect(page.locator(f'#outbox li[data-id="{bi_id}"][data-state="pending"]')).to_be_visible()
    expect(page.locator("#outbox [role=status]")).to_have_text(t("waiting"))
    assert_no_violations(page, "questionnaire saved on the phone (zh)")

    with page.expect_navigation():
        saved.locator("a.button").click()
    # The home page (a copy kept offline) marks what is already saved on the phone.
    expect(page.locator('a[data-instrument="bi"] .badge.queued')).to_have_text(t("queued"))
    gds_id = answer_and_send(page, helpers, "gds15", GDS)
    page.locator("#saved-here").wait_for()
    assert gds_id != bi_id

    # A reload (or closing the app) changes nothing: both are still on the phone and shown.
    page.reload()
    items = {i["id"]: i for i in waiting_items(page)}
    assert set(items) == {bi_id, gds_id}
    assert all(i["state"] == "pending" for i in items.values())
    expect(page.locator("#outbox li")).to_have_count(2)
    expect(page.locator("#outbox .outbox-box")).to_be_visible()
    expect(page.locator("#outbox [role=status]")).to_have_text(t("waiting"))
    assert_no_violations(page, "home with answers saved on the phone (zh)")

    # The connection returns: both are sent by themselves, once.
    page.context.set_offline(False)
    expect(page.locator("#outbox li")).to_have_count(0)
    expect(page.locator("#outbox [role=status]")).to_have_text(t("sent"))
    assert waiting_items(page) == []

    for response_id, instrument, total in ((bi_id, "bi", BI_TOTAL), (gds_id, "gds15", helpers.gds15_total(GDS))):
        stored = stored_with_id(page, helpers, pid, response_id)
        assert len(stored) == 1, stored
        assert stored[0]["instrument"] == instrument and stored[0]["visit"] == "M3"
        assert stored[0]["total"] == total
        # The device's time of pressing send is kept; the server's receipt time is later.
        completed = datetime.fromisoformat(stored[0]["completed_at"].replace("Z", "+00:00"))
        device = datetime.fromisoformat(items[response_id]["completed_at"].replace("Z", "+00:00"))
        assert abs((completed - device).total_seconds()) < 1
        assert datetime.fromisoformat(stored[0]["received_at"].replace("Z", "+00:00")) >= completed

    # Nothing unsent: signing out asks nothing and clears this person's pages from the phone.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with page.expect_navigation():
        page.click("form[data-logout] button")
    assert "/login" in page.url and dialogs == []
    assert not [k for k in page.evaluate("caches.keys()") if k.startswith("epro-pages-")]


def test_an_interrupted_send_is_stored_once(page_for, helpers):
    """The server is unreachable, then stores the answers but the reply is lost, then the page is
    reloaded: the resend is acknowledged with 200 and nothing is stored twice."""
    page = page_for("patient.a2", "en")
    pid = helpers.patient_id(page, "A-002")
    attempts: list[str] = []

    def flaky(route):
        if not attempts:
            attempts.append("unreachable")
            route.abort("connectionrefused")
        elif len(attempts) == 1:
            response = route.fetch()  # the server stores it ...
            attempts.append(f"stored {response.status}, reply lost")
            route.abort("connectionreset")  # ... but the phone never hears back
        else:
            response = route.fetch()
            attempts.append(str(response.status))
            route.fulfill(response=response)

    # Background Sync would add tries of its own at moments the browser picks; not here.
    page.context.add_init_script(NO_BACKGROUND_SYNC)
    page.context.route("**/api/v1/responses", flaky)
    response_id = answer_and_send(page, helpers, "bi", BI, pid)
    page.locator("#saved-here").wait_for()  # not acknowledged: kept on the phone
    assert attempts == ["unreachable"]
    assert [i["id"] for i in waiting_items(page)] == [response_id]

    page.click("#outbox [data-send-now]")
    wait_until(page, lambda: len(attempts) == 2)
    page.wait_for_timeout(300)
    assert attempts == ["unreachable", "stored 201, reply lost"]
    assert [i["id"] for i in waiting_items(page)] == [response_id]  # no reply, so it stays
    assert len(stored_with_id(page, helpers, pid, response_id)) == 1

    page.reload()  # opening the app again sends what waits
    wait_js(page, ALL_SENT)
    assert attempts[2:] == ["200"], attempts  # a replay, acknowledged
    stored = stored_with_id(page, helpers, pid, response_id)
    assert len(stored) == 1 and stored[0]["total"] == BI_TOTAL
    page.context.unroute_all(behavior="ignoreErrors")


def test_background_sync_sends_after_the_app_is_left(page_for, helpers):
    """The service worker sends the queue on a Background Sync event, with no page of the app open."""
    page = page_for("patient.a2", "en")
    pid = helpers.patient_id(page, "A-002")
    refused: list[str] = []

    def unreachable(route):
        refused.append(route.request.url)
        route.abort("internetdisconnected")

    page.context.route("**/api/v1/responses", unreachable)
    response_id = answer_and_send(page, helpers, "gds15", GDS, pid)
    page.locator("#saved-here").wait_for()
    # The page's try and the worker's first Background Sync both failed; the sync waits for a retry.
    wait_until(page, lambda: len(refused) >= 2)
    assert page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.sync.getTags())") == ["epro-outbox"]
    origin = re.match(r"https?://[^/]+", page.url).group(0)
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(
        r for r in e["registrations"] if r["scopeURL"] == origin + "/" and not r["isDeleted"]))
    cdp.send("ServiceWorker.enable")
    wait_until(page, lambda: registrations)
    page.goto("about:blank")  # the app is left: no page can send
    page.context.unroute_all(behavior="wait")  # the connection is back
    assert stored_with_id(page, helpers, pid, response_id) == []
    cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": origin, "registrationId": registrations[0]["registrationId"],
                                                  "tag": "epro-outbox", "lastChance": False})
    wait_until(page, lambda: stored_with_id(page, helpers, pid, response_id), timeout_s=15)
    stored = stored_with_id(page, helpers, pid, response_id)
    assert len(stored) == 1 and stored[0]["total"] == helpers.gds15_total(GDS)
