"""The every-page sweep (tests/browser/test_every_page*.py): each role's pages on a 360 px phone:
no sideways scroll, axe finds nothing, and no patient touch target under 48 x 48 px (staff: 44).

The pages are those of tests/support/page_list.py (the same list test_i18n renders).  Text
size is the person's own setting (POST /account/display, as the header's menu sends it).
"""
from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe

from support.page_list import pages_for

_axe = Axe()
PATIENT_TAP = 48  # px: answer with the hand that works (issue 13)
STAFF_TAP = 44  # px: WCAG 2.5.5 (AAA) / platform guidelines, for ward tablets and phones
PATIENT_SIDE = ("patient.a1", "caregiver.a1")

#: Everything a finger is meant to hit, visible on the page.
TARGETS = """(min) => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, label.choice'))
  .filter(e => e.offsetParent !== null && !e.closest('.vh'))
  // A radio or checkbox inside its label: the label is what the finger hits.
  .filter(e => !(e.matches('input[type=radio], input[type=checkbox]') && e.closest('label')))
  .map(e => { const r = e.getBoundingClientRect();
              return {what: e.tagName.toLowerCase() + ' ' + (e.textContent || e.name || '').trim().slice(0, 30),
                      w: Math.round(r.width), h: Math.round(r.height)}; })
  .filter(t => t.w < min || t.h < min)"""


def set_text_size(page, size: int) -> None:
    html = page.content()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    answer = page.request.post("/account/display", form={"text_size": str(size), "contrast": "normal",
                                                         "csrf_token": token},
                               headers={"Accept": "application/json"})
    assert answer.ok, answer.text()[:300]


def check(page, path: str, username: str) -> list[str]:
    """The problems of one page (empty: none)."""
    page.goto(path)
    page.wait_for_load_state("load")
    problems = []
    width, view = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width > view:
        problems.append(f"{path}: scrolls sideways ({width} px > {view} px)")
    results = _axe.run(page)
    if results.violations_count:
        problems.append(f"{path}: axe: {results.generate_report()[:1500]}")
    small = page.evaluate(TARGETS, PATIENT_TAP if username in PATIENT_SIDE else STAFF_TAP)
    if small:
        problems.append(f"{path}: targets under the minimum: {small[:8]}")
    return problems


def sweep(page_for, helpers, lang: str, size: int) -> list[str]:
    """Every page of every role at *size* % text in *lang*; the problems found (empty: none)."""
    clinician = page_for("clinician.a", lang)
    ids = {"A-001": helpers.patient_id(clinician, "A-001")}
    problems = []
    for username, paths in pages_for(ids).items():
        page = page_for(username, lang)
        set_text_size(page, size)
        for path in paths:
            problems += check(page, path + ("&" if "?" in path else "?") + f"lang={lang}", username)
        set_text_size(page, 100)
    return problems
