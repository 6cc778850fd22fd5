"""`epro remind` end to end: a real SMTP server (aiosmtpd) and a local push service receive exactly the
expected messages once; the push is decrypted with the subscription's own private key (http-ece).

Runs on SQLite and PostgreSQL (the demo database), through the command itself.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from py_vapid import Vapid
from sqlalchemy import select
from support.reminder_sinks import Browser, PushService, SmtpSink, b64url_decode

from epro.app.cli import remind_command
from epro.base.orm import db
from epro.core import instruments
from epro.models import CaregiverLink, Patient, PushSubscription, ReminderClaim, User
from epro.services import reminders
from epro.services.reminders import channels

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE = "https://epro.example-hospital.cn"
#: What no reminder may carry (a lock screen is public): scores, instruments, diagnosis, arm, dose.
CLINICAL = re.compile(r"(?i)\b(score|total|barthel|gds|depress|stroke|nihss|mrs|mmse|arm|dose|low|high|medium|"
                      r"hmsc|bmsc|placebo|diagnos)\w*|评分|总分|抑郁|卒中|中风|剂量|低剂量|组别|诊断|干细胞")


def site_morning(day: date | None = None) -> datetime:
    """10:00 at the demo sites today: outside the quiet hours."""
    day = day or datetime.now(SHANGHAI).date()
    return datetime.combine(day, time(10, 0), SHANGHAI)


@pytest.fixture
def sinks():
    with SmtpSink() as smtp, PushService() as push:
        yield smtp, push


@pytest.fixture
def configured(app, sinks):
    smtp, _push = sinks
    app.config.update(BASE_URL=BASE, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                      MAIL_SENDER="epro <reminders@example-hospital.cn>",
                      VAPID_PRIVATE_KEY=channels.new_vapid_private_key(), VAPID_SUBJECT="mailto:it@example-hospital.cn",
                      PUSH_ALLOW_HTTP_ENDPOINTS=True,
                      STAFF_ALERTS=False)  # the staff alert step has its own tests (tests/test_worklist_alerts.py)
    return app


def remind(app, *args: str, now: datetime | None = None):
    result = app.test_cli_runner().invoke(remind_command, ["--now", (now or site_morning()).isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result.output


def subscribe(login, username: str, browser: Browser) -> None:
    s = login(username)
    r = s.client.post("/api/v1/push-subscriptions", json=browser.subscription(), headers={"X-CSRFToken": s.csrf})
    assert r.status_code == 201, r.get_data(as_text=True)


def test_demo_sends_a1_m3_once_by_email_and_push_in_chinese(configured, login, ids, sinks, db_backend):
    smtp, push = sinks
    browser = Browser(push.endpoint("a1-phone"))
    subscribe(login, "patient.a1", browser)

    out = remind(configured)
    assert "patient.a1 (patient) · A-001 M3 opened [bi,gds15] via push, email in zh" in out

    # E-mail: exactly one to patient.a1, in Chinese, with the link that opens the first questionnaire.
    (mail,) = smtp.to("patient.a1@example.org")
    text = mail.get_content()
    link = f"{BASE}/patients/{ids['A-001']}/visits/M3/bi?lang=zh"
    assert mail["Subject"] == "epro 提醒" and mail["From"] == "epro <reminders@example-hospital.cn>"
    assert "第3个月" in text and "您好" in text and link in text and f"{BASE}/reminders?lang=zh" in text
    assert CLINICAL.search(text) is None, CLINICAL.search(text)
    # Nobody else at site A with an account is due but patient.a2 (her M3 is open too); the caregiver
    # has not asked for reminders; patient.b1's M1 window is not open yet.
    assert sorted(r for rcpts, _m in smtp.messages for r in rcpts) == ["patient.a1@example.org",
                                                                       "patient.a2@example.org"]

    # Push: exactly one, encrypted for this browser (aes128gcm), signed with our VAPID key.
    (pushed,) = push.to("a1-phone")
    assert pushed.headers["content-encoding"] == "aes128gcm" and int(pushed.headers["ttl"]) > 0
    payload = json.loads(browser.decrypt(pushed).decode("utf-8"))
    assert payload["lang"] == "zh" and payload["title"] == "epro 提醒" and "第3个月" in payload["body"]
    assert payload["url"] == link
    assert CLINICAL.search(payload["title"] + payload["body"]) is None
    assert "问卷" in payload["body"] and "第3个月" not in pushed.body.decode("latin-1")
    scheme, _, token = pushed.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(part.strip().split("=", 1) for part in token.split(","))
    with configured.app_context():
        assert parts["k"] == reminders.vapid_public_key()
    assert Vapid.verify(pushed.headers["authorization"])  # signed by our key (RFC 8292)
    claims = json.loads(b64url_decode(parts["t"].split(".")[1]))
    assert claims["aud"] == f"http://127.0.0.1:{push.port}" and claims["sub"] == "mailto:it@example-hospital.cn"

    # The claim says what was sent.
    with configured.app_context():
        claim = db.session.scalar(select(ReminderClaim).where(ReminderClaim.patient_id == ids["A-001"]))
        assert (claim.status, claim.kind, claim.visit_code) == ("sent", "opened", "M3")
        assert claim.instrument_set == "bi,gds15"
        assert claim.channels == {"push": "sent", "email": "sent"}

    # A second run sends nothing; so does a run later the same day.
    out = remind(configured)
    assert "0 reminder(s) sent." in out
    assert "0 reminder(s) sent." in remind(configured, now=site_morning() + timedelta(hours=6))
    assert len(smtp.messages) == 2 and len(push.received) == 1


def test_dry_run_prints_and_sends_nothing(configured, sinks, db_backend):
    smtp, _push = sinks
    out = remind(configured, "--dry-run")
    assert "would send: patient.a1 (patient) · A-001 M3 opened [bi,gds15] via email in zh" in out
    assert "nothing sent (--dry-run)" in out and smtp.messages == []
    with configured.app_context():
        assert db.session.scalar(select(ReminderClaim)) is None
    assert "2 reminder(s) sent." in remind(configured)


def test_quiet_hours_in_the_site_zone(configured, sinks, db_backend):
    smtp, _push = sinks
    night = datetime.combine(datetime.now(SHANGHAI).date(), time(22, 30), SHANGHAI)
    out = remind(configured, now=night)
    assert "quiet hours in Asia/Shanghai" in out and "0 reminder(s) sent." in out and smtp.messages == []


def test_done_questionnaires_stop_the_reminder(configured, login, ids, sinks, db_backend):
    smtp, _push = sinks
    s = login("patient.a1")
    for code in ("bi", "gds15"):
        answers = {item.key: item.allowed_values[0] for item in instruments.get(code).items}
        r = s.api_post("/api/v1/responses", {"id": str(uuid.uuid4()), "patient_id": ids["A-001"], "visit": "M3",
                                             "instrument": code, "answers": answers, "respondent": "patient",
                                             "completed_at": datetime.now(SHANGHAI).isoformat()})
        assert r.status_code == 201, r.get_data(as_text=True)
    remind(configured)
    assert smtp.to("patient.a1@example.org") == [] and len(smtp.to("patient.a2@example.org")) == 1


def test_one_questionnaire_done_still_reminds_of_the_other(configured, login, ids, sinks, db_backend):
    smtp, _push = sinks
    s = login("patient.a1")
    answers = {item.key: item.allowed_values[0] for item in instruments.get("bi").items}
    r = s.api_post("/api/v1/responses", {"id": str(uuid.uuid4()), "patient_id": ids["A-001"], "visit": "M3",
                                         "instrument": "bi", "answers": answers, "respondent": "patient",
                                         "completed_at": datetime.now(SHANGHAI).isoformat()})
    assert r.status_code == 201
    remind(configured)
    (mail,) = smtp.to("patient.a1@example.org")
    assert f"/patients/{ids['A-001']}/visits/M3/gds15?lang=zh" in mail.get_content()


@pytest.mark.parametrize("change", ["withdrawn", "died"])
def test_nothing_for_withdrawn_or_deceased_patients(configured, ids, sinks, change, db_backend):
    smtp, _push = sinks
    with configured.app_context():
        patient = db.session.get(Patient, ids["A-001"])
        if change == "withdrawn":
            patient.consent_withdrawn = True
        else:
            patient.disposition, patient.disposition_on = "died", datetime.now(SHANGHAI).date() - timedelta(days=1)
        db.session.commit()
    remind(configured)
    assert smtp.to("patient.a1@example.org") == []


def test_stopped_reminders_and_a_caregiver_who_asked_for_them(configured, login, sinks, db_backend):
    smtp, push = sinks
    patient = login("patient.a1")
    r = patient.post("/reminders", data={"action": "stop"})
    assert r.status_code == 302
    caregiver = login("caregiver.a1")
    r = caregiver.post("/reminders", data={"action": "save", "email": "y", "email_address": "caregiver.a1@example.org"})
    assert r.status_code == 302
    out = remind(configured)
    assert "caregiver.a1 (caregiver) · A-001 M3 opened [bi,gds15] via email in zh" in out
    assert smtp.to("patient.a1@example.org") == []
    (mail,) = smtp.to("caregiver.a1@example.org")
    assert "您照顾的人" in mail.get_content() and CLINICAL.search(mail.get_content()) is None


def test_english_and_sms_through_the_http_driver(configured, sinks, db_backend):
    """The person's language; SMS through the HTTP provider driver (the local push server stands in)."""
    smtp, push = sinks
    configured.config.update(SMS_DRIVER="http", SMS_HTTP_URL=push.endpoint("sms-provider"), SMS_HTTP_TOKEN="t0k")
    with configured.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        user.locale = "en"
        db.session.commit()
        reminders.save_preferences(user, push=False, email=True, sms=True, stopped=False)
        db.session.commit()
    remind(configured)
    (mail,) = smtp.to("patient.a1@example.org")
    assert mail["Subject"] == "epro reminder" and "Month 3" in mail.get_content() and "?lang=en" in mail.get_content()
    sms = [json.loads(p.body) for p in push.to("sms-provider")]
    assert [m["to"] for m in sms] == ["+86 138 0000 0001"]
    assert push.to("sms-provider")[0].headers["authorization"] == "Bearer t0k"
    assert "Month 3" in sms[0]["text"] and CLINICAL.search(sms[0]["text"]) is None


