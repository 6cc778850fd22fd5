"""The reminders page and the push API: who may use them, what they store, both languages."""
from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import select
from support.reminder_sinks import Browser

from epro.base.orm import db
from epro.models import AuditEvent, PushSubscription, ReminderPreference, User

URL = "/api/v1/push-subscriptions"


def sub(name: str = "phone-1") -> dict:
    return Browser(f"https://push.example.net/wpush/{name}").subscription()


def stored(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(s.endpoint, s.user.username) for s in db.session.scalars(select(PushSubscription))]


def test_public_key_is_a_p256_point(login):
    key = login("patient.a1").get("/api/v1/push/public-key").get_json()["key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4  # an uncompressed P-256 point, what PushManager.subscribe takes


def test_subscribe_and_unsubscribe(app, login, db_backend):
    s = login("patient.a1")
    body = sub()
    r = s.client.post(URL, json=body, headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 201 and r.get_json() == {"endpoint": body["endpoint"]}
    assert stored(app) == [(body["endpoint"], "patient.a1")]
    # The same browser again (new keys): one row, the new keys.
    again = dict(body, keys=Browser(body["endpoint"]).subscription()["keys"])
    assert s.client.post(URL, json=again, headers={"X-CSRFToken": s.csrf}).status_code == 201
    with app.app_context():
        (row,) = db.session.scalars(select(PushSubscription)).all()
        assert row.p256dh == again["keys"]["p256dh"]
    # Someone else cannot remove it; its owner can.
    other = login("caregiver.a1")
    r = other.client.delete(URL, json={"endpoint": body["endpoint"]}, headers={"X-CSRFToken": other.csrf})
    assert r.status_code == 204 and len(stored(app)) == 1
    r = s.client.delete(URL, json={"endpoint": body["endpoint"]}, headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 204 and stored(app) == []


def test_a_shared_phone_goes_to_who_signed_in_last(app, login, db_backend):
    body = sub("shared")
    for name in ("patient.a1", "caregiver.a1"):
        s = login(name)
        assert s.client.post(URL, json=body, headers={"X-CSRFToken": s.csrf}).status_code == 201
    assert stored(app) == [(body["endpoint"], "caregiver.a1")]


@pytest.mark.parametrize("lang,words", [("en", "https://"), ("zh", "https://")])
def test_bad_subscriptions_name_each_field(login, lang, words, db_backend):
    s = login("patient.a1")
    bad = {"endpoint": "http://evil.example/x", "keys": {"p256dh": "!!", "auth": ""}}
    r = s.client.post(f"{URL}?lang={lang}", json=bad, headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    fields = {e["field"]: e["message"] for e in r.get_json()["errors"]}
    assert "keys.auth" in fields
    r = s.client.post(f"{URL}?lang={lang}", json={"endpoint": "http://evil.example/x", **{"keys": sub()["keys"]}},
                      headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert error["field"] == "endpoint" and words in error["message"]
    assert ("推送地址" in error["message"]) == (lang == "zh")
    assert s.client.post(URL, data=b"[]", content_type="application/json",
                         headers={"X-CSRFToken": s.csrf}).status_code == 400


def test_csrf_is_required(login, db_backend):
    s = login("patient.a1")
    r = s.client.post(URL, json=sub())
    assert r.status_code == 400 and r.mimetype == "application/problem+json"


@pytest.mark.parametrize("user", ["clinician.a", "admin", "datamanager"])
def test_staff_get_404(login, user, app, db_backend):
    s = login(user)
    r = s.client.post(URL, json=sub(), headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert s.client.delete(URL, json={"endpoint": "x"}, headers={"X-CSRFToken": s.csrf}).status_code == 404
    assert s.get("/api/v1/push/public-key").status_code == 404
    assert s.get("/reminders").status_code == 404
    assert stored(app) == []


def test_anonymous_gets_401(client):
    assert client.get("/api/v1/push/public-key").status_code == 401


def test_openapi_describes_the_push_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/push-subscriptions"]) == {"post", "delete"}
    assert "get" in paths["/api/v1/push/public-key"]
    assert "201" in paths["/api/v1/push-subscriptions"]["post"]["responses"]
    assert "204" in paths["/api/v1/push-subscriptions"]["delete"]["responses"]


@pytest.mark.parametrize("lang,title,stop", [("zh", "提醒", "停止所有提醒"), ("en", "Reminders", "Stop all reminders")])
def test_the_page_in_both_languages(login, lang, title, stop, db_backend):
    html = login("patient.a1").get(f"/reminders?lang={lang}").get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html and stop in html
    assert 'value="patient.a1@example.org"' in html and 'value="+86 138 0000 0001"' in html
    assert 'data-remind-me' in html and 'id="push-reminders"' in html
    assert ('lang="zh-Hans"' if lang == "zh" else 'lang="en"') in html


def test_home_links_to_reminders(login):
    assert 'href="/reminders"' in login("patient.a1").get("/me").get_data(as_text=True)


def test_choosing_channels_is_saved_and_audited(app, login, db_backend):
    s = login("patient.a1")
    r = s.post("/reminders", data={"action": "save", "sms": "y", "email_address": "patient.a1@example.org",
                                   "phone_number": "+86 138 0000 0001"})
    assert r.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        pref = db.session.scalar(select(ReminderPreference).where(ReminderPreference.user_id == user.id))
        assert (pref.push, pref.email, pref.sms, pref.stopped) == (False, False, True, False)
        trail = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "reminder_preferences")).all()
        assert trail and trail[0].user_id == user.id and json.loads(trail[0].new_value)["sms"] is True
    page = s.get("/reminders").get_data(as_text=True)
    boxes = {name: "checked" in tag for tag, name in re.findall(r'(<input[^>]*name="(push|email|sms)"[^>]*>)', page)}
    assert boxes == {"push": False, "email": False, "sms": True}


def test_stop_and_start(app, login, db_backend):
    s = login("patient.a1")
    assert s.post("/reminders", data={"action": "stop"}).status_code == 302
    page = s.get("/reminders?lang=en").get_data(as_text=True)
    assert "Reminders are stopped." in page and "data-start-reminders" in page
    assert s.post("/reminders", data={"action": "start"}).status_code == 302
    assert "Reminders are on." in s.get("/reminders?lang=en").get_data(as_text=True)


def test_a_caregiver_starts_without_reminders(login, db_backend):
    page = login("caregiver.a1").get("/reminders?lang=en").get_data(as_text=True)
    assert "Reminders are stopped." in page and "Send me the reminders" in page
    assert "the person you help" in page


def test_a_post_without_csrf_changes_nothing(app, login, db_backend):
    s = login("patient.a1")
    r = s.client.post("/reminders", data={"action": "stop"})
    assert r.status_code in (400, 200)
    with app.app_context():
        assert db.session.scalar(select(ReminderPreference)) is None


@pytest.mark.parametrize("lang,word", [("zh", "电子邮件"), ("en", "e-mail address")])
def test_the_person_gives_their_own_contact_and_a_bad_one_is_named(app, login, lang, word, db_backend):
    s = login("patient.a1")
    r = s.post(f"/reminders?lang={lang}", data={"action": "save", "email": "y", "email_address": "not-an-address",
                                                "phone_number": "call me"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/reminders?lang={lang}")  # a reload posts nothing
    r = s.follow(r)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="email_address-err"' in html and 'id="phone_number-err"' in html and word in html
    assert 'value="not-an-address"' in html and 'value="call me"' in html  # what was typed is kept
    assert s.get("/reminders").status_code == 200  # once: the next visit is a fresh page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        assert (user.email, user.phone) == ("patient.a1@example.org", "+86 138 0000 0001")  # nothing changed
        assert db.session.scalar(select(ReminderPreference)) is None
    r = s.post("/reminders", data={"action": "save", "email": "y", "email_address": " new@example.net ",
                                   "phone_number": ""})
    assert r.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        assert (user.email, user.phone) == ("new@example.net", None)
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.field == "contact")).all()
        assert event.user_id == user.id and json.loads(event.new_value) == {"changed": ["email", "phone"]}
        assert "new@example.net" not in (event.new_value or "") + (event.old_value or "")


def test_control_characters_are_refused_not_a_server_error(login, db_backend):
    """Found by the API fuzzer on PostgreSQL (text cannot hold NUL)."""
    s = login("patient.a1")
    r = s.client.delete(URL, json={"endpoint": "O\u0000"}, headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 204
    r = s.client.post(URL, json={"endpoint": "https://push.example.net/\u0000", "keys": sub()["keys"]},
                      headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "endpoint"
