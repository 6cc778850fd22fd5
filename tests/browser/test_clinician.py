"""Clinician entry of NIHSS, mRS and MMSE with a live total; the timeline; site isolation."""
import re
import uuid
from datetime import UTC, datetime

from playwright.sync_api import expect

NIHSS = {"nihss_1a": 1, "nihss_1b": 1, "nihss_1c": 0, "nihss_2": 1, "nihss_3": 2, "nihss_4": 1,
         "nihss_5a": "UN", "nihss_5b": 2, "nihss_6a": 3, "nihss_6b": 1, "nihss_7": 0, "nihss_8": 1,
         "nihss_9": 2, "nihss_10": 1, "nihss_11": 0}
MRS = {"MRS0101": 3}
MMSE = {"orientation_time": 4, "orientation_place": 5, "registration": 3, "attention_calculation": 2,
        "recall": 1, "naming": 2, "repetition": 1, "command_3stage": 3, "reading": 1, "writing": 0,
        "copying": 1}
BI = {"feeding": 10, "bathing": 0, "grooming": 5, "dressing": 5, "bowels": 10, "bladder": 10,
      "toilet_use": 5, "transfers": 10, "mobility": 10, "stairs": 5}
GDS = {f"GDS02{n:02d}": "NO" if n in (1, 5, 7, 11, 13) else "YES" for n in range(1, 16)}  # all depressive


def points(answers: dict) -> int:
    """Sum of the levels; NIHSS "UN" counts 0 (INSTRUMENTS.md)."""
    return sum(v for v in answers.values() if isinstance(v, int))


def submit_as_patient(page, helpers, pid: int, instrument: str, answers: dict) -> dict:
    body = {"id": str(uuid.uuid4()), "patient_id": pid, "visit": "M3", "instrument": instrument,
            "answers": answers, "respondent": "patient",
            "completed_at": datetime.now(UTC).isoformat(timespec="seconds")}
    response = helpers.api_post(page, "/api/v1/responses", body)
    assert response.status == 201, response.text()
    return response.json()


def enter(page, pid: int, instrument: str, answers: dict, *, max_total: int) -> None:
    """Open the entry form from the timeline, click each answer, watch the live total, save."""
    page.click(f'table#timeline tr#visit-M3 td[data-instrument="{instrument}"] a')
    assert page.url.endswith(f"/clinic/patients/{pid}/visits/M3/{instrument}")
    form = page.locator("form#assessment")
    live = page.locator("output#live-total")
    assert form.locator("input[type=radio]:checked").count() == 0
    assert form.locator("fieldset").count() == len(answers)
    assert str(max_total) in page.locator(".sticky-total").inner_text()
    running = 0
    for n, (key, value) in enumerate(answers.items(), start=1):
        form.locator(f'label.choice:has(input[name="{key}"][value="{value}"])').click()
        running += value if isinstance(value, int) else 0
        complete = n == len(answers)
        expect(live).to_have_text(str(running) if complete else re.compile(rf"^{running}\b.*…"))
    save = form.locator(".sticky-total button[type=submit]")
    with page.expect_navigation():
        save.click()
    assert page.url.split("#")[0].endswith(f"/clinic/patients/{pid}"), page.url
    flash = page.locator("p.flash.success").inner_text()
    assert str(running) in re.findall(r"\d+", flash), flash


def test_clinician_enters_scores_and_sees_the_m3_row(page_for, helpers):
    assert points(NIHSS) == 16
    patient = page_for("patient.a1", "zh")
    pid = helpers.patient_id(patient)
    submit_as_patient(patient, helpers, pid, "bi", BI)
    submit_as_patient(patient, helpers, pid, "gds15", GDS)

    page = page_for("clinician.a", "en", 1280, 900)
    assert helpers.patient_id(page, "A-001") == pid
    assert page.url.rstrip("/").endswith("/clinic") or "/clinic/" in page.url
    page.click('table#patient-list tr[data-subject="A-001"] a')
    assert page.url.endswith(f"/clinic/patients/{pid}")
    row = page.locator("table#timeline tr#visit-M3")
    for code in ("nihss", "mrs", "mmse"):
        assert row.locator(f'td[data-instrument="{code}"] a').count() == 1, f"no entry link for {code}"

    enter(page, pid, "nihss", NIHSS, max_total=42)
    enter(page, pid, "mrs", MRS, max_total=6)
    enter(page, pid, "mmse", MMSE, max_total=30)

    expected = {"bi": points(BI), "gds15": 15, "nihss": points(NIHSS), "mrs": points(MRS), "mmse": points(MMSE)}
    baseline = page.locator("table#timeline tr#visit-BL")
    row = page.locator("table#timeline tr#visit-M3")
    for code, total in expected.items():
        cell = row.locator(f'td[data-instrument="{code}"]')
        assert cell.locator(".total").inner_text().strip() == str(total), code
        base = int(baseline.locator(f'td[data-instrument="{code}"] .total').inner_text())
        change = cell.locator("[data-change]")
        assert change.count() == 1, f"no change from baseline for {code}"
        assert int(change.get_attribute("data-change")) == total - base, code
        assert f"{total - base:+d}" in change.inner_text()
    assert row.locator('td[data-instrument="nihss"] .badge.un').count() == 1
    assert row.locator(".badge.proxy").count() == 0

    stored = helpers.api_get(page, f"/api/v1/patients/{pid}/responses")["responses"]
    m3 = {r["instrument"]: r for r in stored if r["visit"] == "M3"}
    assert {code: m3[code]["total"] for code in expected} == expected
    assert "contains_un" in m3["nihss"]["flags"]
    assert all(m3[c]["respondent"] == "clinician" for c in ("nihss", "mrs", "mmse"))
    assert sum(1 for r in stored if r["visit"] == "M3") == 5
    nihss_answers = m3["nihss"]["answers"]
    assert nihss_answers["nihss_5a"] == "UN" and nihss_answers["nihss_6a"] == 3


def test_other_site_clinician_gets_not_found(page_for, helpers):
    pid = helpers.patient_id(page_for("clinician.a", "en", 1280, 900), "A-001")
    page = page_for("clinician.b", "en", 1280, 900)
    me = helpers.api_get(page, "/api/v1/me")
    assert me["patients"] and "A-001" not in {p["subject_code"] for p in me["patients"]}
    assert "A-001" not in page.locator("table#patient-list").inner_text()

    response = page.goto("/clinic/patients/999999")
    assert response.status == 404
    not_found = page.inner_text("main")
    assert page.locator("main h1").inner_text().strip()

    response = page.goto(f"/clinic/patients/{pid}")
    assert response.status == 404
    assert page.locator("table#timeline").count() == 0
    assert "A-001" not in page.inner_text("body")
    assert page.inner_text("main") == not_found, "a foreign patient must look like a missing one"

    api = page.request.get(f"/api/v1/patients/{pid}")
    assert api.status == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 404
    for path in (f"/api/v1/patients/{pid}/timeline", f"/api/v1/patients/{pid}/responses"):
        assert page.request.get(path).status == 404
    # A patient id that does not exist at all looks the same.
    assert page.request.get("/api/v1/patients/999999").status == 404
    assert page.goto(f"/clinic/patients/{pid}/visits/M3/nihss").status == 404
