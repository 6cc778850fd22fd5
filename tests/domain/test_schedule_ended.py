"""The schedule once a patient's participation ended: visits not done are "ended", nothing is due."""
from datetime import UTC, date, datetime

from epro.core import schedule, timeline

VISITS = (
    schedule.VisitDef("BL", 0, 0, 0, ("bi",)),
    schedule.VisitDef("M1", 1, 7, 7, ("bi",)),
    schedule.VisitDef("M3", 3, 14, 14, ("bi",)),
    schedule.VisitDef("M6", 6, 14, 14, ("bi",)),
)
DAY0 = date(2026, 1, 10)
PLANNED = schedule.plan(DAY0, date(2026, 1, 5), VISITS)


def sub(visit: str, day: date) -> schedule.Submission:
    moment = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)
    return schedule.Submission(f"{visit}-bi", visit, "bi", moment, moment, day, 50, "patient")


SUBS = [sub("BL", DAY0)]  # M1 never answered: missed before the end


def test_visits_not_done_by_the_end_are_ended_not_missed():
    today = date(2026, 7, 1)  # M6 open
    ended_on = date(2026, 4, 1)  # after M1's window, before M3's closed
    statuses = [schedule.visit_status(v, SUBS, today, ended_on=ended_on) for v in PLANNED]
    assert statuses == ["complete", "missed", "ended", "ended"]
    assert [schedule.visit_status(v, SUBS, today) for v in PLANNED] == ["complete", "missed", "missed", "open"]
    m6 = PLANNED[3]
    assert schedule.instrument_status(m6, "bi", SUBS, today) == "due"
    assert schedule.instrument_status(m6, "bi", SUBS, today, ended_on) == "not-due"
    assert schedule.ended(PLANNED[2], ended_on) and not schedule.ended(PLANNED[1], ended_on)
    assert not schedule.ended(PLANNED[2], None)


def test_a_done_visit_stays_done_after_the_end():
    subs = [*SUBS, sub("M3", date(2026, 4, 12))]
    assert schedule.visit_status(PLANNED[2], subs, date(2026, 6, 1), ended_on=date(2026, 4, 12)) == "complete"


def test_nothing_is_due_once_ended():
    today = date(2026, 7, 10)  # M6 open
    assert schedule.agenda(PLANNED, SUBS, today, ("bi",)).due_now
    ended = schedule.agenda(PLANNED, SUBS, today, ("bi",), ended_on=date(2026, 7, 10))
    assert ended.nothing_to_do and ended.next_visit is None


def test_timeline_and_summary_take_the_end():
    today = date(2026, 7, 10)
    tl = timeline.build_timeline(PLANNED, SUBS, today, ended_on=date(2026, 4, 1))
    assert [tv.status for tv in tl.visits] == ["complete", "missed", "ended", "ended"]
    summary = timeline.summarize(DAY0, PLANNED, SUBS, today, ended_on=date(2026, 4, 1))
    assert summary.due == () and summary.missed == ("M1",) and summary.next_visit is None
    on_study = timeline.summarize(DAY0, PLANNED, SUBS, today)
    assert on_study.due == ("M6",) and on_study.missed == ("M1", "M3")
