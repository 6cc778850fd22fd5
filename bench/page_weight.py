"""What a patient's phone downloads: bytes transferred for each patient page, measured in real Chromium.

Starts `epro demo` on a free port with a fresh instance folder (like tests/browser/conftest.py),
signs in as patient.a1 without loading a page, then for each page opens it in a fresh browser
context (empty HTTP cache, no service worker) and once more (the repeat visit). It counts every
byte that crossed the network (headers and compressed bodies, as Chromium reports them):

- "page": what the page itself fetched (HTML, CSS, JS, icons), not counting what the service
  worker answered from its cache;
- "worker": what the service worker fetched in the background (its script, the precached app
  shell, the offline page, the due questionnaires kept for offline use).

    .venv/bin/python bench/page_weight.py

The browser test tests/browser/test_pwa.py uses `measure()` from here for its weight budget.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "epro-demo-2026"
#: No new request for this long means the page and its service worker are done.
QUIET_S = 0.75


@dataclass
class Weight:
    page: int = 0
    worker: int = 0
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.page + self.worker


def sign_in(context, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real form with the context's cookie jar, without loading a page."""
    html = context.request.get("/login?lang=zh").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert token, "no csrf_token on /login"
    response = context.request.post("/login", form={"username": username, "password": password,
                                                    "csrf_token": token.group(1)})
    assert response.ok and "/login" not in response.url, f"sign-in as {username} failed"


def measure(context, url: str) -> Weight:
    """Open url in a page of this context and count the bytes transferred until all is quiet."""
    finished: list = []
    last = [time.monotonic()]

    def on_finished(request):
        finished.append(request)
        last[0] = time.monotonic()

    def on_request(_request):
        last[0] = time.monotonic()

    context.on("request", on_request)
    context.on("requestfinished", on_finished)
    page = context.new_page()
    try:
        page.goto(url, wait_until="load")
        page.evaluate("""() => 'serviceWorker' in navigator
            ? Promise.race([navigator.serviceWorker.ready, new Promise(r => setTimeout(r, 3000))]) : null""")
        while time.monotonic() - last[0] < QUIET_S:
            page.wait_for_timeout(100)
        weight = Weight()
        for request in finished:
            response = request.response()
            if response is None or response.from_service_worker:
                continue  # answered by the worker: its own network fetch (if any) is counted instead
            sizes = request.sizes()
            size = sizes["responseHeadersSize"] + max(sizes["responseBodySize"], 0)
            by_worker = request.service_worker is not None
            if by_worker:
                weight.worker += size
            else:
                weight.page += size
            weight.requests.append(("worker" if by_worker else "page", request.url, size))
        return weight
    finally:
        context.remove_listener("request", on_request)
        context.remove_listener("requestfinished", on_finished)
        page.close()


def patient_pages(context, base_url: str) -> dict[str, str]:
    me = context.request.get("/api/v1/me").json()
    pid = me["patients"][0]["id"]
    done = context.request.get(f"/api/v1/patients/{pid}/responses").json()["responses"][0]["id"]
    return {
        "home": f"{base_url}/me",
        "questionnaire (BI)": f"{base_url}/patients/{pid}/visits/M3/bi",
        "questionnaire (GDS-15)": f"{base_url}/patients/{pid}/visits/M3/gds15",
        "history": f"{base_url}/patients/{pid}/history",
        "confirmation": f"{base_url}/patients/{pid}/done/{done}",
    }


def new_context(browser, base_url: str, lang: str = "zh"):
    return browser.new_context(viewport={"width": 360, "height": 640}, base_url=base_url,
                               locale="zh-CN" if lang == "zh" else "en-US")


def run(browser, base_url: str, username: str = "patient.a1") -> dict[str, tuple[Weight, Weight]]:
    """{page name: (first visit, repeat visit)}; each first visit in a fresh context."""
    results = {}
    probe = new_context(browser, base_url)
    sign_in(probe, username)
    pages = patient_pages(probe, base_url)
    probe.close()
    for name, url in pages.items():
        context = new_context(browser, base_url)
        try:
            sign_in(context, username)
            first = measure(context, url)
            repeat = measure(context, url)
        finally:
            context.close()
        results[name] = (first, repeat)
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_demo(instance: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPRO_")}
    env.update(EPRO_INSTANCE_PATH=instance, PYTHONUNBUFFERED="1")
    epro = Path(sys.executable).with_name("epro")
    # The child keeps its own copy of the log descriptor; ours closes at once.
    with open(Path(instance) / "server.log", "wb") as log:
        proc = subprocess.Popen([str(epro), "demo", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=instance, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if json.loads(r.read()).get("status") == "ok":
                    return proc, url
        except OSError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"epro demo did not start; see {instance}/server.log")


def kb(n: int) -> str:
    return f"{n / 1024:6.1f}"


def main() -> None:
    from playwright.sync_api import sync_playwright

    instance = tempfile.mkdtemp(prefix="epro-weight-")
    proc, url = _serve_demo(instance)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            results = run(browser, url)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    print("KB transferred (headers + compressed bodies), patient.a1 in Chinese, 360 px Chromium")
    print(f"{'page':24} {'first: page':>12} {'+ worker':>9} {'= total':>8}   {'repeat: page':>12} {'+ worker':>9}")
    for name, (first, repeat) in results.items():
        print(f"{name:24} {kb(first.page):>12} {kb(first.worker):>9} {kb(first.total):>8}   "
              f"{kb(repeat.page):>12} {kb(repeat.worker):>9}")
    if "-v" in sys.argv:
        for name, (first, repeat) in results.items():
            for label, weight in (("first", first), ("repeat", repeat)):
                for who, req_url, size in weight.requests:
                    print(f"  {name} {label} {who:6} {size:7d} {req_url}")


if __name__ == "__main__":
    main()
