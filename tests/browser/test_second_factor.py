"""Set up a second factor in a real browser, then sign in with password and code (pyotp computes it)."""
import re
import time

import pyotp
from conftest import PASSWORD
from test_accessibility import assert_no_violations


def test_totp_setup_and_two_step_sign_in(page_for, anon_page, live_server):
    page = page_for("clinician.b", lang="en")
    page.click("a[data-account-link]")
    assert page.url.endswith("/account")
    assert_no_violations(page, "account page")
    page.click("a[data-second-factor]")
    assert page.locator(".qr svg").count() == 1
    assert_no_violations(page, "second factor setup")
    secret = page.inner_text("[data-totp-secret]").replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret) and page.inner_text("[data-totp-secret]").count(" ") == 7
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("main form button[type=submit]")
    codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert_no_violations(page, "recovery codes")

    other = anon_page(lang="zh")
    other.goto("/login?lang=zh")
    assert "请向您就诊的医院或管理员索取重置码" in other.inner_text("#forgot-password")
    other.fill("input[name=username]", "clinician.b")
    other.fill("input[name=password]", PASSWORD)
    other.click("main form button[type=submit]")
    other.wait_for_url("**/login/verify")
    assert_no_violations(other, "second step of the sign-in (zh)")
    other.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # the setup's step is used up
    other.click("main form button[type=submit]")
    other.wait_for_url(re.compile(r".*/clinic/?$|.*/$"))
    assert other.request.get("/api/v1/me").json()["username"] == "clinician.b"


def test_demo_admin_signs_in_with_the_password_only(page_for):
    page = page_for("admin", lang="en")
    page.goto("/account?lang=en")
    assert "In production, administrators and unblinded staff must use a second factor." in page.inner_text("main")


def test_change_password_refuses_a_weak_one_in_chinese(page_for):
    page = page_for("patient.a2", lang="zh")
    page.goto("/account/password?lang=zh")
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=password]", "12345678")
    page.fill("input[name=confirm]", "12345678")
    page.click("main form button[type=submit]")
    error = page.inner_text("#password-err")
    assert "这个密码太容易被猜到" in error and "最常用的 10 个密码之一" in error
    assert page.input_value("input[name=password]") == ""  # never re-rendered
    assert_no_violations(page, "change password with an error (zh)")
