"""Installable and light: the manifest and its icons, the service worker (control, update flow,
one person's pages at a time), the install hint, cache and compression headers, page weight."""
from __future__ import annotations

import gzip
import importlib.util
import json
import re
import struct
import sys
import urllib.request
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

ROOT = Path(__file__).resolve().parents[2]
#: The budget for the first load of a questionnaire (issue 3), minus a safety margin.
FIRST_LOAD_BUDGET = 100 * 1024
MARGIN = 0.8


def bench():
    """bench/page_weight.py: the test measures exactly as the benchmark does."""
    spec = importlib.util.spec_from_file_location("page_weight", ROOT / "bench" / "page_weight.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", body[16:24])


def fetch(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def page_cache_names(page) -> list[str]:
    return [k for k in page.evaluate("caches.keys()") if k.startswith("epro-pages-")]


def test_manifest_in_both_languages_with_real_icons(anon_page):
    page = anon_page("en")
    names = {}
    for lang in ("zh", "en"):
        page.goto(f"/login?lang={lang}")
        href = page.get_attribute('link[rel="manifest"]', "href")
        assert href == f"/manifest.webmanifest?lang={lang}"
        response = page.request.get(href)
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/manifest+json")
        manifest = json.loads(response.body())
        for member in ("name", "short_name", "start_url", "scope", "display", "background_color",
                       "theme_color", "icons"):
            assert manifest.get(member), f"manifest ({lang}) lacks {member}"
        assert manifest["display"] == "standalone" and manifest["scope"] == "/"
        assert manifest["start_url"].startswith("/")
        names[lang] = manifest["name"]
        sizes = set()
        for icon in manifest["icons"]:
            r = page.request.get(icon["src"])
            assert r.status == 200 and r.headers["content-type"] == "image/png", icon
            width, height = png_size(r.body())
            assert icon["sizes"] == f"{width}x{height}", icon
            sizes.add((icon["sizes"], icon.get("purpose", "any")))
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    assert re.search(r"[\u4e00-\u9fff]", names["zh"]) and "stroke" in names["en"], names


def test_the_service_worker_controls_the_app(page_for, live_server):
    page = page_for("patient.a1", "zh")
    scope = page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == live_server.url + "/"
    page.reload()
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL") == live_server.url + "/sw.js"

    status, headers, body = fetch(live_server.url + "/sw.js")
    assert status == 200 and "javascript" in headers["content-type"]
    assert headers["service-worker-allowed"] == "/" and headers["cache-control"] == "no-cache"
    version = re.search(rb'const VERSION = "([^"]+)"', body).group(1).decode()
    # The app shell is kept under this version: every script and the stylesheet of the page.
    shell = page.evaluate("""(name) => caches.open(name).then((c) => c.keys())
        .then((keys) => keys.map((r) => new URL(r.url).pathname + new URL(r.url).search))""", f"epro-shell-{version}")
    assets = page.eval_on_selector_all("script[src], link[rel=stylesheet]",
                                       "els => els.map((e) => e.getAttribute('src') || e.getAttribute('href'))")
    assert set(assets) <= set(shell), (assets, shell)
    assert {"/offline?lang=zh", "/offline?lang=en"} <= set(shell)


def test_one_person_pages_at_a_time_and_clinician_pages_are_never_kept(page_for, helpers, live_server):
    """On a shared phone: when somebody else signs in, the first person's pages are dropped,
    so offline nobody sees them; clinician pages are never kept (network first, then /offline)."""
    page = page_for("patient.a1", "zh")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.reload()
    assert len(page_cache_names(page)) == 1
    page.context.clear_cookies()  # a session that ended without signing out
    helpers.login(page, live_server.url, "clinician.a", "en")
    page.goto("/clinic/")
    assert page_cache_names(page) == []
    page.context.set_offline(True)
    try:
        page.goto("/me")  # patient.a1's start page, kept before: not any more
        assert page.locator("main h1").inner_text() == "No connection"
        assert "A-001" not in page.inner_text("main")
        page.goto("/clinic/")
        assert page.locator("main h1").inner_text() == "No connection"
    finally:
        page.context.set_offline(False)


def test_an_update_waits_until_no_questionnaire_is_open(page_for):
    page = page_for("patient.a1", "en")
    page.evaluate("() => navigator.serviceWorker.ready")
    page.reload()
    questionnaire = page.context.new_page()
    questionnaire.goto(page.get_attribute('a[data-instrument="bi"]', "href"))
    questionnaire.wait_for_selector("form#questionnaire")
    # A new worker (a new script URL is a new version for the browser) is installed and waits.
    page.evaluate("() => navigator.serviceWorker.register('/sw.js?next-release', { scope: '/' })")
    banner = page.locator("#update-banner")
    banner.wait_for()
    assert questionnaire.locator("#update-banner").is_hidden()  # never in the middle of one
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("() => navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)")

    page.click("#update-banner [data-reload]")  # a questionnaire is open in the other tab: not yet
    page.wait_for_function("(t) => document.querySelector('#update-banner [data-text]').textContent === t",
                           arg=banner.get_attribute("data-t-busy"))
    assert page.evaluate("() => navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)")

    questionnaire.close()
    with page.expect_navigation():
        page.click("#update-banner [data-reload]")
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL").endswith("/sw.js?next-release")


def test_install_hint(page_for):
    """Where the browser offers installation (beforeinstallprompt), patients get a hint; "not now" sticks."""
    page = page_for("patient.a1", "zh")
    hint = page.locator("#install-hint")
    assert hint.is_hidden()
    page.evaluate("() => window.dispatchEvent(new Event('beforeinstallprompt'))")
    assert hint.is_visible() and re.search(r"[\u4e00-\u9fff]", hint.inner_text())
    for button in hint.locator("button").all():
        assert button.bounding_box()["height"] >= 44
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    hint.locator("[data-dismiss]").click()
    assert hint.is_hidden()
    page.reload()
    page.evaluate("() => window.dispatchEvent(new Event('beforeinstallprompt'))")
    assert hint.is_hidden()


def test_long_lived_static_files_and_compressed_pages(anon_page, live_server):
    page = anon_page("en")
    page.goto("/login")
    for url in page.eval_on_selector_all("script[src], link[rel=stylesheet], link[rel=icon]",
                                         "els => els.map((e) => e.src || e.href)"):
        assert "?v=" in url, url
        status, headers, _ = fetch(url, **{"Accept-Encoding": "gzip"})
        assert status == 200
        max_age = int(re.search(r"max-age=(\d+)", headers["cache-control"]).group(1))
        assert max_age >= 365 * 24 * 3600 and "immutable" in headers["cache-control"], (url, headers)
    status, headers, body = fetch(live_server.url + "/login", **{"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") == "gzip" and b"<html" in gzip.decompress(body)
    status, headers, _ = fetch(live_server.url + "/login", **{"Accept-Encoding": "br"})
    assert headers.get("content-encoding") == "br"
    assert "Accept-Encoding" in headers.get("vary", "")


def test_first_load_of_a_questionnaire_is_light(browser, live_server):
    weight_of = bench()
    context = weight_of.new_context(browser, live_server.url)
    try:
        weight_of.sign_in(context, "patient.a1")
        pid = context.request.get("/api/v1/me").json()["patients"][0]["id"]
        url = f"{live_server.url}/patients/{pid}/visits/M3/gds15"
        first = weight_of.measure(context, url)
        report = "\n".join(f"{who} {size} {u}" for who, u, size in first.requests)
        assert first.total <= FIRST_LOAD_BUDGET * MARGIN, f"{first.total} bytes:\n{report}"
        assert any("/static/js/questionnaire.js" in u for _, u, _ in first.requests), report
        # The repeat visit takes the app shell from the service worker: only the page itself travels.
        repeat = weight_of.measure(context, url)
        assert not [u for _, u, _ in repeat.requests if "/static/" in u], repeat.requests
        assert repeat.total < 10 * 1024, repeat.requests
    finally:
        context.close()
