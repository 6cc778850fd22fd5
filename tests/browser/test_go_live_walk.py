"""Issue 9's "done when", walked in a real browser, in Chinese and then in English.

From an empty database and only what the README says (``epro db upgrade``,
``epro create-admin``, ``epro serve``): the administrator signs in (and must set
up a second factor), creates a site and a study, invites a clinician and an
investigator; each activates on their own device (the investigator, unblinded,
must set up a second factor too); the investigator generates the concealed
allocation list; the clinician screens, randomizes and enrols a patient and
issues patient and caregiver codes; both activate on 360-px phones and find their
home in the patient's language.  The production server runs with two workers and
the production defaults (second factor required, database rate-limit storage).
"""
from __future__ import annotations

import re
import secrets
import subprocess
import time
from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import create_engine, text
from support.live_server import Server, epro_command, server_env
from test_accessibility import assert_no_violations

ADMIN, ADMIN_PASSWORD = "boss", "Coordinating-centre-2026-kite"
STRONG = "Quiet-river-74-lantern"
NIHSS_10 = {"nihss_1a": 0, "nihss_1b": 0, "nihss_1c": 0, "nihss_2": 0, "nihss_3": 0, "nihss_4": 2,
            "nihss_5a": 3, "nihss_5b": 0, "nihss_6a": 3, "nihss_6b": 0, "nihss_7": 0, "nihss_8": 0,
            "nihss_9": 2, "nihss_10": 0, "nihss_11": 0}