def test_the_log_sms_driver_logs_and_says_so(configured, sinks, caplog, db_backend):
    smtp, _push = sinks
    with configured.app_context():
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        reminders.save_preferences(user, push=False, email=False, sms=True, stopped=False)
        db.session.commit()
        user_id = user.id
    with caplog.at_level("INFO", logger="epro.reminders"):
        out = remind(configured)
    assert "'sms': 'logged'" in out and smtp.to("patient.a1@example.org") == []
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sms to ")]
    assert line.startswith("sms to +86…01: ") and "第3个月" in line and "0001" not in line
    with configured.app_context():
        claim = db.session.scalar(select(ReminderClaim).where(ReminderClaim.recipient_id == user_id))
        assert claim.status == "sent" and claim.channels == {"sms": "logged"}


def test_a_gone_subscription_is_dropped_and_email_still_goes(configured, login, sinks, db_backend):
    smtp, push = sinks
    push.gone.add("old-phone")
    subscribe(login, "patient.a1", Browser(push.endpoint("old-phone")))
    out = remind(configured)
    assert "'push': 'push 410'" in out and "'email': 'sent'" in out
    with configured.app_context():
        assert db.session.scalar(select(PushSubscription)) is None


def test_a_crash_between_claim_and_send_never_sends_twice(configured, sinks, db_backend):
    """The claim is committed first; if the sender dies before sending, no later run sends it again."""
    from epro.services.unit_of_work import unit_of_work

    smtp, _push = sinks
    with configured.app_context():
        with unit_of_work():
            claimed = reminders.plan_and_claim(site_morning(), reminders.configured_channels())
        assert len(claimed) == 2  # ... and the process "crashes" here: nothing delivered
    assert "0 reminder(s) sent." in remind(configured) and smtp.messages == []
    out = remind(configured, "--dry-run")
    assert out.count("claimed but never sent (not retried)") == 2


