"""What the offline browser tests share (tests/browser/test_offline*.py): answers, the outbox as
the page sees it, waiting for the service worker, and the server's responses by id."""
from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

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
