"""Offline first: answers given without a signal are kept on the phone (IndexedDB outbox) and
stored exactly once when the connection returns, whatever happens on the way.

Each test reads the server's responses by id, so the tests do not depend on each other's order
(a patient may answer a questionnaire again; that is a new response with a new id)."""
from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

BI = {"feeding": 5, "bathing": 0, "grooming": 5, "dressing": 10, "bowels": 5, "bladder": 10,
      "toilet_use": 5, "transfers": 10, "mobility": 5, "stairs": 0}
BI_TOTAL = 55  # plain sum of the chosen levels (INSTRUMENTS.md)
GDS = {f"GDS02{n:02d}": v for n, v in enumerate(
    ["NO", "YES", "YES", "NO", "YES", "NO", "YES", "NO", "NO", "NO", "YES", "NO", "YES", "NO", "NO"], start=1)}

_axe = Axe()
ALL_SENT = "() => !!window.eproOutbox && window.eproOutbox.waiting().then((w) => w.length === 0)"
NO_BACKGROUND_SYNC = "Object.defineProperty(ServiceWorkerRegistration.prototype, 'sync', { get: () => undefined });"


def assert_no_violations(page, what: str) -> None:
    results = _axe.run(page)
    assert results.violations_count == 0, f"axe on {what}:\n{results.generate_report()}"


def wait_js(page, expression: str, arg=None, timeout_s: float = 10) -> None:
    """Poll a JavaScript expression that may return a promise until it is truthy
    (wait_for_function does not wait for promises)."""
    wait_until(page, lambda: page.evaluate(expression, arg), timeout_s)


def wait_for_offline_copies(page, paths: list[str]) -> None:
    """The service worker keeps these pages of the signed-in person (home, due questionnaires)."""
    wait_js(page, """async (paths) => {
        const name = (await caches.keys()).find((k) => k.startsWith("epro-pages-"));
        if (!name) return false;
        const kept = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
        return paths.every((p) => kept.includes(p));
    }""", paths)


def queue(page) -> list[dict]:
    """Everything in the outbox on this phone."""
    return page.evaluate("() => window.eproOutbox.all()")


def waiting_items(page) -> list[dict]:
    return [i for i in queue(page) if i["state"] != "sent"]


def answer(page, helpers, answers: dict) -> None:
    wizard = helpers.Wizard(page)
    for key, value in answers.items():
        assert wizard.current_key() == key
        wizard.choose(key, value)
        wizard.next.click()
    assert wizard.review.is_visible()


def answer_and_send(page, helpers, instrument: str, answers: dict, pid: int | None = None) -> str:
    """Open the questionnaire (from the home page's link, or by its address), answer it, press
    send; returns its response id."""
    if pid is None:
        page.click(f'a[data-instrument="{instrument}"][data-visit="M3"]')
    else:
        page.goto(f"/patients/{pid}/visits/M3/{instrument}")
    page.wait_for_selector("form#questionnaire")
    answer(page, helpers, answers)
    response_id = page.input_value("input[name=response_id]")
    helpers.Wizard(page).submit.click()
    return response_id


def stored_with_id(page, helpers, pid: int, response_id: str) -> list[dict]:
    data = helpers.api_get(page, f"/api/v1/patients/{pid}/responses")
    return [r for r in data["responses"] if r["id"] == response_id]


def wait_until(page, condition, timeout_s: float = 10) -> None:
    """Let the browser run (route handlers, dialogs) until condition() holds."""
    for _ in range(int(timeout_s * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("timed out waiting")


def go_offline_ready(page, pid: int) -> None:
    wait_for_offline_copies(page, ["/me", f"/patients/{pid}/visits/M3/bi", f"/patients/{pid}/visits/M3/gds15"])
    page.context.set_offline(True)
    page.reload()
    assert page.locator('a[data-instrument="bi"][data-visit="M3"]').count() == 1, "home page not kept offline"


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
