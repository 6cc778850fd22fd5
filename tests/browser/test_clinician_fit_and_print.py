"""Clinician pages on a 360-px phone, in both languages: no sideways scroll, every tap target 44 × 44 px,
axe clean; printouts say whose record, when (with the time zone), who printed and which page; the
record page reads its audit trail in words; a wrong signing password is post–redirect–get."""
from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pytest
from axe_playwright_python.sync_playwright import Axe
from pypdf import PdfReader

MIN_TAP = 44
_axe = Axe()

#: Links a crawl does not follow: they sign out, download, or change something by GET.
SKIP = re.compile(r"(\.csv$|/logout|/download|\.zip$|/static/|/api/|[?&]lang=|/export)")
#: Prefixes of the staff side the crawl stays on.
STAFF = ("/clinic", "/queries", "/worklists", "/admin", "/data", "/account")

# Every visible control a person taps: links, buttons, drop-downs, summaries, and the labels of choices.
TAP_TARGETS = """() => {
  const out = [];
  const seen = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !e.closest('.vh, .skip, [hidden]'); };
  for (const e of document.querySelectorAll('a[href], button, select, summary, label.choice')) {
    if (!seen(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.width < 43.5 || r.height < 43.5)
      out.push(`${e.tagName.toLowerCase()} "${(e.innerText || e.getAttribute('aria-label') || '').trim().slice(0, 40)}"`
               + ` ${Math.round(r.width)}×${Math.round(r.height)}`);
  }
  return out;
}"""


def assert_no_violations(page, what: str) -> None:
    results = _axe.run(page)
    assert results.violations_count == 0, (
        f"axe: {results.violations_count} violation(s) on {what} ({page.url}):\n{results.generate_report()}")


def check_fits(page, what: str) -> None:
    page.wait_for_load_state("load")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"{what} ({page.url}) scrolls sideways: scrollWidth {width} > 360"
    small = page.evaluate(TAP_TARGETS)
    assert not small, f"{what} ({page.url}): tap targets under {MIN_TAP} px: {small[:8]}"


def crawl(page, starts: list[str], limit: int) -> list[str]:
    """Visit staff pages reachable from ``starts`` (same site, GET only), checking each; the paths seen."""
    queue, seen = list(starts), []
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        response = page.goto(path)
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"
        seen.append(path)
        if response.status >= 400:
            continue
        check_fits(page, path)
        hrefs = page.eval_on_selector_all("main a[href], .topbar nav a[href]", "as => as.map(a => a.href)")
        for href in hrefs:
            url = urlparse(href)
            target = url.path + (f"?{url.query}" if url.query else "")
            if url.netloc and url.netloc != urlparse(page.url).netloc:
                continue
            if url.path.startswith(STAFF) and not SKIP.search(target) and target not in seen and target not in queue:
                # One of each kind of page is enough: a second patient's timeline adds time, not checks.
                kind = re.sub(r"\d+", "N", url.path)
                if any(re.sub(r"\d+", "N", urlparse(s).path) == kind for s in seen + queue):
                    continue
                queue.append(target)
    return seen


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("username,starts,limit", [
    ("clinician.a", ["/clinic/"], 45),
    ("datamanager", ["/clinic/", "/queries/", "/data/"], 25),
    ("admin", ["/admin/users", "/admin/sites", "/admin/studies", "/clinic/admin"], 15),
    ("statistician", ["/data/"], 5),
])
def test_every_staff_page_fits_360_px_with_big_targets(page_for, username, starts, limit, lang):
    page = page_for(username, lang, 360, 640)
    seen = crawl(page, starts, limit)
    assert len(seen) >= (20 if username == "clinician.a" else len(starts)), seen


def _record_url(page, helpers) -> tuple[int, str]:
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}")
    href = page.locator("table#timeline td[data-instrument] a[href*='/clinic/responses/']").first.get_attribute("href")
    return pid, href


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_axe_on_the_main_clinician_pages_at_360_px(page_for, helpers, lang):
    page = page_for("clinician.a", lang, 360, 640)
    assert page.locator("table#patient-list tr[data-subject]").count() >= 1
    assert_no_violations(page, f"site list at 360 px ({lang})")
    # The site list is a stack of cards on the phone: each row is as wide as the page, none wider.
    row = page.locator("table#patient-list tr[data-subject]").first.bounding_box()
    assert row["width"] <= 360
    pid, record = _record_url(page, helpers)
    assert_no_violations(page, f"timeline at 360 px ({lang})")
    page.goto(record)
    assert_no_violations(page, f"record at 360 px ({lang})")
    for path, what in (("/clinic/trial/reports", "safety"), ("/clinic/trial/screenings", "screening log")):
        page.goto(path)
        check_fits(page, what)
        assert_no_violations(page, f"{what} at 360 px ({lang})")
    # The SAE deadline label is wholly inside the page.
    page.goto("/clinic/trial/reports")
    for label in page.locator("[data-sae-clock]").all():
        box = label.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box


