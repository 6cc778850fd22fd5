"""The reminder rule: which kind is due on which day, stopping when done, quiet hours, one a day."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from epro.core import protocols, reminders
from epro.core.reminders import CLOSING, LAST_DAY, OPENED, DueReminder, Rules, choose, due, in_quiet_hours, kind_on
from epro.core.schedule import Submission, plan

DAY0 = date(2026, 1, 15)
PLAN = plan(DAY0, date(2026, 1, 5), protocols.load("it-hmsc").visit_defs())
V = {v.code: v for v in PLAN}
OWN = ("bi", "gds15")
M3 = V["M3"]  # target 2026-04-15, window 2026-04-01 .. 2026-04-29


def done(visit: str, instrument: str, on: date, respondent: str = "patient", flags=frozenset()) -> Submission:
    at = datetime(on.year, on.month, on.day, 3, tzinfo=UTC)
    return Submission(id=f"{visit}-{instrument}-{on}", visit=visit, instrument=instrument, completed_at=at,
                      received_at=at, completed_on=on, total=1, respondent=respondent, flags=frozenset(flags))


def test_window_dates_are_what_the_tests_assume():
    assert (M3.window_start, M3.window_end) == (date(2026, 4, 1), date(2026, 4, 29))


@pytest.mark.parametrize("day,kind", [
    (date(2026, 3, 31), None),  # the day before the window opens
    (date(2026, 4, 1), OPENED),  # the window opens
    (date(2026, 4, 15), OPENED),
    (date(2026, 4, 25), OPENED),  # 4 days before the last day
    (date(2026, 4, 26), CLOSING),  # 3 days before
    (date(2026, 4, 28), CLOSING),
    (date(2026, 4, 29), LAST_DAY),
    (date(2026, 4, 30), None),  # closed: late answers are welcome, but no more reminders
])
def test_kind_by_day(day, kind):
    assert kind_on(M3, day, Rules()) == kind


def test_closing_days_is_a_setting():
    assert kind_on(M3, date(2026, 4, 22), Rules(closing_days=7)) == CLOSING
    assert kind_on(M3, date(2026, 4, 21), Rules(closing_days=7)) == OPENED
    with pytest.raises(ValueError):
        Rules(closing_days=0)


def test_due_names_the_visit_its_instruments_and_what_is_left():
    (r,) = due(PLAN, [], date(2026, 4, 2), OWN)
    assert (r.visit, r.kind, r.instrument_set, r.pending, r.window_end) == (
        "M3", OPENED, ("bi", "gds15"), ("bi", "gds15"), M3.window_end)
    assert r.instrument_key == "bi,gds15"


def test_one_done_leaves_the_other_pending_with_the_same_key():
    (r,) = due(PLAN, [done("M3", "bi", date(2026, 4, 2))], date(2026, 4, 27), OWN)
    assert (r.kind, r.pending, r.instrument_key) == (CLOSING, ("gds15",), "bi,gds15")


def test_stops_as_soon_as_the_questionnaires_are_done():
    subs = [done("M3", "bi", date(2026, 4, 2)), done("M3", "gds15", date(2026, 4, 3))]
    assert due(PLAN, subs, date(2026, 4, 29), OWN) == ()


def test_an_unfinished_answer_does_not_stop_it():
    subs = [done("M3", "bi", date(2026, 4, 2)), done("M3", "gds15", date(2026, 4, 3), flags={"incomplete"})]
    (r,) = due(PLAN, subs, date(2026, 4, 29), OWN)
    assert r.pending == ("gds15",)


def test_clinician_instruments_never_make_a_reminder():
    subs = [done("M3", "bi", date(2026, 4, 2)), done("M3", "gds15", date(2026, 4, 3))]
    # nihss, mrs, mmse are still open at M3, but they are the clinician's.
    assert due(PLAN, subs, date(2026, 4, 10), ("bi", "gds15")) == ()
    assert due(PLAN, [], date(2026, 4, 10), ()) == ()


def test_no_reminder_for_the_baseline():
    assert due(PLAN, [], DAY0, OWN) == ()


def test_nothing_for_withdrawn_or_deceased_patients():
    assert due(PLAN, [], date(2026, 4, 2), OWN, contactable=False) == ()


def test_nothing_once_the_participation_ended():
    assert due(PLAN, [], date(2026, 4, 2), OWN, ended_on=date(2026, 4, 2)) == ()
    assert len(due(PLAN, [], date(2026, 4, 2), OWN, ended_on=date(2026, 4, 3))) == 1


def test_overlapping_windows_most_urgent_first():
    visits = protocols.load("it-hmsc").visit_defs()
    # A made-up tight schedule: M1 and M3 windows overlap when windows are wide.
    wide = tuple(v.__class__(v.code, v.months, 60, 60, v.instruments) for v in visits)
    p = plan(DAY0, date(2026, 1, 5), wide)
    found = due(p, [], date(2026, 3, 10), OWN)
    assert [r.visit for r in found][:2] == ["M1", "M3"]
    assert found[0].window_end < found[1].window_end


def test_choose_one_a_day():
    a = DueReminder("M3", OPENED, OWN, OWN, date(2026, 4, 29))
    b = DueReminder("M1", LAST_DAY, OWN, OWN, date(2026, 4, 29))
    c = DueReminder("M6", CLOSING, OWN, OWN, date(2026, 5, 1))
    assert choose([(a, 1), (c, 3), (b, 2)], sent_today=False) == (b, 2)
    assert choose([(a, 1)], sent_today=True) is None
    assert choose([], sent_today=False) is None


@pytest.mark.parametrize("local,quiet", [
    (time(7, 59), True), (time(8, 0), False), (time(12, 0), False), (time(20, 59), False),
    (time(21, 0), True), (time(23, 30), True), (time(0, 0), True), (time(3, 0), True),
])
def test_quiet_hours_in_the_site_time_zone(local, quiet):
    shanghai = datetime(2026, 4, 2, local.hour, local.minute) - timedelta(hours=8)
    assert in_quiet_hours(shanghai.replace(tzinfo=UTC), "Asia/Shanghai") is quiet
    london = datetime(2026, 1, 2, local.hour, local.minute)  # winter: UTC+0
    assert in_quiet_hours(london.replace(tzinfo=UTC), "Europe/London") is quiet


def test_quiet_hours_within_one_day_and_none():
    rules = Rules(quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert in_quiet_hours(datetime(2026, 4, 2, 5, tzinfo=UTC), "Asia/Shanghai", rules)  # 13:00
    assert not in_quiet_hours(datetime(2026, 4, 2, 7, tzinfo=UTC), "Asia/Shanghai", rules)  # 15:00
    never = Rules(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert not in_quiet_hours(datetime(2026, 4, 2, 18, tzinfo=UTC), "Asia/Shanghai", never)


def test_quiet_hours_need_an_aware_moment():
    with pytest.raises(ValueError):
        in_quiet_hours(datetime(2026, 4, 2, 3), "Asia/Shanghai")


def test_parse_time():
    assert reminders.parse_time("21:00") == time(21, 0)
    assert reminders.parse_time(" 8 ") == time(8, 0)
