"""An administrator, in Chinese, creates a site and invites a clinician through the pages; the clinician
activates the account with the code; axe-core finds no violation on any of these pages."""
import re

from test_accessibility import assert_no_violations

STRONG = "Quiet-river-74-lantern"


def test_admin_creates_a_site_and_invites_a_clinician_in_chinese(page_for, anon_page):
    page = page_for("admin", "zh", width=1280, height=900)
    page.goto("/admin/sites?lang=zh")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert_no_violations(page, "sites (zh)")
    page.fill("#code", "C")
    page.fill("#name_zh", "C中心")
    page.fill("#name_en", "")
    page.fill("#timezone", "Asia/Nowhere")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "未知时区" in page.inner_text("#error-summary")
    assert_no_violations(page, "sites with errors (zh)")
    page.fill("#name_en", "Site C")
    page.fill("#timezone", "Asia/Shanghai")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator('tr[data-site="C"]').inner_text().count("C中心") == 1

    page.goto("/admin/users?lang=zh")
    assert_no_violations(page, "accounts (zh)")
    page.fill("#username", "clinician.c")
    page.fill("#display_name_zh", "陈医生（C）")
    page.fill("#display_name_en", "Dr. Chen (C)")
    page.select_option("#role", "clinician")
    page.select_option("#site", "C")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "已邀请账号 clinician.c" in page.inner_text("h1")
    code = page.inner_text("[data-activation-code]")
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert page.locator(".qr svg").count() == 1
    assert_no_violations(page, "activation code of a new account (zh)")

    person = anon_page("zh", width=360, height=640)
    person.goto(f"/activate?code={code}&lang=zh")
    assert person.input_value("#username") == "clinician.c"
    assert person.get_attribute("#username", "readonly") is not None
    assert_no_violations(person, "staff activation (zh)")
    person.fill("input[name=password]", STRONG)
    person.fill("input[name=confirm]", STRONG)
    with person.expect_navigation():
        person.click("main form button[type=submit]")
    assert "/activate" not in person.url
    person.goto("/clinic/?lang=zh")
    assert "C中心" in person.inner_text("h1")

    page.goto("/admin/log?lang=zh")
    log = page.inner_text("#admin-log")
    assert "已创建中心" in log and "已邀请账号" in log and "账号已激活" in log
    assert_no_violations(page, "administration log (zh)")
