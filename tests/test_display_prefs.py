"""A person's text size and contrast (POST /account/display): CSRF, saved on the account, audited,
a wrong value answered with a clear message and never a 500; the page is then drawn at that size."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from epro.base.orm import db
from epro.core import display
from epro.models import AuditEvent, User

URL = "/account/display"
JSON = {"Accept": "application/json"}


def saved(app, username: str) -> tuple[int | None, bool | None]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return user.text_size, user.high_contrast


def audit_rows(app, username: str) -> tuple[list[tuple[str, str, str | None, str]], str]:
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        rows = db.session.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.new_value, AuditEvent.user_id)
                                  .where(AuditEvent.table_name == "users", AuditEvent.record_id == str(uid),
                                         AuditEvent.field.in_(("text_size", "high_contrast")))
                                  .order_by(AuditEvent.id)).all()
        return [(a, f, v, str(u)) for a, f, v, u in rows], str(uid)


def test_the_choice_is_saved_per_person_and_audited(app, login):
    patient = login("patient.a1")
    r = patient.post(URL, data={"text_size": "200", "contrast": "more"}, headers=JSON)
    assert r.status_code == 200 and r.get_json() == {"text_size": 200, "contrast": "more"}
    assert saved(app, "patient.a1") == (200, True)
    assert saved(app, "caregiver.a1") == (None, None)  # the caregiver on the same study keeps their own
    rows, uid = audit_rows(app, "patient.a1")
    assert sorted((f, v) for _a, f, v, _u in rows) == [("high_contrast", "true"), ("text_size", "200")], rows
    assert all(a == "update" and u == uid for a, _f, _v, u in rows), rows  # by the person themselves

    # The next page is drawn at that size from the first byte (no flash of small text).
    html = patient.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'class="text-200 contrast-more"' in html
    assert 'content="200 more" data-user="' + uid + '" data-text-size="200"' in html

    # The same choice again changes nothing and writes nothing.
    assert patient.post(URL, data={"text_size": "200", "contrast": "more"}, headers=JSON).status_code == 200
    assert len(audit_rows(app, "patient.a1")[0]) == len(rows)


def test_without_script_the_form_posts_and_comes_back(app, login):
    s = login("caregiver.a1")
    r = s.post(URL + "?lang=en", data={"text_size": "150", "contrast": "normal", "next": "/reminders?lang=en"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/reminders?lang=en")
    assert saved(app, "caregiver.a1") == (150, False)
    page = s.get("/reminders?lang=en").get_data(as_text=True)
    assert "Your text size is saved." in page and 'class="text-150 contrast-normal"' in page
    # A next pointing elsewhere is not followed.
    r = s.post(URL, data={"text_size": "100", "contrast": "normal", "next": "//evil.example/"})
    assert r.status_code == 303 and "evil" not in r.headers["Location"]


@pytest.mark.parametrize("fields", [
    {"text_size": "300", "contrast": "normal"}, {"text_size": "abc", "contrast": "normal"},
    {"text_size": "", "contrast": "more"}, {"contrast": "more"}, {"text_size": "99999999999999999999"},
    {"text_size": "125", "contrast": "purple"}, {"text_size": "-125", "contrast": "more"},
])
def test_a_wrong_value_gets_a_clear_message(app, login, fields):
    s = login("patient.a1")
    r = s.post(URL + "?lang=en", data=fields, headers=JSON)
    assert r.status_code == 400
    message = r.get_json()["error"]
    assert message in (display.BAD_SIZE, display.BAD_CONTRAST)
    zh = s.post(URL + "?lang=zh", data=fields, headers=JSON).get_json()["error"]
    assert zh != message and any("\u4e00" <= c <= "\u9fff" for c in zh)
    # Without the script: back to the page with the message, nothing saved.
    r = s.post(URL + "?lang=en", data={**fields, "next": "/"})
    assert r.status_code == 303
    assert message in s.get("/?lang=en", follow_redirects=True).get_data(as_text=True)
    assert saved(app, "patient.a1") == (None, None)


def test_csrf_and_sign_in_are_required(app, login):
    csrf_app_client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    s = login("patient.a1")
    r = s.client.post(URL, data={"text_size": "200", "contrast": "more"}, headers=JSON)  # no token
    assert r.status_code == 400
    assert saved(app, "patient.a1") == (None, None)
    r = csrf_app_client.post(URL, data={"text_size": "200", "contrast": "more"})
    assert r.status_code in (302, 400, 401)  # a stranger changes nobody's display
    assert saved(app, "patient.a1") == (None, None)


def test_the_core_knows_the_sizes():
    assert display.TEXT_SIZES == (100, 125, 150, 175, 200)
    assert display.parse("175%", "more") == display.Display(175, True)
    assert display.parse("100", None) == display.Display(100, False)
    with pytest.raises(ValueError, match="text sizes"):
        display.parse("110", "normal")


def test_the_scripts_are_kept_for_offline(client):
    """Read aloud and the display choice work without a signal: the service worker precaches both."""
    worker = client.get("/sw.js").get_data(as_text=True)
    assert "/static/js/readaloud.js?v=" in worker and "/static/js/display.js?v=" in worker
