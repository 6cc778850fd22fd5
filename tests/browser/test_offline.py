"""Offline first: answers given without a signal are kept on the phone (IndexedDB outbox) and
stored exactly once when the connection returns, whatever happens on the way.

Each test reads the server's responses by id, so the tests do not depend on each other's order
(a patient may answer a questionnaire again; that is a new response with a new id). Every test of a module
shares its server, and a questionnaire answered once opens read-only: each test answers a questionnaire no
other test of its module has (more in test_offline_resend.py)."""
from __future__ import annotations

import re

from support.offline import (
    ALL_SENT,
    BI,
    BI_TOTAL,
    GDS,
    NO_BACKGROUND_SYNC,
    answer_and_send,
    kept_and_sent_once,
    stored_with_id,
    wait_js,
    wait_until,
    waiting_items,
)


def test_offline_answers_are_kept_and_sent_once(page_for, helpers):
    kept_and_sent_once(page_for, helpers, "zh")  # in English: test_offline_english.py (a server of its own)


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
