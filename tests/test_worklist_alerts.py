"""Clinician alert e-mails from `epro remind`, end to end: a real SMTP server (aiosmtpd, the reminders'
sink) receives each alert once per member of the site team, with no health data and a link to the alerts
page; a second run sends nothing.  On SQLite and PostgreSQL, through the command itself."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from support.alerts import make_alerts_due
from support.reminder_sinks import SmtpSink

from epro.app.cli import remind_command
from epro.base.orm import db
from epro.models import AlertClaim

BASE = "https://epro.example-hospital.cn"
#: What no alert e-mail may carry: the event, the problem, a score, an instrument, a grade, an arm.
CLINICAL = re.compile(r"(?i)\b(pneumonia|score|total|barthel|gds|nihss|mrs|mmse|grade|serious|adverse|arm|dose|"
                      r"headache|hmsc|bmsc)\w*|肺炎|头痛|评分|总分|严重|不良事件|剂量|组别")


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def configured(app, smtp):
    app.config.update(BASE_URL=BASE, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                      MAIL_SENDER="epro <alerts@example-hospital.cn>", SMS_DRIVER="none")
    return app


def remind(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(remind_command, [*args])
    assert result.exit_code == 0, result.output
    return result.output


def _sae_mails(smtp, address: str):
    return [m for m in smtp.to(address) if "A-002" in m.get_content()]


def test_an_alert_mail_goes_to_the_site_team_once(configured, smtp, db_backend):
    make_alerts_due(configured)
    out = remind(configured)
    assert "staff alert e-mail(s) sent." in out
    for member in ("clinician.a", "investigator.a"):
        (mail,) = _sae_mails(smtp, f"{member}@example.org")
        body = mail.get_content()
        assert "您所在医院的患者 A-002 有需要您查看的内容。" in body  # demo staff read Chinese
        assert f"{BASE}/clinic/worklists/alerts?lang=zh" in body
        assert CLINICAL.search(body + mail["Subject"]) is None, body
        assert mail["Subject"] == "epro：有需要您查看的内容"
    # the other site's clinician, read-only staff and patients get no alert e-mail
    for other in ("clinician.b", "monitor.a", "datamanager", "patient.a2"):
        assert _sae_mails(smtp, f"{other}@example.org") == []
    (problem,) = [m for m in smtp.to("clinician.a@example.org") if "A-001" in m.get_content()]
    first = len(smtp.messages)
    again = remind(configured)
    assert "0 staff alert e-mail(s) sent." in again and len(smtp.messages) == first
    with configured.app_context():
        claims = db.session.scalars(select(AlertClaim)).all()
        assert {c.status for c in claims} == {"sent"}
        assert len({(c.alert_key, c.recipient_id) for c in claims}) == len(claims)


def test_english_for_staff_who_chose_it_and_a_dry_run_sends_nothing(configured, smtp, db_backend):
    from epro.models import User

    make_alerts_due(configured)
    with configured.app_context():
        db.session.scalar(select(User).where(User.username == "investigator.a")).locale = "en"
        db.session.commit()
    dry = remind(configured, "--dry-run")
    assert "would send: alert sae_clock for A-002 to clinician.a" in dry and smtp.messages == []
    remind(configured)
    (mail,) = _sae_mails(smtp, "investigator.a@example.org")
    assert "There is something to review for patient A-002 at your site." in mail.get_content()
    assert f"{BASE}/clinic/worklists/alerts?lang=en" in mail.get_content()


def test_no_mail_server_claims_nothing(app, db_backend):
    make_alerts_due(app)
    out = remind(app)
    assert "staff alerts: no mail server configured" in out
    with app.app_context():
        assert db.session.scalars(select(AlertClaim)).all() == []


def test_a_claim_taken_meanwhile_is_not_sent_again(configured, smtp, db_backend):
    """Two runs that planned the same alerts: only the claims a run inserted are its own (ON CONFLICT DO NOTHING)."""
    from epro.services.unit_of_work import unit_of_work
    from epro.services.worklists import alerts

    make_alerts_due(configured)
    with configured.app_context():
        now = datetime.now(UTC)
        with unit_of_work():
            first_plan = alerts.plan(now)
        with unit_of_work():
            second_plan = alerts.plan(now)  # planned before the first run claimed anything
        assert first_plan and len(first_plan) == len(second_plan)
        with unit_of_work():
            mine = alerts.claim(first_plan)
        with unit_of_work():
            theirs = alerts.claim(second_plan)
        assert len(mine) == len(first_plan) and theirs == []
        assert db.session.scalar(select(func.count()).select_from(AlertClaim)) == len(first_plan)


def test_concurrent_epro_remind_processes_send_each_alert_once(app, tmp_path, smtp, db_backend):
    import os
    import subprocess
    import sys
    from pathlib import Path

    make_alerts_due(app)
    env = dict(os.environ, EPRO_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               EPRO_SECRET_KEY=app.config["SECRET_KEY"], EPRO_INSTANCE_PATH=str(tmp_path),
               EPRO_MAIL_SERVER="127.0.0.1", EPRO_MAIL_PORT=str(smtp.port), EPRO_SMS_DRIVER="none")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    epro = Path(sys.executable).with_name("epro")
    runs = [subprocess.Popen([str(epro), "remind"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    staff = [(tuple(rcpts), m.get_content()) for rcpts, m in smtp.messages
             if any(r.split("@")[0] in ("clinician.a", "investigator.a", "clinician.b") for r in rcpts)]
    assert staff and len(staff) == len(set(staff))  # one e-mail per person and patient, whichever run sent it
    with app.app_context():
        claims = db.session.scalars(select(AlertClaim)).all()
        assert claims and {c.status for c in claims} == {"sent"}
