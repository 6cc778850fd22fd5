"""Two runs at once (two servers' timers firing together) send each reminder once.

The processes test is the real thing: several `epro remind` processes on one database
(SQLite file or PostgreSQL) and one SMTP server.  The threads test takes the
planning lock away and makes two runs claim the very same reminders at the same
moment: the unique keys alone let exactly one of them have each.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from support.reminder_sinks import SmtpSink

from epro.base.orm import db
from epro.models import ReminderClaim
from epro.services import reminders
from epro.services.reminders import channels
from epro.services.unit_of_work import unit_of_work

SHANGHAI = ZoneInfo("Asia/Shanghai")
EPRO = Path(sys.executable).with_name("epro")


def morning() -> datetime:
    return datetime.combine(datetime.now(SHANGHAI).date(), time(10, 0), SHANGHAI)


def test_concurrent_epro_remind_processes_send_each_reminder_once(app, tmp_path, db_backend):
    with SmtpSink() as smtp:
        env = dict(os.environ, EPRO_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                   EPRO_SECRET_KEY=app.config["SECRET_KEY"], EPRO_INSTANCE_PATH=str(tmp_path),
                   EPRO_MAIL_SERVER="127.0.0.1", EPRO_MAIL_PORT=str(smtp.port),
                   EPRO_VAPID_PRIVATE_KEY=channels.new_vapid_private_key(),
                   EPRO_STAFF_ALERTS="false")  # staff alerts: tests/test_worklist_alerts.py
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # the test's own connections out of the way (SQLite: no lock held)
        runs = [subprocess.Popen([str(EPRO), "remind", "--now", morning().isoformat()], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert all(run.returncode == 0 for run in runs), outputs
        sent = sorted(r for rcpts, _m in smtp.messages for r in rcpts)
        assert sent == ["patient.a1@example.org", "patient.a2@example.org"], outputs
        assert sum(int(out.strip().splitlines()[-1].split()[0]) for out, _err in outputs) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReminderClaim)) == 2


@pytest.mark.postgresql_only  # SQLite serialises writers by BEGIN IMMEDIATE: no two claims can race there
def test_the_unique_keys_hold_without_the_planning_lock(app, monkeypatch, db_backend):
    with SmtpSink() as smtp:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
        monkeypatch.setattr(reminders, "_lock_planning", lambda: None)
        both_planned = threading.Barrier(2)
        won: list[list[int]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with app.app_context():
                    configured = reminders.configured_channels()
                    with unit_of_work():
                        planned = reminders.plan(morning(), configured)
                        assert len(planned) == 2
                        both_planned.wait(timeout=30)  # both planned the same two reminders
                        mine = reminders.claim(planned)
                    won.append([item.claim_id for item in mine if item.claim_id is not None])
                    db.session.remove()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sorted(len(w) for w in won) == [0, 2]  # one run claimed both; the other none
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReminderClaim)) == 2


@pytest.mark.postgresql_only
def test_the_planning_lock_makes_the_second_run_wait_and_see_the_claims(app, db_backend):
    """With the advisory lock, a run that starts while another is planning waits, then plans nothing."""
    with SmtpSink() as smtp:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
        first_locked, release = threading.Event(), threading.Event()
        counts: dict[str, int] = {}

        def first() -> None:
            with app.app_context():
                configured = reminders.configured_channels()
                with unit_of_work():
                    reminders._lock_planning()
                    first_locked.set()
                    release.wait(timeout=30)
                    counts["first"] = len(reminders.claim(reminders.plan(morning(), configured)))
                db.session.remove()

        def second() -> None:
            first_locked.wait(timeout=30)
            with app.app_context():
                configured = reminders.configured_channels()
                with unit_of_work():
                    counts["second"] = len(reminders.plan_and_claim(morning(), configured))
                db.session.remove()

        a, b = threading.Thread(target=first), threading.Thread(target=second)
        a.start()
        b.start()
        first_locked.wait(timeout=30)
        b.join(timeout=1)
        assert b.is_alive(), "the second run should wait for the first one's lock"
        release.set()
        a.join(timeout=30)
        b.join(timeout=30)
        assert counts == {"first": 2, "second": 0}


@pytest.mark.sqlite_only  # the literal demo: `epro demo` on its default SQLite file in a fresh instance folder
def test_epro_demo_then_epro_remind_twice(tmp_path, db_backend):
    """The issue's check, word for word: after `epro demo`, `epro remind` sends patient.a1's M3 reminder
    once by e-mail and push in Chinese, and a second run sends nothing."""
    from sqlalchemy import create_engine, text
    from support.reminder_sinks import Browser, PushService

    env = dict(os.environ, EPRO_INSTANCE_PATH=str(tmp_path))
    env.pop("EPRO_SQLALCHEMY_DATABASE_URI", None)
    demo = subprocess.run([str(EPRO), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "vapid_private_key").exists() and (tmp_path / "secret_key").exists()
    with SmtpSink() as smtp, PushService() as push:
        browser = Browser(push.endpoint("a1"))
        keys = browser.subscription()["keys"]
        engine = create_engine("sqlite:///" + str(tmp_path / "epro.db"))
        with engine.begin() as conn:  # as POST /api/v1/push-subscriptions stores it (tests/test_reminders_web.py)
            conn.execute(text("INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) "
                              "SELECT id, :e, :p, :a, CURRENT_TIMESTAMP FROM users WHERE username = 'patient.a1'"),
                         {"e": browser.endpoint, "p": keys["p256dh"], "a": keys["auth"]})
        engine.dispose()
        env.update(EPRO_MAIL_SERVER="127.0.0.1", EPRO_MAIL_PORT=str(smtp.port), EPRO_PUSH_ALLOW_HTTP_ENDPOINTS="true")
        first = subprocess.run([str(EPRO), "remind", "--now", morning().isoformat()], env=env, capture_output=True,
                               text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert "patient.a1 (patient) · A-001 M3 opened [bi,gds15] via push, email in zh" in first.stdout
        (mail,) = smtp.to("patient.a1@example.org")
        assert mail["Subject"] == "epro 提醒" and "第3个月" in mail.get_content()
        (pushed,) = push.to("a1")
        import json

        assert "第3个月" in json.loads(browser.decrypt(pushed))["body"]
        second = subprocess.run([str(EPRO), "remind", "--now", morning().isoformat()], env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 0 and second.stdout.strip().endswith("0 reminder(s) sent.")
        assert len(smtp.to("patient.a1@example.org")) == 1 and len(push.to("a1")) == 1
