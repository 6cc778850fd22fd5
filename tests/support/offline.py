"""What the offline browser tests share (tests/browser/test_offline*.py): answers, the outbox as
the page sees it, waiting for the service worker, and the server's responses by id."""
from __future__ import annotations

import re
from datetime import datetime

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


CJK = re.compile(r"[\u4e00-\u9fff]")


def in_language(text: str, lang: str) -> None:
    """Chinese text has Chinese characters; English text has none."""
    assert text.strip(), "no text"
    assert bool(CJK.search(text)) == (lang == "zh"), f"not in {lang}: {text!r}"


def kept_and_sent_once(page_for, helpers, lang: str) -> None:
    """patient.a1 answers the BI and the GDS-15 with no signal, in ``lang``; both are shown as waiting,
    survive a reload, and are stored once each when the signal returns."""
    page = page_for("patient.a1", lang)
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
    in_language(page.locator("#saved-here").inner_text(), lang)
    in_language(t("waiting"), lang)
    assert_no_violations(page, f"questionnaire saved on the phone ({lang})")

    with page.expect_navigation():
        saved.locator("a.button").click()
    # The home page (a copy kept offline) marks what is already saved on the phone.
    expect(page.locator('a[data-instrument="bi"] .badge.queued')).to_have_text(t("queued"))
    in_language(t("queued"), lang)
    in_language(page.locator("#outbox").inner_text(), lang)
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
    assert_no_violations(page, f"home with answers saved on the phone ({lang})")

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