def test_one_message_a_day_per_person(configured, ids, sinks, db_backend):
    """A caregiver of two patients who are both due gets one message today, the other tomorrow."""
    smtp, _push = sinks
    with configured.app_context():
        caregiver = db.session.scalar(select(User).where(User.username == "caregiver.a1"))
        db.session.add(CaregiverLink(caregiver_id=caregiver.id, patient_id=ids["A-002"]))
        db.session.commit()
        reminders.save_preferences(caregiver, push=False, email=True, sms=False, stopped=False)
        db.session.commit()
        caregiver_id = caregiver.id
    remind(configured)
    assert len(smtp.to("caregiver.a1@example.org")) == 1
    remind(configured, now=site_morning() + timedelta(days=1))
    assert len(smtp.to("caregiver.a1@example.org")) == 2  # the other patient's, the next day
    remind(configured, now=site_morning() + timedelta(days=2))
    assert len(smtp.to("caregiver.a1@example.org")) == 2  # both "opened" reminders sent: nothing more yet
    with configured.app_context():
        claims = db.session.scalars(select(ReminderClaim).where(ReminderClaim.recipient_id == caregiver_id)).all()
        assert sorted(c.patient_id for c in claims) == sorted([ids["A-001"], ids["A-002"]])
        assert len({c.local_day for c in claims}) == 2


def test_the_closing_and_last_day_reminders_follow(configured, ids, sinks, db_backend):
    """Over the window: opened, then closing, then last day; never more than one each."""
    smtp, _push = sinks
    with configured.app_context():
        from epro.services import followup

        m3 = followup.find_visit(db.session.get(Patient, ids["A-001"]), "M3")
    for day in range((m3.window_end - datetime.now(SHANGHAI).date()).days + 2):
        remind(configured, now=site_morning(datetime.now(SHANGHAI).date() + timedelta(days=day)))
    with configured.app_context():
        kinds = db.session.scalars(select(ReminderClaim.kind).where(ReminderClaim.patient_id == ids["A-001"])
                                   .order_by(ReminderClaim.local_day)).all()
    assert kinds == ["opened", "closing", "last-day"]
    assert len(smtp.to("patient.a1@example.org")) == 3
    bodies = [m.get_content() for m in smtp.to("patient.a1@example.org")]
    assert "最后一天" in bodies[2] and "还在等您" in bodies[1]
