"""Administration, in the pages and through the Administration API (CONTRACT.md): sites, studies,
staff accounts invited with one-time codes, deactivation that ends sessions at once, the audit of it all."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support.web import follow_refusal

from epro.base.orm import db
from epro.models import AuditEvent, Site, Study, User

STRONG = "Quiet-river-74-lantern"


def api(s, url, body=None, lang="en"):
    return s.client.post(f"{url}?lang={lang}", json=body if body is not None else {},
                         headers={"X-CSRFToken": s.csrf})


def fields(r) -> dict[str, str]:
    assert r.mimetype == "application/problem+json", r.get_data(as_text=True)
    return {e["field"]: e["message"] for e in r.get_json().get("errors") or []}


def audit_rows(app, action):
    with app.app_context():
        return [(e.user_id, e.table_name, e.record_id, e.reason) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def activate(app, code, password=STRONG, lang="en"):
    """Open the code's link as a new visitor and choose a password; the signed-in client."""
    anon = app.test_client()
    page = anon.get(f"/activate?code={code}&lang={lang}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    done = anon.post("/activate", data={"code": code, "username": "ignored.name", "password": password,
                                        "confirm": password, "csrf_token": token})
    assert done.status_code == 302, done.get_data(as_text=True)
    return anon, html


def sign_in(app, username, password=STRONG):
    c = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    return c, follow_refusal(c, c.post("/login", data={"username": username, "password": password,
                                                       "csrf_token": token}))


# --- sites ------------------------------------------------------------------------------------------


def test_api_creates_a_site_and_lists_it(app, login):
    admin = login("admin")
    r = api(admin, "/api/v1/sites", {"code": "C", "name": {"zh": "C中心", "en": "Site C"},
                                      "timezone": "Asia/Urumqi"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json() == {"code": "C", "name": {"zh": "C中心", "en": "Site C"}, "timezone": "Asia/Urumqi",
                            "studies": []}
    listed = admin.get("/api/v1/sites").get_json()["sites"]
    assert [s["code"] for s in listed] == ["A", "B", "C"] and listed[0]["name"]["zh"] == "A中心"
    assert listed[0]["studies"] == ["IT-HMSC"]
    assert audit_rows(app, "create_site")[-1][:2] == (user_id(app, "admin"), "sites")


def test_api_site_refusals_name_each_field(app, login):
    admin = login("admin")
    bad = api(admin, "/api/v1/sites", {"code": "c d", "name": {"zh": "", "en": "Site D"}, "timezone": "Mars/Base"})
    assert bad.status_code == 422
    assert set(fields(bad)) == {"code", "name.zh", "timezone"}
    assert "IANA" in fields(bad)["timezone"]
    missing = api(admin, "/api/v1/sites", {"code": "D", "name": {"en": "Site D"}}, lang="zh")
    assert missing.status_code == 422 and fields(missing) == {"name.zh": "请输入中文名称。"}
    wrong_zone = api(admin, "/api/v1/sites", {"code": "D", "name": {"zh": "D", "en": "D"}, "timezone": "../etc"},
                     lang="zh")
    assert wrong_zone.status_code == 422 and "时区" in fields(wrong_zone)["timezone"]
    duplicate = api(admin, "/api/v1/sites", {"code": "A", "name": {"zh": "A", "en": "A"}, "timezone": "UTC"})
    assert duplicate.status_code == 409 and "code" in fields(duplicate)
    not_json = admin.client.post("/api/v1/sites", data="x", headers={"X-CSRFToken": admin.csrf})
    assert not_json.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Site).where(Site.code == "D")) is None


