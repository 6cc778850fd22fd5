"""Real-browser tests: a live `epro demo` server and headless Debian Chromium.

Each test module gets its own server with a fresh demo database (module
scope), so a module may submit questionnaires without disturbing another;
the server is the one every live test uses (tests/support/live_server.py).
Playwright's own browser download is not used: the tests drive the system
Chromium at /usr/bin/chromium and fail (never skip) when it is missing.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.live_server import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
PASSWORD = "epro-demo-2026"
LOCALES = {"zh": "zh-CN", "en": "en-US"}
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """`epro demo` (tests/support/live_server.py) with its own instance folder, port and SQLite file."""
    server = Server(tmp_path_factory.mktemp("instance")).start("demo", workers=2)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install chromium); the browser tests must run.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


def login(page, base_url: str, username: str, lang: str) -> None:
    """Sign in through the real form, then choose the language (saved on the account)."""
    page.goto(f"{base_url}/login?lang={lang}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"login as {username} failed: {page.inner_text('main')[:300]}"
    page.goto(f"{base_url}/?lang={lang}")
    expected = "zh-Hans" if lang == "zh" else "en"
    assert page.get_attribute("html", "lang") == expected


@pytest.fixture
def page_for(browser, live_server):
    """page_for(username, lang="zh", width=360, height=640, js=True) -> a signed-in page."""
    contexts = []

    def make(username: str, lang: str = "zh", width: int = 360, height: int = 640, js: bool = True):
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=LOCALES[lang],
            java_script_enabled=js, base_url=live_server.url,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        login(page, live_server.url, username, lang)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def anon_page(browser, live_server):
    """anon_page(lang="zh", width=360, height=640) -> a page that is not signed in."""
    contexts = []

    def make(lang: str = "zh", width: int = 360, height: int = 640):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=LOCALES[lang],
                                      base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# ---- helpers shared by the test modules -------------------------------------------------------

def api_get(page, path: str) -> dict:
    """GET a JSON API path with the page's session cookie; asserts 200."""
    response = page.request.get(path)
    assert response.status == 200, f"GET {path} -> {response.status}: {response.text()[:500]}"
    return response.json()


def api_post(page, path: str, body: dict):
    """POST JSON with the page's cookie and the CSRF token from its meta tag."""
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    return page.request.post(path, data=json.dumps(body),
                             headers={"Content-Type": "application/json", "X-CSRFToken": token})


def patient_id(page, subject_code: str = "A-001") -> int:
    me = api_get(page, "/api/v1/me")
    ids = [p["id"] for p in me["patients"] if p["subject_code"] == subject_code]
    assert ids, f"{me['username']} cannot see {subject_code}: {me}"
    return ids[0]


def responses_of(page, pid: int, visit: str, instrument: str) -> list[dict]:
    data = api_get(page, f"/api/v1/patients/{pid}/responses")
    return [r for r in data["responses"] if r["visit"] == visit and r["instrument"] == instrument]


def no_horizontal_scroll(page) -> None:
    # A click that navigates returns once the new page commits, before its document (and CSS) is
    # there; on a busy machine the measurement then found no <html> yet.  Measure the loaded page.
    page.wait_for_load_state("load")
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth, location.pathname]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll on {widths[2]}: scrollWidth {widths[0]} > {widths[1]}"


# Scoring rules from INSTRUMENTS.md, written out here independently of epro.core.instruments.

GDS_REVERSED = {1, 5, 7, 11, 13}  # "NO" scores 1 on these, "YES" on the others


def gds15_total(answers: dict[str, str]) -> int:
    total = 0
    for n in range(1, 16):
        value = answers[f"GDS02{n:02d}"]
        total += (value == "NO") if n in GDS_REVERSED else (value == "YES")
    return int(total)


def numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


class Wizard:
    """The questionnaire as questionnaire.js shows it: one step per screen, then a review."""

    FORM = "form#questionnaire"

    def __init__(self, page):
        self.page = page
        self.form = page.locator(self.FORM)
        nav = page.locator(f"{self.FORM} > div.actions:not([data-submit-row])")
        self.next = nav.locator("> button.grow")
        self.back = nav.locator("> button.secondary")
        self.message = page.locator(f"{self.FORM} > p.error[role=alert]")
        self.review = page.locator(f"{self.FORM} section[aria-labelledby=review-title]")
        self.submit = page.locator(f"{self.FORM} [data-submit-row] button[type=submit]")

    def text(self, name: str) -> str:
        """A translated UI string the page hands to questionnaire.js (data-t-*)."""
        return self.form.get_attribute(f"data-t-{name}")

    def step_keys(self) -> list[str]:
        return self.page.eval_on_selector_all(f"{self.FORM} fieldset.step", "fs => fs.map(f => f.dataset.key)")

    @property
    def step(self):
        return self.page.locator(f"{self.FORM} fieldset.step:not([hidden])")

    def current_key(self) -> str:
        assert self.step.count() == 1, f"{self.step.count()} steps visible"
        return self.step.get_attribute("data-key")

    def progress(self) -> str:
        return self.step.locator("legend .progress").inner_text()

    def choice(self, key: str, value):
        return self.page.locator(f'{self.FORM} label.choice:has(input[name="{key}"][value="{value}"])')

    def choose(self, key: str, value) -> str:
        """Tap the answer's label (as a finger would); returns the answer's text."""
        label = self.choice(key, value)
        label.click()
        assert label.locator("input").is_checked()
        return label.inner_text().strip()

    def checked(self, key: str):
        return self.page.eval_on_selector_all(
            f'{self.FORM} input[name="{key}"]:checked', "els => els.length ? els[0].value : null")

    def review_items(self) -> list[str]:
        return self.review.locator("ul.review-list > li").all_inner_texts()

    def change(self, number: int) -> None:
        self.review.locator(f'button[aria-label$=": {number}"]').click()


@pytest.fixture(scope="session")
def helpers():
    """The helpers above, for test modules (conftest.py is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        api_get=api_get, api_post=api_post, patient_id=patient_id, responses_of=responses_of,
        no_horizontal_scroll=no_horizontal_scroll, gds15_total=gds15_total, numbers=numbers,
        login=login, PASSWORD=PASSWORD, Wizard=Wizard,
    )
