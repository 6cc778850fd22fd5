"""People manage their own sign-in: strong passwords, change, reset codes, a second factor (TOTP)."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select
from support.web import PASSWORD, Session, csrf_from, follow_refusal, make_app

from epro.base.orm import db
from epro.models import AuditEvent, User

NEW_PASSWORD = "quiet-harbour-lantern-93"


def actions(app, username: str | None = None) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if username:
            uid = db.session.scalar(select(User.id).where(User.username == username))
            query = query.where(AuditEvent.record_id == str(uid), AuditEvent.table_name == "users")
        return list(db.session.scalars(query))


def user(app, username: str) -> User:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(found)
        return found


def sign_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client, follow_refusal(client, client.post("/login", data={"username": username, "password": password,
                                                                      "csrf_token": token}))


# --- password strength -------------------------------------------------------------------------

@pytest.mark.parametrize("weak", ["12345678", "password123"])
def test_weak_passwords_are_refused_with_reasons_in_both_languages(login, weak):
    s = login("clinician.a")
    en = s.post("/account/password?lang=en", data={"current_password": PASSWORD, "password": weak,
                                                     "confirm": weak})
    en = s.follow(en)
    page = en.get_data(as_text=True)
    assert en.status_code == 422
    assert "This password is too easy to guess." in page
    assert ("top-10 common password" if weak == "12345678" else "very common password") in page
    assert weak not in page  # never re-rendered
    zh = s.post("/account/password?lang=zh", data={"current_password": PASSWORD, "password": weak,
                                                     "confirm": weak})
    zh = s.follow(zh)
    page = zh.get_data(as_text=True)
    assert zh.status_code == 422
    assert "这个密码太容易被猜到" in page
    assert ("最常用的 10 个密码之一" if weak == "12345678" else "非常常用的密码") in page
    assert weak not in page and PASSWORD not in page


def test_activation_refuses_a_weak_password(app, login):
    s = login("clinician.a")
    page = s.get("/clinic/").get_data(as_text=True)
    pid = re.search(r"/clinic/patients/(\d+)", page).group(1)
    issued = s.follow(s.post(f"/clinic/patients/{pid}/codes", data={"role": "caregiver"})).get_data(as_text=True)
    code = re.search(r"data-activation-code>([A-Z0-9-]+)<", issued).group(1)
    anon = app.test_client()
    token = csrf_from(anon.get(f"/activate?code={code}&lang=zh").get_data(as_text=True))
    posted = anon.post("/activate", data={"code": code, "username": "weak.carer", "password": "12345678",
                                          "confirm": "12345678", "csrf_token": token})
    assert posted.status_code == 303 and posted.headers["Location"].endswith(f"/activate?code={code}")
    r = anon.get(posted.headers["Location"])
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "这个密码太容易被猜到" in body and 'value="12345678"' not in body
    assert "weak.carer" in body  # the username stays, the password does not
    assert user(app, "clinician.a").username  # and nothing was created
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "weak.carer")) is None


def test_unknown_zxcvbn_message_falls_back_to_the_general_one():
    from epro.core import password_feedback

    assert password_feedback.message_ids("Something new from zxcvbn.", []) == [password_feedback.GENERAL]
    assert password_feedback.message_ids("", ["Avoid sequences."]) == ["Avoid sequences."]


def test_login_page_says_how_to_get_a_reset_code(client):
    assert "Ask your clinic or administrator for a reset code." in client.get("/login?lang=en").get_data(
        as_text=True)
    assert "请向您就诊的医院或管理员索取重置码" in client.get("/login?lang=zh").get_data(as_text=True)


# --- change password -----------------------------------------------------------------------------

def test_change_password_needs_the_current_one_and_ends_other_sessions(app, login):
    other = login("clinician.a")  # another browser of the same person
    s = login("clinician.a")
    wrong = s.post("/account/password?lang=en", data={"current_password": "not-it", "password": NEW_PASSWORD,
                                                       "confirm": NEW_PASSWORD})
    wrong = s.follow(wrong)
    assert wrong.status_code == 422 and "The current password is not right." in wrong.get_data(as_text=True)
    assert "change_password_failed" in actions(app, "clinician.a")
    mismatch = s.post("/account/password?lang=en", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                          "confirm": NEW_PASSWORD + "x"})
    mismatch = s.follow(mismatch)
    assert mismatch.status_code == 422 and "not the same" in mismatch.get_data(as_text=True)
    ok = s.post("/account/password?lang=en", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/account")
    assert "Your password is changed" in s.get("/account?lang=en").get_data(as_text=True)  # still signed in
    assert other.get("/api/v1/me").status_code == 401  # the other session ended
    assert user(app, "clinician.a").password_changed_at is not None
    assert "change_password" in actions(app, "clinician.a")
    assert sign_in(app, "clinician.a")[1].status_code == 401
    assert sign_in(app, "clinician.a", NEW_PASSWORD)[1].status_code == 302


def test_account_page_for_every_role_and_demo_notice(login):
    for name in ("patient.a1", "caregiver.a1", "clinician.a"):
        page = login(name).get("/account?lang=en").get_data(as_text=True)
        assert "Change password" in page and "second-factor-demo-notice" not in page, name
    for name in ("admin", "investigator.a"):
        page = login(name).get("/account?lang=en").get_data(as_text=True)
        assert "In production, administrators and unblinded staff must use a second factor." in page, name


# --- reset codes ---------------------------------------------------------------------------------

def _reset_code(html: str) -> str:
    return re.search(r"data-reset-code>([A-Z0-9-]+)<", html).group(1)


def test_admin_reset_code_end_to_end_and_single_use(app, login):
    victim = login("clinician.a")
    admin = login("admin")
    r = admin.follow(admin.post("/admin/users/clinician.a/reset?lang=en", data={"username": "clinician.a"}))
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    code = _reset_code(page)
    assert "<svg" in page and "/activate?code=" in page
    anon = app.test_client()
    form = anon.get(f"/activate?code={code}&lang=en")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and 'value="clinician.a"' in html and "readonly" in html
    token = csrf_from(html)
    weak = follow_refusal(anon, anon.post("/activate?lang=en", data={
        "code": code, "password": "password123", "confirm": "password123", "csrf_token": token}))
    assert weak.status_code == 422 and "very common password" in weak.get_data(as_text=True)
    done = anon.post("/activate", data={"code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                        "csrf_token": token})
    assert done.status_code == 302
    assert anon.get("/api/v1/me").get_json()["username"] == "clinician.a"
    assert victim.get("/api/v1/me").status_code == 401  # old sessions ended
    again = app.test_client().get(f"/activate?code={code}")
    assert again.status_code == 400
    assert sign_in(app, "clinician.a", NEW_PASSWORD)[1].status_code == 302
    trail = actions(app, "clinician.a")
    assert "issue_reset" in trail and "reset_password" in trail


def test_a_reset_code_for_a_deactivated_account_is_refused_with_a_message(app, login):
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "clinician.b")).active = False
        db.session.commit()
    admin = login("admin")
    r = admin.post("/admin/users/clinician.b/reset", data={"username": "clinician.b", "back": "//evil.example/"})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert "its password cannot be reset" in admin.get("/?lang=en", follow_redirects=True).get_data(as_text=True)
    assert admin.post("/admin/users/nobody/reset", data={"username": "nobody"}).status_code == 404


def test_only_admins_use_the_admin_reset_route(login):
    assert login("clinician.a").post("/admin/users/patient.a1/reset", data={"username": "patient.a1"}
                                      ).status_code == 404


def test_staff_issue_reset_codes_for_their_site_only(app, login, ids):
    s = login("clinician.a")
    codes_page = s.get(f"/clinic/patients/{ids['A-001']}/codes?lang=en").get_data(as_text=True)
    assert 'data-reset-for="patient.a1"' in codes_page and 'data-reset-for="caregiver.a1"' in codes_page
    r = s.follow(s.post(f"/patients/{ids['A-001']}/reset?lang=en", data={"username": "caregiver.a1"}))
    assert r.status_code == 200 and "caregiver.a1" in r.get_data(as_text=True)
    code = _reset_code(r.get_data(as_text=True))
    # Not a staff account, not another site's patient, not an account outside the patient's page.
    assert s.post(f"/patients/{ids['A-001']}/reset", data={"username": "clinician.a"}).status_code == 404
    assert s.post(f"/patients/{ids['B-001']}/reset", data={"username": "patient.b1"}).status_code == 404
    assert login("clinician.b").post(f"/patients/{ids['A-001']}/reset",
                                     data={"username": "patient.a1"}).status_code == 404
    assert login("patient.a1").post(f"/patients/{ids['A-001']}/reset",
                                    data={"username": "patient.a1"}).status_code == 404
    anon = app.test_client()
    token = csrf_from(anon.get(f"/activate?code={code}").get_data(as_text=True))
    assert anon.post("/activate", data={"code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                        "csrf_token": token}).status_code == 302
    assert anon.get("/api/v1/me").get_json()["role"] == "caregiver"
    # A newer code replaces an older one.
    first = _reset_code(s.follow(s.post(f"/patients/{ids['A-001']}/reset", data={"username": "patient.a1"})
                                 ).get_data(as_text=True))
    _reset_code(s.follow(s.post(f"/patients/{ids['A-001']}/reset", data={"username": "patient.a1"})
                         ).get_data(as_text=True))
    assert app.test_client().get(f"/activate?code={first}").status_code == 400


# --- second factor -------------------------------------------------------------------------------

def _set_up(s: Session) -> tuple[str, list[str]]:
    page = s.get("/account/second-factor?lang=en").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r"data-totp-secret[^>]*>([A-Z2-7 ]+)<", page).group(1).replace(" ", "")
    wrong = s.post("/account/second-factor?lang=en", data={"code": "000000"})
    wrong = s.follow(wrong)
    assert wrong.status_code == 422 and "This code is not right" in wrong.get_data(as_text=True)
    done = s.post("/account/second-factor?lang=en", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def _verify(client, code: str):
    token = csrf_from(client.get("/login/verify").get_data(as_text=True))
    return follow_refusal(client, client.post("/login/verify?lang=en", data={"code": code, "csrf_token": token}))


def test_totp_setup_verify_replay_recovery_and_disable(app, login):
    s = login("clinician.a")
    secret, recovery = _set_up(s)
    totp = pyotp.TOTP(secret)
    # Password right: the second step asks for a code; the code used at setup cannot be replayed.
    client, r = sign_in(app, "clinician.a")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/verify")
    assert client.get("/api/v1/me").status_code == 401  # not signed in yet
    replay = _verify(client, totp.now())
    assert replay.status_code == 401 and "This code is not right" in replay.get_data(as_text=True)
    later = totp.at(time.time() + 30)  # the next step (clock drift allowed)
    ok = _verify(client, later)
    assert ok.status_code == 302 and client.get("/api/v1/me").get_json()["username"] == "clinician.a"
    client2, _ = sign_in(app, "clinician.a")
    assert _verify(client2, later).status_code == 401  # the same step again: refused
    # A recovery code works once.
    assert _verify(client2, recovery[0].lower()).status_code == 302
    client3, _ = sign_in(app, "clinician.a")
    assert _verify(client3, recovery[0]).status_code == 401
    assert "9 recovery codes left" in s.get("/account?lang=en").get_data(as_text=True)
    # Disabling needs the password and a code.
    bad = s.post("/account/second-factor/disable?lang=en", data={"password": "nope", "code": recovery[1]})
    bad = s.follow(bad)
    assert bad.status_code == 422 and "The password is not right." in bad.get_data(as_text=True)
    off = s.post("/account/second-factor/disable?lang=en", data={"password": PASSWORD, "code": recovery[1]})
    assert off.status_code == 302
    assert sign_in(app, "clinician.a")[1].headers["Location"].endswith("/")  # password only again
    trail = actions(app, "clinician.a") + actions(app)
    for action in ("enable_second_factor", "second_factor_failed", "use_recovery_code", "disable_second_factor",
                   "disable_second_factor_failed"):
        assert action in trail, action
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "enable_second_factor")).all()
        assert events and all(secret not in (e.new_value or "") for e in events)


def test_too_many_wrong_codes_need_the_password_again(app, login):
    _set_up(login("clinician.a"))
    client, _ = sign_in(app, "clinician.a")
    for _ in range(4):
        assert _verify(client, "123456").status_code == 401
    last = client.post("/login/verify?lang=en", data={"code": "123456", "csrf_token": csrf_from(
        client.get("/login/verify").get_data(as_text=True))})
    assert last.status_code == 303 and last.headers["Location"].endswith("/login")
    assert client.get("/login/verify").status_code == 302
    # They counted like wrong passwords: the account's sign-in limit (5 per 15 minutes) is used up.
    assert sign_in(app, "clinician.a")[1].status_code == 429


def test_a_name_locked_meanwhile_refuses_even_the_right_code(app, login):
    secret, _codes = _set_up(login("clinician.a"))
    client, r = sign_in(app, "clinician.a")
    assert r.headers["Location"].endswith("/login/verify")
    for _ in range(5):  # someone else guesses the password meanwhile
        assert sign_in(app, "clinician.a", "wrong")[1].status_code == 401
    refused = _verify(client, pyotp.TOTP(secret).at(time.time() + 30))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "please wait 15 minutes" in refused.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


@pytest.fixture
def strict_app(tmp_path, db_backend, demo_template):
    from support.web import _dispose

    app = make_app(tmp_path, db_backend, demo_template, REQUIRE_SECOND_FACTOR=True)
    yield app
    _dispose(app)


def test_mandatory_second_factor_for_admin_and_investigator(strict_app):
    for name in ("admin", "investigator.a"):
        s = Session(strict_app.test_client(), name)  # signs in with the password
        home = s.get("/")
        assert home.status_code == 302 and home.headers["Location"].endswith("/account/second-factor"), name
        assert s.get("/clinic/").headers["Location"].endswith("/account/second-factor")
        assert s.get("/api/v1/me").status_code == 403
        page = s.get("/account/second-factor?lang=en").get_data(as_text=True)
        assert "Your role must sign in with a second factor" in page
        _set_up(s)
        assert s.get("/").status_code in (200, 302) and not s.get("/").headers.get("Location", "").endswith(
            "/account/second-factor")
        assert s.get("/api/v1/me").get_json()["username"] == name
    clinician = Session(strict_app.test_client(), "clinician.a")
    assert clinician.get("/api/v1/me").status_code == 200
    assert not clinician.get("/").headers.get("Location", "").endswith("/account/second-factor")


def test_a_reset_code_is_no_second_factor(app, login):
    secret, _codes = _set_up(login("clinician.a"))
    admin = login("admin")
    code = _reset_code(admin.follow(admin.post("/admin/users/clinician.a/reset", data={"username": "clinician.a"})
                                    ).get_data(as_text=True))
    anon = app.test_client()
    token = csrf_from(anon.get(f"/activate?code={code}").get_data(as_text=True))
    done = anon.post("/activate", data={"code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                        "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert anon.get("/api/v1/me").status_code == 401
    client, r = sign_in(app, "clinician.a", NEW_PASSWORD)
    assert r.headers["Location"].endswith("/login/verify")
    assert _verify(client, pyotp.TOTP(secret).at(time.time() + 30)).status_code == 302