@pytest.mark.parametrize("user", ["clinician.a", "investigator.a", "patient.a1", "caregiver.a1"])
def test_only_administrators_reach_the_administration_api(login, user):
    s = login(user)
    for url in ("/api/v1/sites", "/api/v1/studies", "/api/v1/users", "/api/v1/users/clinician.b/deactivate",
                "/api/v1/users/clinician.b/reactivate"):
        r = api(s, url, {"code": "E", "name": {"zh": "E", "en": "E"}, "timezone": "UTC"})
        assert r.status_code == 404 and r.mimetype == "application/problem+json", (user, url)
    assert s.get("/api/v1/users").status_code == 404
    assert s.get("/admin/users").status_code == 404 and s.get("/admin/log").status_code == 404


def test_administration_api_needs_sign_in_and_the_csrf_header(app, login):
    anon = app.test_client()
    assert anon.get("/api/v1/sites").status_code == 401
    assert anon.post("/api/v1/users", json={}).status_code in (400, 401)
    admin = login("admin")
    r = admin.client.post("/api/v1/sites", json={"code": "E", "name": {"zh": "E", "en": "E"}, "timezone": "UTC"})
    assert r.status_code == 400  # no X-CSRFToken
    with app.app_context():
        assert db.session.scalar(select(Site).where(Site.code == "E")) is None


# --- studies ----------------------------------------------------------------------------------------


def test_api_creates_a_study_from_a_protocol(app, login):
    admin = login("admin")
    r = api(admin, "/api/v1/studies", {"protocol": "bmsc", "sites": ["A", "B"], "code": "bmsc-2"})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["code"] == "BMSC-2" and body["sites"] == ["A", "B"] and body["masked"] is False
    assert body["name"] == {"zh": "BMSCs研究", "en": "BMSC study"}  # the protocol's short title
    assert body["arms"] == ["routine", "bmsc"]
    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == "BMSC-2"))
        assert {a.code: a.label_zh for a in study.arms}["routine"]
    assert (user_id(app, "admin"), "studies") in [r[:2] for r in audit_rows(app, "create_study")]


def test_api_study_refusals(login):
    admin = login("admin")
    unknown = api(admin, "/api/v1/studies", {"protocol": "nope", "sites": ["A", "Z"]})
    assert unknown.status_code == 422 and set(fields(unknown)) == {"protocol", "sites"}
    assert "Z" in fields(unknown)["sites"]
    shape = api(admin, "/api/v1/studies", {"protocol": "bmsc", "sites": "A"})
    assert shape.status_code == 422 and set(fields(shape)) == {"sites"}
    duplicate = api(admin, "/api/v1/studies", {"protocol": "it-hmsc", "sites": ["A"]})  # IT-HMSC exists
    assert duplicate.status_code == 409 and "code" in fields(duplicate)


def test_admin_adds_a_site_to_a_study_in_the_pages(app, login):
    admin = login("admin")
    with app.app_context():
        study_id = db.session.scalar(select(Study.id).where(Study.code == "BMSC"))
    page = admin.get("/admin/studies?lang=zh").get_data(as_text=True)
    assert "BMSCs研究" in page and "A中心" in page
    r = admin.post(f"/admin/studies/{study_id}/sites?lang=en", data={"site": "A"})
    assert r.status_code == 302
    again = admin.follow(admin.post(f"/admin/studies/{study_id}/sites?lang=en", data={"site": "A"}))
    assert again.status_code == 409 and "takes part in the study already" in again.get_data(as_text=True)
    rows = audit_rows(app, "add_study_site")
    assert rows and rows[-1][:2] == (user_id(app, "admin"), "study_sites")


# --- accounts ---------------------------------------------------------------------------------------


