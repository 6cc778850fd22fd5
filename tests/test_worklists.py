"""Worklists on the demo database: the call list (who, how urgent, reminders, last call; recording a call),
the completion report (the schedule's statuses per site and visit, the reminder funnel, CSV) and the
clinician alerts page, in both languages, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from support.alerts import make_alerts_due

from epro.base.orm import db
from epro.core import instruments, worklists
from epro.models import AuditEvent, ContactCall, Patient, ReminderClaim, User
from epro.services import followup


def answer(s, pid: int, visit: str, code: str, respondent: str = "patient", when: datetime | None = None):
    definition = instruments.get(code)
    answers = {item.key: item.choices[0].value for item in definition.items}
    r = s.api_post("/api/v1/responses", {
        "id": str(uuid.uuid4()), "patient_id": pid, "visit": visit, "instrument": code, "answers": answers,
        "respondent": respondent, "completed_at": (when or datetime.now(UTC)).isoformat()})
    assert r.status_code == 201, r.get_data(as_text=True)


def listed(html: str) -> list[tuple[str, str]]:
    """(subject, status) of the call list, in page order."""
    return re.findall(r'data-subject="([^"]+)" data-status="([^"]+)"', html)


def test_the_call_list_shows_the_site_due_patients_most_urgent_first(app, login, ids, db_backend):
    s = login("clinician.a")
    html = s.get("/clinic/worklists/calls?lang=en").get_data(as_text=True)
    rows = listed(html)
    subjects = [subject for subject, _status in rows]
    assert "A-001" in subjects and not any(x.startswith("B-") for x in subjects)
    ranks = [worklists.URGENCY.index(status) for _subject, status in rows]
    assert ranks == sorted(ranks)  # overdue, then last days, then due
    assert "not called yet" in html and "Record a call" in html
    zh = s.get("/clinic/worklists/calls?lang=zh").get_data(as_text=True)
    assert "呼叫名单" in zh and "记录一次电话" in zh
    # the other site's clinician sees only site B
    b = listed(login("clinician.b").get("/clinic/worklists/calls").get_data(as_text=True))
    assert b and all(subject.startswith("B-") for subject, _ in b)


def test_a_recorded_call_shows_on_the_list_and_is_audited(app, login, ids, db_backend):
    s = login("clinician.a")
    pid = ids["A-001"]
    r = s.post(f"/clinic/worklists/calls/{pid}?lang=en", data={"outcome": "reached_will_answer",
                                                               "note": "=call back after 5 pm", "visit": "M3"})
    assert r.status_code == 302 and r.headers["Location"].endswith("#call-A-001")
    html = s.get("/clinic/worklists/calls?lang=en").get_data(as_text=True)
    card = html[html.index('id="call-A-001"'):]
    card = card[:card.index("</li>")]
    assert 'data-last-call="reached_will_answer"' in card and "Reached: will answer" in card
    assert "=call back after 5 pm" in card
    with app.app_context():
        call = db.session.scalar(select(ContactCall).where(ContactCall.patient_id == pid))
        assert call.visit_code == "M3" and call.called_by.username == "clinician.a"
        trail = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "contact_calls")).all()
        assert len(trail) == 1 and trail[0].action == "create"
    history = s.get(f"/clinic/worklists/calls/{pid}?lang=zh").get_data(as_text=True)
    assert "已联系上：稍后填写" in history


def test_a_call_needs_an_outcome_from_the_list(app, login, ids, db_backend):
    s = login("clinician.a")
    for lang, words in (("en", "Please choose what happened on the call."), ("zh", "请选择这次电话的结果。")):
        r = s.post(f"/clinic/worklists/calls/{ids['A-001']}?lang={lang}", data={"outcome": "hung up",
                                                                            "note": "rang twice"})
        r = s.follow(r)  # post–redirect–get: a reload of the message posts nothing again
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and words in html and "rang twice" in html
    r = s.follow(s.post(f"/clinic/worklists/calls/{ids['A-001']}", data={"outcome": "no_answer", "note": "x" * 501}))
    assert r.status_code == 422
    with app.app_context():
        assert db.session.scalars(select(ContactCall)).all() == []
    # read-only staff and other sites: not found
    assert login("monitor.a").post(f"/clinic/worklists/calls/{ids['A-001']}",
                                   data={"outcome": "no_answer"}).status_code == 404
    assert login("clinician.b").post(f"/clinic/worklists/calls/{ids['A-001']}",
                                     data={"outcome": "no_answer"}).status_code == 404


def test_the_list_empties_as_patients_answer_and_counts_reminders(app, login, ids, db_backend):
    pid = ids["A-001"]
    _reminded(app, pid, days_ago=1)
    s = login("clinician.a")
    html = s.get("/clinic/worklists/calls?lang=en").get_data(as_text=True)
    card = html[html.index('id="call-A-001"'):]
    assert 'data-reminders="1"' in card[:card.index("</li>")]
    patient = login("patient.a1")
    answer(patient, pid, "M3", "bi")
    assert "A-001" in [x for x, _ in listed(s.get("/clinic/worklists/calls").get_data(as_text=True))]
    answer(patient, pid, "M3", "gds15")
    assert "A-001" not in [x for x, _ in listed(s.get("/clinic/worklists/calls").get_data(as_text=True))]


def _api_statuses(s, pids) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for pid in pids:
        for v in s.get(f"/api/v1/patients/{pid}/schedule").get_json()["visits"]:
            counts = out.setdefault(v["code"], {})
            counts[v["status"]] = counts.get(v["status"], 0) + 1
    return out


def test_the_completion_report_counts_the_schedule_statuses(app, login, ids, db_backend):
    s = login("datamanager")
    html = s.get("/clinic/worklists/completion?lang=en").get_data(as_text=True)
    assert 'data-completion="A"' in html and 'data-completion="B"' in html and "<svg" in html
    r = s.get("/clinic/worklists/completion.csv?site=A")
    assert r.mimetype == "text/csv" and r.headers["Cache-Control"].startswith("no-store")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["site"] for row in rows} == {"A"}
    a_ids = [pid for code, pid in ids.items() if code.startswith("A-")]
    expected = _api_statuses(s, a_ids)
    for row in rows:
        want = expected[row["visit"]]
        assert int(row["on_time"]) == want.get("complete", 0), row
        assert int(row["late"]) == want.get("late", 0) and int(row["missed"]) == want.get("missed", 0), row
        assert int(row["open"]) == want.get("open", 0) and int(row["upcoming"]) == want.get("upcoming", 0), row
    assert any(int(row["late"]) for row in rows)  # A-004's M3 was answered late
    # site staff: their own site only, both languages
    c = login("clinician.b")
    assert 'data-completion="A"' not in c.get("/clinic/worklists/completion").get_data(as_text=True)
    rows_b = list(csv.DictReader(io.StringIO(c.get("/clinic/worklists/completion.csv?site=A")
                                             .get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["site"] for row in rows_b} == {"B"}
    assert "完成情况报告" in c.get("/clinic/worklists/completion?lang=zh").get_data(as_text=True)


def test_the_funnel_follows_a_reminded_visit_to_its_completion(app, login, ids, db_backend):
    pid = ids["A-001"]
    _reminded(app, pid, days_ago=2)
    s = login("clinician.a")

    def m3() -> dict[str, str]:
        r = s.get("/clinic/worklists/completion.csv")
        return next(row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")))
                    if row["visit"] == "M3")

    assert (m3()["reminded"], m3()["completed_after_reminder"]) == ("1", "0")
    patient = login("patient.a1")
    answer(patient, pid, "M3", "bi")
    answer(patient, pid, "M3", "gds15")
    row = m3()
    assert (row["reminded"], row["completed_after_reminder"], row["median_days_to_completion"]) == ("1", "1", "2")
    assert row["completed_in_1_3_days"] == "1"


def test_the_chart_has_a_table_with_the_same_numbers(app, login, db_backend):
    html = login("clinician.a").get("/clinic/worklists/completion?lang=zh").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "按时" in svg
    values = sorted(int(v) for v in re.findall(r'data-value="(\d+)"', svg))
    table = html[html.index('data-completion="A"'):]
    table = table[:table.index("</table>")]
    cells = [int(v) for st, v in re.findall(r'data-status="(complete|late|missed|open)">(\d+)<', table)]
    assert values == sorted(v for v in cells if v)


def test_alerts_list_sae_clocks_near_deadline_and_old_unreviewed_problems(app, login, ids, db_backend):
    s = login("clinician.a")
    before = s.get("/clinic/worklists/alerts?lang=en").get_data(as_text=True)
    assert 'data-alert="sae_clock"' not in before  # the demo SAE was known 3 hours ago: 21 hours left
    make_alerts_due(app)
    html = s.get("/clinic/worklists/alerts?lang=en").get_data(as_text=True)
    assert 'data-alert="sae_clock" data-subject="A-002"' in html and "SAE report deadline near" in html
    assert 'data-alert="problem"' in html
    assert html.index('data-alert="sae_clock"') < html.index('data-alert="problem"')
    nav = re.search(r'data-nav-alerts="(\d+)"', html)
    assert nav and int(nav.group(1)) == html.count('data-alert="') >= 2  # the badge counts what the page lists
    assert "严重不良事件报告时限将到" in s.get("/clinic/worklists/alerts?lang=zh").get_data(as_text=True)
    # the other site sees none of it
    other = login("clinician.b").get("/clinic/worklists/alerts").get_data(as_text=True)
    assert "A-002" not in other and 'data-alert="sae_clock"' not in other


@pytest.mark.sqlite_only
def test_worklist_messages_are_in_both_catalogs(app):
    from babel.messages.pofile import read_po

    from epro.base.i18n import TRANSLATIONS
    from epro.services.worklists import alerts, calls

    with open(TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    wanted = [*worklists.OUTCOMES.values(), *worklists.URGENCY_LABELS.values(), *worklists.ALERT_KINDS.values(),
              *worklists.DELAY_LABELS.values(), calls.CHOOSE_OUTCOME, alerts.TITLE, alerts.BODY, alerts.OPEN_LINK,
              alerts.WHY, alerts.SAE_DETAIL, alerts.SAE_OVERDUE, alerts.PROBLEM_DETAIL]
    missing = [m for m in wanted if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == []


def test_funnel_rule():
    d = date(2026, 12, 1)
    f = worklists.funnel([(d, d), (d, d + timedelta(days=2)), (d, None), (d, d + timedelta(days=9)),
                          (d, d - timedelta(days=1))])
    assert (f.reminded, f.completed, f.days, f.median_days) == (5, 4, (0, 0, 2, 9), 1.0)
    assert f.within == {"same_day": 2, "days_1_3": 1, "days_4_7": 0, "later": 1}
    assert worklists.funnel([]).median_days is None


def test_urgency_rule():
    today = date(2026, 12, 2)
    overdue = worklists.DueVisit("M1", today - timedelta(days=40), today - timedelta(days=10), overdue=True)
    closing = worklists.DueVisit("M3", today - timedelta(days=10), today + timedelta(days=2), overdue=False)
    due = worklists.DueVisit("M3", today - timedelta(days=1), today + timedelta(days=12), overdue=False)
    assert [worklists.urgency(v, today) for v in (overdue, closing, due)] == ["overdue", "closing", "due"]
    called = datetime(2026, 12, 1, tzinfo=UTC)
    keys = sorted([("due", due, None), ("closing", closing, called), ("closing", closing, None),
                   ("overdue", overdue, called)], key=lambda k: worklists.sort_key(k[0], k[1], today, k[2]))
    assert [(k[0], k[2]) for k in keys] == [("overdue", called), ("closing", None), ("closing", called),
                                           ("due", None)]


def test_the_stacked_bar_chart_escapes_and_checks():
    from epro.core import charts

    svg = charts.stacked_bar_svg([("<M3>", [2, 0, 1])], series=["a&b", "late", "missed"], title="T<", description="D",
                                 id_prefix="c1")
    assert "&lt;M3&gt;" in svg and "a&amp;b" in svg and "T&lt;" in svg and 'data-value="2"' in svg
    assert 'data-series="1"' not in svg  # a zero part draws nothing
    with pytest.raises(ValueError):
        charts.stacked_bar_svg([("M3", [1])], series=["a", "b"], title="t", description="d")


def test_withdrawn_or_ended_patients_are_never_on_the_call_list(app, login, ids, db_backend):
    s = login("clinician.a")
    before = [x for x, _ in listed(s.get("/clinic/worklists/calls").get_data(as_text=True))]
    assert "A-001" in before and "A-002" in before
    with app.app_context():
        db.session.get(Patient, ids["A-001"]).consent_withdrawn = True
        a2 = db.session.get(Patient, ids["A-002"])
        a2.disposition, a2.disposition_on = "lost", followup.patient_today(a2) - timedelta(days=1)
        db.session.commit()
    after = [x for x, _ in listed(s.get("/clinic/worklists/calls").get_data(as_text=True))]
    assert "A-001" not in after and "A-002" not in after


def _reminded(app, pid: int, *, days_ago: int) -> None:
    """patient.a1 was sent the M3 "window opened" e-mail *days_ago* days ago (a claim as epro remind leaves it)."""
    with app.app_context():
        p = db.session.get(Patient, pid)
        user = db.session.scalar(select(User).where(User.username == "patient.a1"))
        day = followup.patient_today(p) - timedelta(days=days_ago)
        db.session.add(ReminderClaim(patient_id=pid, recipient_id=user.id, visit_code="M3", instrument_set="bi,gds15",
                                     kind="opened", local_day=day, status="sent",
                                     sent_at=datetime.now(UTC) - timedelta(days=days_ago), channels={"email": "sent"}))
        db.session.commit()