@pytest.mark.parametrize("lang,zone_word", [("en", "China Standard Time"), ("zh", "中国标准时间")])
def test_timeline_prints_with_subject_time_zone_printer_and_page_numbers(page_for, helpers, lang, zone_word):
    page = page_for("clinician.a", lang, 1280, 900)
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}")
    button = page.locator("button[data-print]")
    assert button.is_visible(), "no print button on the timeline"
    meta = page.locator("[data-print-meta]")
    assert not meta.is_visible(), "the print line shows on screen"
    page.emulate_media(media="print")
    assert meta.is_visible()
    text = meta.inner_text()
    assert "A-001" in text and zone_word in text and re.search(r"\d{1,2}:\d{2}", text), text
    assert "clinician.a" in text, text
    assert not button.is_visible() and not page.locator(".topbar").is_visible()
    # Page numbers: a margin box of the page's language counts pages (Chromium draws @page margin boxes).
    counters = page.evaluate("""() => { const out = [];
      for (const sheet of document.styleSheets) for (const rule of sheet.cssRules)
        if (rule instanceof CSSPageRule) for (const m of rule.cssRules || [])
          out.push(rule.selectorText + ' ' + m.name + ' ' + m.style.content);
      return out; }""")
    name = "print-en" if lang == "en" else "print-zh"
    assert any(c.startswith(name) and "counter(pages)" in c for c in counters), counters
    assert page.evaluate("() => getComputedStyle(document.body).page") == name
    # The printout itself, read back: every sheet says which page of how many, in the page's language,
    # and the first carries the subject, the time with its zone and who printed.
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    sheets = [" ".join((p.extract_text() or "").split()) for p in pdf.pages]
    total = len(sheets)
    for number, sheet in enumerate(sheets, start=1):
        wanted = f"Page {number} of {total}" if lang == "en" else f"第 {number} 页，共 {total} 页"
        assert wanted.replace(" ", "") in sheet.replace(" ", ""), (number, sheet[-200:])
    first = sheets[0].replace(" ", "")
    assert "A-001" in first and zone_word.replace(" ", "") in first and "clinician.a" in first, sheets[0][:300]


def test_activation_card_prints_with_its_line(page_for, helpers):
    page = page_for("clinician.a", "en", 1280, 900)
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}/codes")
    with page.expect_navigation():
        page.click("button[name=role][value=caregiver]")
    assert page.locator("button[data-print]").is_visible()
    page.emulate_media(media="print")
    meta = page.locator(".issued [data-print-meta]")
    assert meta.is_visible() and page.locator(".activation-card").is_visible()
    assert "A-001" in meta.inner_text() and "China Standard Time" in meta.inner_text()
    assert page.pdf(width="105mm", height="148mm").startswith(b"%PDF")


@pytest.mark.parametrize("lang,created", [("en", "created"), ("zh", "创建")])
def test_record_page_reads_its_audit_trail_in_words(page_for, helpers, lang, created):
    page = page_for("clinician.a", lang, 360, 640)
    _pid, record = _record_url(page, helpers)
    page.goto(record)
    table = page.locator("table[data-audit-trail]")
    text = table.inner_text()
    assert "{" not in text and "}" not in text and '":' not in text, text[:500]
    first = table.locator("tbody tr").first
    assert first.get_attribute("data-action") == "create"
    assert created in first.locator("[data-what]").inner_text()
    assert first.locator("[data-what]").inner_text() != "create"
    zone = "China Standard Time" if lang == "en" else "中国标准时间"
    assert zone in first.locator("th").inner_text()


def test_wrong_signing_password_is_post_redirect_get(page_for, helpers):
    page = page_for("clinician.a", "en", 360, 640)
    pid = helpers.patient_id(page, "A-001")
    page.goto(f"/clinic/patients/{pid}")
    links = page.eval_on_selector_all("table#timeline td[data-instrument] a[href*='/clinic/responses/']",
                                      "as => as.map(a => a.getAttribute('href'))")
    record = None
    for href in links:
        page.goto(href)
        if page.locator("form[action$='/sign']").count():
            record = href
            break
    assert record, "no record of A-001 offers the signing form"
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.locator("form[action$='/sign'] label.choice").first.click()
    page.fill("#sign-password", "not-my-password")
    with page.expect_navigation():
        page.click("form[action$='/sign'] button[type=submit]")
    assert page.url.endswith(record), page.url  # back on the record's own address, not /sign
    assert page.locator("#record-error").is_visible()
    assert "password" in page.locator("#record-error").inner_text().lower()
    assert page.locator("form[action$='/sign'] input[name=meaning]:checked").count() == 1  # kept
    assert page.input_value("#sign-password") == ""  # never the password
    before = len(posts)
    page.reload()
    assert len(posts) == before, "a reload posted again"
    assert page.locator("#record-error").count() == 0  # the message was shown once