def test_api_invites_a_clinician_who_activates_and_signs_in(app, login):
    admin = login("admin")
    r = api(admin, "/api/v1/users", {"username": "clinician.c", "role": "clinician", "site": "A",
                                      "display_name": {"zh": "陈医生（A）", "en": "Dr. Chen (A)"}})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["username"] == "clinician.c" and body["role"] == "clinician"
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", body["activation_code"])
    assert body["activation_url"].endswith("/activate?code=" + body["activation_code"])
    waiting = {u["username"]: u for u in admin.get("/api/v1/users").get_json()["users"]}["clinician.c"]
    assert waiting["status"] == "waiting" and waiting["site"] == "A" and waiting["two_factor"] is False
    # Nobody can sign in to a waiting account.
    assert sign_in(app, "clinician.c", "")[1].status_code in (401, 422)
    client, form = activate(app, body["activation_code"], lang="zh")
    assert 'value="clinician.c" readonly' in form and "您的用户名由管理员设定" in form
    assert client.get("/api/v1/me").get_json()["role"] == "clinician"
    assert "陈医生" not in form  # the form shows the username, no other detail
    assert client.get("/clinic/").status_code == 200
    # The code worked once; the password works for a fresh sign-in, under the fixed username only.
    assert app.test_client().get(f"/activate?code={body['activation_code']}").status_code == 400
    assert sign_in(app, "clinician.c")[1].status_code == 302
    assert sign_in(app, "ignored.name")[1].status_code == 401
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "clinician.c"))
        assert user.display_name_zh == "陈医生（A）" and user.site.code == "A" and not user.unblinded
        assert user.password_changed_at is not None
    assert audit_rows(app, "invite")[-1][0] == user_id(app, "admin")
    assert audit_rows(app, "activate")[-1][0] == user_id(app, "clinician.c")


@pytest.mark.parametrize("body,field,status", [
    ({"role": "surgeon", "site": "A"}, "role", 422),
    ({"role": "clinician", "site": None}, "site", 422),
    ({"role": "monitor"}, "site", 422),
    ({"role": "data-manager", "site": "A"}, "site", 422),
    ({"role": "statistician", "site": "A"}, "site", 422),
    ({"role": "clinician", "site": "Z"}, "site", 422),
    ({"role": "clinician", "site": "A", "username": "x"}, "username", 422),
    ({"role": "clinician", "site": "A", "display_name": {"en": "Dr. X"}}, "display_name.zh", 422),
    ({"role": "clinician", "site": "A", "display_name": {"zh": "X医生", "en": ""}}, "display_name.en", 422),
    ({"role": "clinician", "site": "A", "username": "clinician.a"}, "username", 409),
    ({"role": "admin", "site": None, "username": "ADMIN"}, "username", 409),
])
def test_api_invitation_refusals(app, login, body, field, status):
    admin = login("admin")
    full = {"username": "new.person", "display_name": {"zh": "新人", "en": "New person"}, **body}
    r = api(admin, "/api/v1/users", full)
    assert r.status_code == status, r.get_data(as_text=True)
    assert field in fields(r)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "new.person")) is None


def test_refusals_are_in_the_request_language(login):
    admin = login("admin")
    r = api(admin, "/api/v1/users", {"username": "new.person", "role": "clinician", "site": None,
                                      "display_name": {"zh": "新人", "en": "New"}}, lang="zh")
    assert fields(r) == {"site": "此角色属于一个中心：请选择该中心。"}


def test_investigator_and_data_manager_invitations(app, login):
    admin = login("admin")
    inv = api(admin, "/api/v1/users", {"username": "investigator.b", "role": "investigator", "site": "B",
                                        "display_name": {"zh": "孙教授（B）", "en": "Prof. Sun (B)"}})
    dm = api(admin, "/api/v1/users", {"username": "dm.two", "role": "data-manager", "site": None,
                                       "display_name": {"zh": "数据员", "en": "Data manager two"}})
    assert inv.status_code == 201 and dm.status_code == 201
    with app.app_context():
        people = {u.username: u for u in db.session.scalars(select(User).where(
            User.username.in_(["investigator.b", "dm.two"])))}
        assert people["investigator.b"].unblinded and people["investigator.b"].site.code == "B"
        assert not people["dm.two"].unblinded and people["dm.two"].site_id is None
        assert people["dm.two"].password_hash is None


