"""Reminders in the PWA, in real Chromium: "Remind me on this phone" → permission → a real browser
subscription → POST /api/v1/push-subscriptions → stored; the service worker shows a pushed reminder.

What is real and what is not (see tests/support/fake_gcm.py):
* real: Debian's Chromium and its own PushManager.subscribe (its key pair, auth secret and endpoint),
  the permission (granted through the Playwright context, only after the tap), the page's script, the
  API call with its CSRF header, the database row, and the service worker's push handler and
  showNotification;
* stood in for: Google's check-in and registration servers (Chromium is pointed at a local one with
  its own --gcm-* switches, since offline subscribe() never resolves), and the push delivery itself:
  the endpoint leads to Google, so the message is handed to the service worker with the DevTools
  protocol's ServiceWorker.deliverPushMessage (the same payload epro would push; the encryption of that
  payload is tested against a local push service in tests/test_reminders.py).
"""
from __future__ import annotations

import time
from datetime import date

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, no_horizontal_scroll
from sqlalchemy import create_engine, text
from support.fake_gcm import FakeGcm
from test_accessibility import MIN_TAP, assert_no_violations

from epro.services.reminders.channels import push_payload
from epro.services.reminders.messages import compose

COUNT_ASKS = """
window.__permissionAsks = 0;
if (window.Notification) {
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => { window.__permissionAsks += 1; return ask(...args); };
}
"""


@pytest.fixture
def phone(playwright_instance, live_server, tmp_path):
    """A persistent (not incognito: Chromium has no Push API there) profile, pointed at the local GCM."""
    with FakeGcm() as gcm:
        context = playwright_instance.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *gcm.switches],
            base_url=live_server.url, viewport={"width": 360, "height": 640}, locale="zh-CN")
        context.set_default_timeout(15_000)
        context.add_init_script(COUNT_ASKS)
        yield context, gcm
        context.close()


def sign_in(page, username: str) -> None:
    page.goto("/login?lang=zh")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url


def stored_subscriptions(live_server) -> list[dict]:
    engine = create_engine(live_server.db_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(
                "SELECT s.endpoint, s.p256dh, s.auth, u.username FROM push_subscriptions s "
                "JOIN users u ON u.id = s.user_id ORDER BY s.id"))]
    finally:
        engine.dispose()


def test_remind_me_subscribes_only_after_the_tap(phone, live_server):
    context, gcm = phone
    page = context.pages[0] if context.pages else context.new_page()
    sign_in(page, "patient.a1")
    page.goto("/me")
    page.click("[data-reminders-link]")
    page.wait_for_load_state("load")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    # Nothing asked on first load: no permission prompt, no push registration.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)")  # the app is all there
    assert page.evaluate("window.__permissionAsks") == 0 and gcm.registrations == []
    assert page.evaluate("Notification.permission") == "default"
    button = page.locator("[data-remind-me]")
    assert button.is_visible() and button.inner_text() == "在这部手机上提醒我"

    context.grant_permissions(["notifications"], origin=live_server.url)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/push-subscriptions")
                              and r.request.method == "POST") as answer:
        button.click()
    assert answer.value.status == 201
    page.locator("[data-push-status]").filter(has_text="这部手机的通知已开启").wait_for()
    assert page.evaluate("window.__permissionAsks") == 1

    # The browser's own subscription, made with epro's VAPID key, is what the server stored.
    browser_sub = page.evaluate("navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription())"
                                ".then(s => s.toJSON())")
    key = page.evaluate("fetch('/api/v1/push/public-key').then(r => r.json()).then(j => j.key)")
    assert any(r.get("sender") == [key] for r in gcm.registrations), "subscribed with another key"
    assert browser_sub["endpoint"].startswith("https://")
    (row,) = stored_subscriptions(live_server)
    assert row == {"endpoint": browser_sub["endpoint"], "p256dh": browser_sub["keys"]["p256dh"],
                   "auth": browser_sub["keys"]["auth"], "username": "patient.a1"}

    # The service worker shows a pushed reminder: epro's words, its link, Chinese, nothing clinical.
    message = compose(lang="zh", role="patient", kind="opened", visit="M3", months=3, window_end=date(2026, 12, 19),
                      link=f"{live_server.url}/patients/1/visits/M3/bi?lang=zh",
                      settings_link=f"{live_server.url}/reminders?lang=zh")
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    (registration,) = [r for r in registrations if r["scopeURL"] == live_server.url + "/" and not r["isDeleted"]][:1]
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url,
                                                  "registrationId": registration["registrationId"],
                                                  "data": push_payload(message)})
    # Polled from Python: page.evaluate awaits the promise, where wait_for_function may take the
    # pending promise itself as "truthy" and hand back its later null.
    shown: list[dict] = []
    deadline = time.monotonic() + 10
    while not shown and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        shown = page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => "
            "({title: n.title, body: n.body, lang: n.lang, tag: n.tag, url: n.data && n.data.url})))")
    (note,) = shown
    assert note == {"title": "epro 提醒", "body": message.body, "lang": "zh-Hans", "tag": "epro-reminder",
                    "url": message.link}
    assert "第3个月" in note["body"]

    # "No notifications on this phone": the server forgets it and the browser unsubscribes.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/push-subscriptions")
                              and r.request.method == "DELETE") as answer:
        page.click("[data-push-off]")
    assert answer.value.status == 204
    page.locator("[data-push-status]").filter(has_text="这部手机的通知已关闭").wait_for()
    assert stored_subscriptions(live_server) == []
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription())") is None


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("user", ["patient.a1", "caregiver.a1"])
def test_the_reminders_page_on_a_small_phone(page_for, lang, user):
    page = page_for(user, lang)
    page.goto(f"/reminders?lang={lang}")
    page.wait_for_load_state("load")
    no_horizontal_scroll(page)
    assert_no_violations(page, f"reminders ({user}, {lang})")
    for selector in ("label.choice", "main button"):
        heights = page.eval_on_selector_all(
            selector, "els => els.filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().height)")
        assert heights and min(heights) >= MIN_TAP, (selector, heights)
    # The plain form works: choose e-mail only and save.
    page.uncheck("input[name=push]")
    page.check("input[name=email]")
    with page.expect_navigation():
        page.click("[data-save-reminders]")
    assert page.is_checked("input[name=email]") and not page.is_checked("input[name=push]")
    assert page.locator("p.flash").inner_text() == ("您的选择已保存。" if lang == "zh" else "Your choice is saved.")