WORDS = {  # what the pages must say, in their language
    "zh": {"invited": "已邀请账号", "randomized": "已完成随机并入组"},
    "en": {"invited": "invited", "randomized": "is randomized and enrolled"},
}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """`epro serve --workers 2` on a new, empty SQLite database, prepared as the README's "Going live" says."""
    instance = tmp_path_factory.mktemp("golive")
    env = server_env(instance, None) | {"EPRO_SECRET_KEY": secrets.token_hex(32)}
    for args, extra in ((["db", "upgrade"], {}), (["create-admin", ADMIN], {"EPRO_ADMIN_PASSWORD": ADMIN_PASSWORD})):
        done = subprocess.run([*epro_command(), *args], env=env | extra, cwd=instance, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    server = Server(instance)
    server.env = {"EPRO_SECRET_KEY": env["EPRO_SECRET_KEY"]}
    server.start("serve", workers=2)
    yield server
    server.stop()


class Codes:
    """TOTP codes that are never replayed: each sign-in step uses a time step not used before."""

    def __init__(self, secret: str):
        self.totp, self.used = pyotp.TOTP(secret), set()

    def next(self) -> str:
        for offset in (0, 1, -1):
            step = int(time.time() // 30) + offset
            if step not in self.used:
                self.used.add(step)
                return self.totp.at(step * 30)
        time.sleep(30)
        return self.next()


def submit(page, selector: str = "main form button[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def set_up_second_factor(page) -> Codes:
    """On the setup page the mandatory check sent us to: scan (read) the secret, confirm with a code."""
    assert "/account/second-factor" in page.url, page.url
    secret = page.inner_text("[data-totp-secret]").replace(" ", "")
    codes = Codes(secret)
    page.fill("input[name=code]", codes.next())
    submit(page)
    assert len(page.locator("[data-recovery-codes] code").all_inner_texts()) == 10
    return codes


def sign_in(page, username: str, password: str, lang: str) -> None:
    page.goto(f"/login?lang={lang}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    submit(page)


def activate(page, code: str, lang: str, username: str | None = None) -> None:
    page.goto(f"/activate?code={code}&lang={lang}")
    if username is not None:
        page.fill("#username", username)
    page.fill("input[name=password]", STRONG)
    page.fill("input[name=confirm]", STRONG)
    submit(page)
    assert "/activate" not in page.url, page.inner_text("main")[:400]


def invite(page, lang: str, username: str, role: str, site: str, names: tuple[str, str]) -> str:
    page.goto(f"/admin/users?lang={lang}")
    page.fill("#username", username)
    page.fill("#display_name_zh", names[0])
    page.fill("#display_name_en", names[1])
    page.select_option("#role", role)
    page.select_option("#site", site)
    submit(page)
    assert WORDS[lang]["invited"] in page.inner_text("h1")
    assert page.locator(".qr svg").count() == 1
    return page.inner_text("[data-activation-code]")


def fill_screening(page, code: str, today: date) -> None:
    page.fill("[name=screening_code]", code)
    page.fill("[name=screened_on]", today.isoformat())
    page.fill("[name=birth_date]", date(today.year - 62, 5, 1).isoformat())
    page.check("input[name=sex][value=male]")
    page.fill("[name=onset_date]", (today - timedelta(days=30)).isoformat())
    for item, value in NIHSS_10.items():
        page.check(f"input[name={item}][value='{value}']")
    for criterion in ("ischemic_stroke", "informed_consent"):
        page.check(f"input[name=criterion_{criterion}][value=yes]")


def test_a_trial_team_goes_live_from_an_empty_database(browser, live_server, anon_page):
    db = create_engine(live_server.db_url)
    admin = anon_page("zh", width=1280, height=900)
    sign_in(admin, ADMIN, ADMIN_PASSWORD, "zh")
    admin.goto("/admin/sites?lang=zh")  # nothing opens before the second factor is on
    admin_codes = set_up_second_factor(admin)

    for lang, site_code in (("zh", "GZ"), ("en", "GE")):
        today = date.today()
        site_zh, site_en = f"第一人民医院{site_code}", f"First People's Hospital {site_code}"
        site_name = site_zh if lang == "zh" else site_en

        # the administrator: a site, a study from the randomized, masked protocol, two staff accounts
        admin.goto(f"/admin/sites?lang={lang}")
        admin.fill("#code", site_code)
        admin.fill("#name_zh", site_zh)
        admin.fill("#name_en", site_en)
        admin.fill("#timezone", "Asia/Shanghai")
        submit(admin)
        assert site_name in admin.locator(f'tr[data-site="{site_code}"]').inner_text()
        assert_no_violations(admin, f"sites ({lang})")

        study_code = f"GL-{site_code}"
        admin.goto(f"/clinic/trial/admin/studies/new?lang={lang}")
        admin.fill("#code", study_code)
        admin.check("input[name=protocol][value=it-hmsc]")
        admin.locator("label.choice", has_text=site_name).locator("input[type=checkbox]").check()
        submit(admin)
        row = admin.locator(f'tr[data-study="{study_code}"]').inner_text()
        assert site_code in row and ("it-hMSC安全性研究" if lang == "zh" else "it-hMSC safety study") in row

        clinician_code = invite(admin, lang, f"nurse.{site_code.lower()}", "clinician", site_code,
                                (f"护士{site_code}", f"Nurse {site_code}"))
        investigator_code = invite(admin, lang, f"pi.{site_code.lower()}", "investigator", site_code,
                                   (f"主任{site_code}", f"Professor {site_code}"))

        # each activates on their own device; the unblinded investigator must add a second factor
        investigator = anon_page(lang, width=1280, height=900)
        activate(investigator, investigator_code, lang)
        investigator.goto(f"/clinic/?lang={lang}")
        set_up_second_factor(investigator)
        with db.connect() as conn:
            study_id = conn.execute(text("SELECT id FROM studies WHERE code = :c"), {"c": study_code}).scalar_one()
        investigator.goto(f"/clinic/trial/studies/{study_id}/allocation?lang={lang}")
        investigator.fill("[name=seed]", f"trial-master-file-{site_code}")
        investigator.fill("[name=length]", "12")
        submit(investigator)
        assert investigator.locator("[data-sequence]").count() == 12
        assert_no_violations(investigator, f"allocation list ({lang})")

        clinician = anon_page(lang, width=1280, height=900)
        activate(clinician, clinician_code, lang)
        clinician.goto(f"/clinic/?lang={lang}")
        assert site_name in clinician.inner_text("h1")

        # the clinician screens, randomizes and enrols a patient
        clinician.goto(f"/clinic/trial/studies/{study_id}/screenings/new?lang={lang}")
        fill_screening(clinician, f"S-{site_code}-1", today)
        submit(clinician)
        assert "/screenings/" in clinician.url, clinician.inner_text("main")[:600]
        subject = f"{site_code}-001"
        clinician.fill("[name=subject_code]", subject)
        clinician.select_option("[name=education]", "middle_or_above")
        clinician.check(f"input[name=language][value={lang}]")
        submit(clinician, "form[action*=randomize] button[type=submit]")
        assert WORDS[lang]["randomized"] in clinician.inner_text("main")
        assert "/codes" in clinician.url
        page_text = clinician.inner_text("main")
        assert "low" not in page_text.lower().split() and "dose" not in page_text.lower()  # masked: no arm

        # ... and issues a patient code and a caregiver code
        submit(clinician, "button[name=role][value=patient]")
        patient_code = clinician.inner_text("[data-activation-code]")
        assert_no_violations(clinician, f"patient activation card ({lang})")
        submit(clinician, "button[name=role][value=caregiver]")
        caregiver_code = clinician.inner_text("[data-activation-code]")
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", patient_code) and caregiver_code != patient_code

        # both activate on phones and find the patient's home in the patient's language
        html_lang = "zh-Hans" if lang == "zh" else "en"
        for code, username in ((patient_code, f"patient.{site_code.lower()}"),
                               (caregiver_code, f"carer.{site_code.lower()}")):
            phone = anon_page(lang, width=360, height=640)
            activate(phone, code, lang, username=username)
            phone.goto("/")
            assert phone.get_attribute("html", "lang") == html_lang
            me = phone.request.get("/api/v1/me").json()
            assert me["username"] == username and [p["subject_code"] for p in me["patients"]] == [subject]
            assert_no_violations(phone, f"home of {username} ({lang})")

        # every administrative change is in the log, with who and what
        admin.goto(f"/admin/log?lang={lang}")
        log = admin.inner_text("#admin-log")
        assert ADMIN in log and site_code in log and f"nurse.{site_code.lower()}" in log

    # a later sign-in of the administrator asks for the second factor
    again = anon_page("en", width=1280, height=900)
    sign_in(again, ADMIN, ADMIN_PASSWORD, "en")
    assert "/login/verify" in again.url
    again.fill("input[name=code]", admin_codes.next())
    submit(again)
    assert again.request.get("/api/v1/me").json()["role"] == "admin"