def test_a_statistician_is_invited_unblinded_at_no_site(app, login):
    admin = login("admin")
    page = admin.get("/admin/users?lang=en").get_data(as_text=True)
    assert '<option value="statistician"' in page and "Statistician (unblinded)" in page
    assert "统计师（非盲）" in admin.get("/admin/users?lang=zh").get_data(as_text=True)
    r = api(admin, "/api/v1/users", {"username": "stat.two", "role": "statistician", "site": None,
                                      "display_name": {"zh": "统计师二", "en": "Statistician two"}})
    assert r.status_code == 201 and r.get_json()["role"] == "statistician"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "stat.two"))
        assert user.unblinded and user.site_id is None and user.password_hash is None


def test_deactivation_ends_an_open_session_at_once(app, login):
    clinician = login("clinician.a")
    assert clinician.get("/clinic/").status_code == 200
    admin = login("admin")
    r = api(admin, "/api/v1/users/clinician.a/deactivate", {"reason": "left the hospital"})
    assert r.status_code == 200 and r.get_json()["status"] == "deactivated"
    after = clinician.get("/clinic/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert clinician.get("/api/v1/me").status_code == 401
    assert sign_in(app, "clinician.a", "epro-demo-2026")[1].status_code == 401
    rows = audit_rows(app, "deactivate")
    assert rows[-1] == (user_id(app, "admin"), "users", str(user_id(app, "clinician.a")), "left the hospital")
    assert api(admin, "/api/v1/users/clinician.a/deactivate").status_code == 409  # already
    assert api(admin, "/api/v1/users/nobody/deactivate").status_code == 404
    assert api(admin, "/api/v1/users/patient.a1/deactivate").status_code == 404  # not a staff account


def test_reactivation_gives_a_new_code_that_works_once(app, login):
    admin = login("admin")
    assert api(admin, "/api/v1/users/clinician.b/reactivate").status_code == 409  # not deactivated
    assert api(admin, "/api/v1/users/clinician.b/deactivate", {"reason": "leave"}).status_code == 200
    r = api(admin, "/api/v1/users/clinician.b/reactivate")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "waiting" and body["activation_code"] and body["activation_url"]
    # The old password is gone: the person chooses a new one with the code.
    assert sign_in(app, "clinician.b", "epro-demo-2026")[1].status_code == 401
    activate(app, body["activation_code"])
    assert app.test_client().get(f"/activate?code={body['activation_code']}").status_code == 400
    assert sign_in(app, "clinician.b")[1].status_code == 302
    assert (user_id(app, "admin"), "users") in [r[:2] for r in audit_rows(app, "reactivate")]


def test_an_administrator_cannot_deactivate_themself_nor_the_last_administrator(app, login):
    from epro.services import staff
    from epro.services.errors import Refused

    admin = login("admin")
    r = api(admin, "/api/v1/users/admin/deactivate", {"reason": "test"}, lang="en")
    assert r.status_code == 409 and "your own account" in r.get_json()["detail"]
    with app.app_context():
        last = db.session.scalar(select(User).where(User.username == "admin"))
        other = db.session.scalar(select(User).where(User.username == "clinician.a"))
        with pytest.raises(Refused) as refused:
            staff.deactivate(last, other, "test")
        assert refused.value.message == staff.LAST_ADMIN
        db.session.rollback()


def test_a_deactivated_accounts_waiting_code_stops_working(app, login):
    admin = login("admin")
    code = api(admin, "/api/v1/users", {"username": "monitor.b", "role": "monitor", "site": "B",
                                         "display_name": {"zh": "监查员B", "en": "Monitor B"}}).get_json()[
        "activation_code"]
    assert api(admin, "/api/v1/users/monitor.b/deactivate", {"reason": "wrong person"}).status_code == 200
    assert app.test_client().get(f"/activate?code={code}").status_code == 400


# --- the pages --------------------------------------------------------------------------------------


def test_admin_creates_a_site_and_invites_a_clinician_in_the_chinese_pages(app, login):
    admin = login("admin")
    bad = admin.post("/admin/sites?lang=zh", data={"code": "C", "name_zh": "C中心", "name_en": "",
                                                   "timezone": "Asia/Nowhere"})
    bad = admin.follow(bad)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "未知时区" in html and "请填写" in html
    ok = admin.post("/admin/sites?lang=zh", data={"code": "c", "name_zh": "C中心", "name_en": "Site C",
                                                  "timezone": "Asia/Shanghai"})
    assert ok.status_code == 302
    listing = admin.get("/admin/sites?lang=zh").get_data(as_text=True)
    assert 'data-site="C"' in listing and "C中心" in listing
    invited = admin.post("/admin/users?lang=zh", data={"username": "clinician.c", "display_name_zh": "陈医生（C）",
                                                       "display_name_en": "Dr. Chen (C)", "role": "clinician",
                                                       "site": "C"})
    invited = admin.follow(invited)  # the code's page after a redirect: a reload shows it, issues none
    page = invited.get_data(as_text=True)
    assert invited.status_code == 200 and "已邀请账号 clinician.c" in page and "<svg" in page
    code = re.search(r"data-activation-code>([A-Z0-9-]+)<", page).group(1)
    accounts = admin.get("/admin/users?lang=zh").get_data(as_text=True)
    assert 'data-user="clinician.c" data-status="waiting"' in accounts and "等待激活" in accounts
    client, _form = activate(app, code, lang="zh")
    assert "C中心" in client.get("/clinic/?lang=zh").get_data(as_text=True)
    log = admin.get("/admin/log?lang=zh").get_data(as_text=True)
    assert "已创建中心" in log and "已邀请账号" in log and "账号已激活" in log and "管理员 (admin)" in log


def test_admin_changes_a_site_in_the_pages(app, login):
    admin = login("admin")
    with app.app_context():
        site_id = db.session.scalar(select(Site.id).where(Site.code == "B"))
    form = admin.get(f"/admin/sites/{site_id}?lang=en").get_data(as_text=True)
    assert 'value="B中心"' in form
    r = admin.post(f"/admin/sites/{site_id}?lang=en", data={"name_zh": "B医院", "name_en": "Hospital B",
                                                            "timezone": "Asia/Hong_Kong"})
    assert r.status_code == 302
    with app.app_context():
        site = db.session.get(Site, site_id)
        assert (site.name, site.name_zh, site.timezone) == ("Hospital B", "B医院", "Asia/Hong_Kong")
    assert [r[0] for r in audit_rows(app, "update_site")] == [user_id(app, "admin")] * 3  # one row per field


def test_admin_deactivates_and_reactivates_in_the_pages(app, login):
    clinician = login("clinician.b")
    admin = login("admin")
    uid = user_id(app, "clinician.b")
    page = admin.get(f"/admin/users/{uid}?lang=en").get_data(as_text=True)
    assert "Deactivate" in page
    no_reason = admin.post(f"/admin/users/{uid}/deactivate?lang=en", data={"reason": ""})
    no_reason = admin.follow(no_reason)
    assert no_reason.status_code == 422 and "Please give a reason" in no_reason.get_data(as_text=True)
    done = admin.post(f"/admin/users/{uid}/deactivate?lang=en", data={"reason": "moved"})
    assert done.status_code == 302
    assert clinician.get("/clinic/").status_code == 302
    again = admin.follow(admin.post(f"/admin/users/{uid}/reactivate?lang=en", data={}))
    html = again.get_data(as_text=True)
    assert again.status_code == 200 and "reactivated" in html
    code = re.search(r"data-activation-code>([A-Z0-9-]+)<", html).group(1)
    activate(app, code)
    own = admin.get(f"/admin/users/{user_id(app, 'admin')}?lang=en").get_data(as_text=True)
    assert "You cannot deactivate your own account." in own


def test_names_follow_the_readers_language(app, login, ids):
    clinician = login("clinician.a")
    zh = clinician.get("/clinic/?lang=zh").get_data(as_text=True)
    assert "A中心" in zh
    timeline = clinician.get(f"/clinic/patients/{ids['A-001']}?lang=zh").get_data(as_text=True)
    assert "it-hMSC安全性研究" in timeline and "A中心" in timeline
    en = clinician.get(f"/clinic/patients/{ids['A-001']}?lang=en").get_data(as_text=True)
    assert "Site A" in en and "A中心" not in en
    api_zh = clinician.get(f"/api/v1/patients/{ids['A-001']}?lang=zh").get_json()
    assert api_zh["site"]["name"] == "A中心" and api_zh["study"]["name"] == "it-hMSC安全性研究"
    investigator = login("investigator.a")
    arm = investigator.get(f"/api/v1/patients/{ids['A-001']}?lang=zh").get_json()["arm"]
    assert arm["code"] == "low" and arm["label"] != "Low-dose it-hMSC"


def test_demo_fills_chinese_names_of_an_earlier_demo_database(app):
    from epro.app import demo
    from epro.services.unit_of_work import unit_of_work

    with app.app_context():
        with unit_of_work():
            site = db.session.scalar(select(Site).where(Site.code == "A"))
            study = db.session.scalar(select(Study).where(Study.code == "BMSC"))
            clinician = db.session.scalar(select(User).where(User.username == "clinician.a"))
            site.name_zh, study.name_zh, clinician.display_name_zh = "", "", ""
            for arm in study.arms:
                arm.label_zh = ""
        demo.load()
        demo.load()
        site = db.session.scalar(select(Site).where(Site.code == "A"))
        study = db.session.scalar(select(Study).where(Study.code == "BMSC"))
        clinician = db.session.scalar(select(User).where(User.username == "clinician.a"))
        assert (site.name_zh, study.name_zh, clinician.display_name_zh) == ("A中心", "BMSCs研究", "王医生（A）")
        assert all(a.label_zh for a in study.arms)
        assert len(db.session.scalars(select(Site)).all()) == 2


def test_the_study_page_names_a_study_by_its_protocol_unless_told(app, login):
    admin = login("admin")
    with app.app_context():
        site_a = db.session.scalar(select(Site.id).where(Site.code == "A"))
    r = admin.post("/clinic/trial/admin/studies/new?lang=en", data={"code": "hmsc-3", "protocol": "it-hmsc",
                                                                   "sites": [str(site_a)]})
    assert r.status_code == 302
    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == "HMSC-3"))
        assert (study.name, study.name_zh) == ("it-hMSC safety study", "it-hMSC安全性研究")
        assert {a.code: a.label_zh for a in study.arms}["low"] == "it-hMSC低剂量组"
    listing = admin.get("/admin/studies?lang=zh").get_data(as_text=True)
    assert "HMSC-3 · it-hMSC安全性研究" in listing


def test_a_waiting_account_gets_a_new_code_and_the_old_one_stops(app, login):
    admin = login("admin")
    first = api(admin, "/api/v1/users", {"username": "monitor.c", "role": "monitor", "site": "A",
                                          "display_name": {"zh": "监查员C", "en": "Monitor C"}}).get_json()
    uid = user_id(app, "monitor.c")
    page = admin.get(f"/admin/users/{uid}?lang=en").get_data(as_text=True)
    assert "Waiting for activation" in page and "Valid until" in page
    again = admin.follow(admin.post(f"/admin/users/{uid}/code?lang=en", data={}))
    html = again.get_data(as_text=True)
    assert again.status_code == 200 and "New activation code for monitor.c" in html
    second = re.search(r"data-activation-code>([A-Z0-9-]+)<", html).group(1)
    assert app.test_client().get(f"/activate?code={first['activation_code']}").status_code == 400
    activate(app, second)
    refused = admin.post(f"/admin/users/{uid}/code?lang=en", data={})
    refused = admin.follow(refused)
    assert refused.status_code == 409 and "Only an account waiting" in refused.get_data(as_text=True)
