"""The screens a nurse would look at, as PNG files, in both languages: rerun after any change.

    .venv/bin/python bench/screens.py [--out DIR]        # default: /tmp/epro-screens

Starts `epro demo` on a free port with a fresh instance folder (like bench/page_weight.py) and
drives Debian's Chromium at 360 x 640 CSS px (a cheap Android phone, device scale 2):

- patient (patient.a1 in Chinese, patient.a2 in English): home, the first BI question,
  the review of the answers, the confirmation;
- clinician (clinician.a): the site list (also on a 800 px ward tablet), a patient's timeline,
  the timeline as printed (print media, and a PDF of the printout).

For each screen it prints the file, the page's width against the viewport (a page wider than
360 px scrolls sideways) and its height.  Chinese needs a CJK font in the browser's system: without
one, Chinese text draws as empty boxes; the script says so (Debian: fonts-wqy-microhei).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from page_weight import CHROMIUM, _serve_demo, sign_in

BI = {"feeding": 10, "bathing": 5, "grooming": 0, "dressing": 5, "bowels": 10, "bladder": 5,
      "toilet_use": 10, "transfers": 15, "mobility": 10, "stairs": 5}
PATIENTS = {"zh": ("patient.a1", "A-001"), "en": ("patient.a2", "A-002")}
FORM = "form#questionnaire"


def has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


class Shots:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: list[tuple[str, int, int, int]] = []

    def take(self, page, name: str, *, full_page: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        path = self.out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        width, view, height = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth, document.documentElement.scrollHeight]")
        self.rows.append((path.name, width, view, height))


def new_page(browser, url: str, lang: str, width: int = 360, height: int = 640):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=2,
                                  locale="zh-CN" if lang == "zh" else "en-US", base_url=url)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def patient_screens(browser, url: str, lang: str, shots: Shots) -> None:
    username, subject = PATIENTS[lang]
    context, page = new_page(browser, url, lang)
    sign_in(context, username)
    page.goto(f"/?lang={lang}")
    shots.take(page, f"{lang}-1-patient-home")
    page.click('a[data-instrument="bi"][data-visit="M3"]')
    page.wait_for_selector(f"{FORM} fieldset.step:not([hidden])")
    shots.take(page, f"{lang}-2-question", full_page=False)
    for key, value in BI.items():
        page.click(f'{FORM} label.choice:has(input[name="{key}"][value="{value}"])')
        page.click(f"{FORM} > div.actions:not([data-submit-row]) > button.grow")
    page.wait_for_selector(f"{FORM} section[aria-labelledby=review-title]")
    shots.take(page, f"{lang}-3-review")
    with page.expect_navigation():
        page.click(f"{FORM} [data-submit-row] button[type=submit]")
    shots.take(page, f"{lang}-4-confirmation")
    context.close()


def clinician_screens(browser, url: str, lang: str, shots: Shots) -> None:
    context, page = new_page(browser, url, lang)
    sign_in(context, "clinician.a")
    page.goto(f"/clinic/?lang={lang}")
    shots.take(page, f"{lang}-5-site-list")
    link = page.locator('a[href*="/clinic/patients/"]').first
    timeline = link.get_attribute("href")
    page.goto(f"{timeline}?lang={lang}")
    shots.take(page, f"{lang}-6-timeline")
    page.emulate_media(media="print")
    shots.take(page, f"{lang}-7-timeline-print")
    page.pdf(path=str(shots.out / f"{lang}-7-timeline-print.pdf"), format="A4", print_background=True)
    context.close()
    context, page = new_page(browser, url, lang, width=800, height=1280)
    sign_in(context, "clinician.a")
    page.goto(f"/clinic/?lang={lang}")
    shots.take(page, f"{lang}-8-site-list-tablet")
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/epro-screens")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not has_cjk_font():
        print("note: no Chinese font in this system (fc-list :lang=zh is empty): Chinese text will draw as "
              "boxes. On Debian: apt-get install fonts-wqy-microhei")
    instance = tempfile.mkdtemp(prefix="epro-screens-")
    proc, url = _serve_demo(instance)
    shots = Shots(out)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for lang in ("zh", "en"):
                patient_screens(browser, url, lang, shots)
                clinician_screens(browser, url, lang, shots)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(instance, ignore_errors=True)
    print(f"\nScreens in {out}\n")
    print("| screen | page width / viewport, CSS px | height |")
    print("|---|---|---|")
    for name, width, view, height in shots.rows:
        flag = "" if width <= view else "  ✗ scrolls sideways"
        print(f"| {name} | {width} / {view}{flag} | {height} |")


if __name__ == "__main__":
    main()
