"""Visit schedule: dates, windows, local dates, statuses, repeats and the to-do list."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import epro.core.schedule
from epro.core import instruments, protocols
from epro.core.schedule import (
    LAST_VISIT_GRACE,
    VISIT_CODES,
    PlannedVisit,
    Submission,
    SubmissionIndex,
    add_months,
    agenda,
    counting_ids,
    instrument_status,
    local_date,
    plan,
    timing,
    visit_status,
    visit_status_for,
)

UTC = UTC
EPRO_DIR = Path(epro.core.schedule.__file__).resolve().parent
DAY0 = date(2026, 1, 15)
ENROLLED = date(2026, 1, 5)
#: The shipped schedule lives in the protocol files only; both protocols have the same one.
DEFAULT_VISITS = protocols.load("bmsc").visit_defs()
PATIENT_INSTRUMENTS = instruments.reported_by("patient", instruments.CORE_CODES)
CLINICIAN_INSTRUMENTS = instruments.reported_by("clinician", instruments.CORE_CODES)
PLAN = plan(DAY0, ENROLLED, DEFAULT_VISITS)
V = {v.code: v for v in PLAN}
ALL = PATIENT_INSTRUMENTS + CLINICIAN_INSTRUMENTS


def sub(
    visit: str,
    instrument: str,
    on: date,
    *,
    id: str | None = None,
    hour: int = 2,
    received_delay: int = 0,
    total: int | None = 50,
    flags: frozenset[str] = frozenset(),
) -> Submission:
    """A submission completed at *hour* UTC on *on* (before 16:00 UTC the Shanghai date is the same)."""
    at = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return Submission(
        id=id or f"{visit}-{instrument}-{on.isoformat()}-{hour}",
        visit=visit,
        instrument=instrument,
        completed_at=at,
        received_at=at + timedelta(minutes=received_delay),
        completed_on=local_date(at),
        total=total,
        respondent="patient",
        flags=flags,
    )


def whole(visit: str, on: date, instruments: tuple[str, ...] = ALL) -> list[Submission]:
    return [sub(visit, i, on) for i in instruments]


# --- dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 8, 31), 3, date(2026, 11, 30)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2026, 12, 15), 0, date(2026, 12, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, n: int, expected: date) -> None:
    assert add_months(start, n) == expected


@pytest.mark.parametrize(
    ("day0", "targets"),
    [
        (date(2026, 1, 31), ["2026-01-31", "2026-02-28", "2026-04-30", "2026-07-31", "2026-10-31", "2027-01-31"]),
        (date(2028, 2, 29), ["2028-02-29", "2028-03-29", "2028-05-29", "2028-08-29", "2028-11-29", "2029-02-28"]),
        (date(2026, 8, 31), ["2026-08-31", "2026-09-30", "2026-11-30", "2027-02-28", "2027-05-31", "2027-08-31"]),
        (date(2026, 12, 31), ["2026-12-31", "2027-01-31", "2027-03-31", "2027-06-30", "2027-09-30", "2027-12-31"]),
    ],
)
def test_targets_for_month_end_day0(day0: date, targets: list[str]) -> None:
    planned = plan(day0, day0, DEFAULT_VISITS)
    assert [v.target_date.isoformat() for v in planned] == targets


def test_every_window_for_a_known_day0() -> None:
    expected = {
        "BL": ("2026-01-05", "2026-01-15", "2026-01-15"),
        "M1": ("2026-02-08", "2026-02-15", "2026-02-22"),
        "M3": ("2026-04-01", "2026-04-15", "2026-04-29"),
        "M6": ("2026-07-01", "2026-07-15", "2026-07-29"),
        "M9": ("2026-10-01", "2026-10-15", "2026-10-29"),
        "M12": ("2027-01-01", "2027-01-15", "2027-01-29"),
    }
    assert tuple(v.code for v in PLAN) == VISIT_CODES
    for v in PLAN:
        got = (v.window_start.isoformat(), v.target_date.isoformat(), v.window_end.isoformat())
        assert got == expected[v.code], v.code
        assert v.instruments == ("bi", "gds15", "nihss", "mrs", "mmse")
    assert [(d.days_before, d.days_after) for d in DEFAULT_VISITS[1:]] == [(7, 7)] + [(14, 14)] * 4


def test_baseline_window_enrolment_on_day0() -> None:
    bl = plan(DAY0, DAY0, DEFAULT_VISITS)[0]
    assert (bl.window_start, bl.target_date, bl.window_end) == (DAY0, DAY0, DAY0)


def test_baseline_window_starts_at_day0_if_enrolment_recorded_later() -> None:
    bl = plan(DAY0, DAY0 + timedelta(days=3), DEFAULT_VISITS)[0]
    assert bl.window_start == bl.window_end == DAY0


def test_contains_is_inclusive() -> None:
    m1 = V["M1"]
    assert m1.contains(m1.window_start) and m1.contains(m1.window_end)
    assert not m1.contains(m1.window_start - timedelta(days=1))
    assert not m1.contains(m1.window_end + timedelta(days=1))


def test_local_date_across_shanghai_midnight() -> None:
    assert local_date(datetime(2026, 3, 1, 15, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert local_date(datetime(2026, 3, 1, 16, 0, tzinfo=UTC)) == date(2026, 3, 2)
    assert local_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == date(2026, 3, 2)
    assert local_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "UTC") == date(2026, 3, 1)
    assert local_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "Europe/London") == date(2026, 3, 1)


def test_local_date_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 3, 1, 16, 30))


def test_submission_rejects_naive_times() -> None:
    with pytest.raises(ValueError):
        Submission("x", "M1", "bi", datetime(2026, 3, 1), datetime(2026, 3, 1, tzinfo=UTC),
                   date(2026, 3, 1), 10, "patient")


def test_late_by_shanghai_date_even_if_utc_date_is_in_window() -> None:
    m1 = V["M1"]
    end = m1.window_end  # 2026-02-22
    at = datetime(end.year, end.month, end.day, 17, tzinfo=UTC)  # 01:00 on the 23rd in Shanghai
    assert timing(m1, local_date(at)) == "late"
    assert timing(m1, local_date(at - timedelta(hours=2))) == "on_time"


def test_timing() -> None:
    m3 = V["M3"]
    assert timing(m3, m3.window_start - timedelta(days=1)) == "early"
    assert timing(m3, m3.window_start) == "on_time"
    assert timing(m3, m3.window_end) == "on_time"
    assert timing(m3, m3.window_end + timedelta(days=1)) == "late"


# --- statuses ----------------------------------------------------------------


def test_visit_status_upcoming_open_missed_without_answers() -> None:
    m3 = V["M3"]
    assert visit_status(m3, [], m3.window_start - timedelta(days=1)) == "upcoming"
    assert visit_status(m3, [], m3.window_start) == "open"
    assert visit_status(m3, [], m3.window_end) == "open"
    assert visit_status(m3, [], m3.window_end + timedelta(days=1)) == "missed"


def test_visit_status_complete_and_late() -> None:
    m3 = V["M3"]
    on_time = whole("M3", m3.target_date)
    assert visit_status(m3, on_time, m3.target_date) == "complete"
    assert visit_status(m3, on_time, m3.window_end + timedelta(days=100)) == "complete"
    one_late = whole("M3", m3.target_date, ALL[:-1]) + [sub("M3", "mmse", m3.window_end + timedelta(days=1))]
    assert visit_status(m3, one_late, m3.window_end + timedelta(days=2)) == "late"


def test_early_answers_still_complete_the_visit() -> None:
    m3 = V["M3"]
    assert visit_status(m3, whole("M3", m3.window_start - timedelta(days=2)), m3.target_date) == "complete"


def test_partially_done_closed_visit_is_missed() -> None:
    m3 = V["M3"]
    partial = whole("M3", m3.target_date, PATIENT_INSTRUMENTS)
    after = m3.window_end + timedelta(days=1)
    assert visit_status(m3, partial, m3.target_date) == "open"
    assert visit_status(m3, partial, after) == "missed"
    assert [instrument_status(m3, i, partial, after) for i in ALL] == ["done", "done", "due", "due", "due"]


def test_status_of_patient_instruments_only() -> None:
    m3 = V["M3"]
    partial = whole("M3", m3.target_date, PATIENT_INSTRUMENTS)
    after = m3.window_end + timedelta(days=1)
    assert visit_status(m3, partial, after, PATIENT_INSTRUMENTS) == "complete"
    assert visit_status_for(m3, partial, after, PATIENT_INSTRUMENTS) == "complete"
    assert visit_status_for(m3, partial, after, CLINICIAN_INSTRUMENTS) == "missed"


def test_instrument_status() -> None:
    m1 = V["M1"]
    before = m1.window_start - timedelta(days=1)
    assert instrument_status(m1, "bi", [], before) == "not-due"
    assert instrument_status(m1, "bi", [], m1.window_start) == "due"
    assert instrument_status(m1, "bi", [], m1.window_end + timedelta(days=30)) == "due"
    done = [sub("M1", "bi", m1.target_date)]
    assert instrument_status(m1, "bi", done, before) == "done"
    assert instrument_status(m1, "gds15", done, m1.target_date) == "due"
    other_visit = [sub("M3", "bi", m1.target_date)]
    assert instrument_status(m1, "bi", other_visit, m1.target_date) == "due"


def test_incomplete_submission_is_not_done() -> None:
    m1 = V["M1"]
    draft = [sub("M1", "bi", m1.target_date, flags=frozenset({"incomplete"}))]
    assert instrument_status(m1, "bi", draft, m1.target_date) == "due"
    assert counting_ids(draft) == set()


# --- repeats -----------------------------------------------------------------


def test_first_complete_submission_counts_and_nothing_is_dropped() -> None:
    m1 = V["M1"]
    first = sub("M1", "bi", m1.target_date, id="a", hour=1, total=60)
    second = sub("M1", "bi", m1.target_date, id="b", hour=5, total=80)
    draft = sub("M1", "bi", m1.target_date, id="c", hour=0, total=None, flags=frozenset({"incomplete"}))
    other = sub("M1", "gds15", m1.target_date, id="d")
    # Received order must not matter: the later-completed one arrives first.
    items = [second, draft, other, first]
    assert counting_ids(items) == {"a", "d"}
    index = SubmissionIndex(items)
    assert [s.id for s in index.all("M1", "bi")] == ["a", "b", "c"]
    assert sorted(s.id for s in index) == ["a", "b", "c", "d"]


def test_tie_on_completed_at_broken_by_received_at_then_id() -> None:
    on = V["M1"].target_date
    late_arrival = sub("M1", "bi", on, id="a", received_delay=30)
    early_arrival = sub("M1", "bi", on, id="z", received_delay=5)
    assert counting_ids([late_arrival, early_arrival]) == {"z"}
    twin_b = sub("M1", "bi", on, id="b")
    twin_a = sub("M1", "bi", on, id="a")
    assert counting_ids([twin_b, twin_a]) == {"a"}


def test_late_repeat_does_not_make_an_on_time_visit_late() -> None:
    m1 = V["M1"]
    items = whole("M1", m1.target_date) + [sub("M1", "bi", m1.window_end + timedelta(days=3), id="again")]
    assert visit_status(m1, items, m1.window_end + timedelta(days=5)) == "complete"


# --- agenda ------------------------------------------------------------------


def test_agenda_due_now_and_next_visit() -> None:
    today = V["M3"].target_date
    done = whole("BL", DAY0) + whole("M1", V["M1"].target_date)
    a = agenda(PLAN, done, today, PATIENT_INSTRUMENTS)
    assert [v.code for v in a.due_now] == ["M3"]
    assert a.overdue == ()
    assert a.next_visit is not None and a.next_visit.code == "M6"
    assert not a.nothing_to_do


def test_agenda_nothing_to_do_between_windows() -> None:
    done = whole("BL", DAY0) + whole("M1", V["M1"].target_date)
    today = V["M1"].window_end + timedelta(days=1)
    a = agenda(PLAN, done, today, PATIENT_INSTRUMENTS)
    assert a.nothing_to_do
    assert a.next_visit == V["M3"]


def test_agenda_restricted_to_the_persons_instruments() -> None:
    today = V["M3"].target_date
    done = whole("BL", DAY0) + whole("M1", V["M1"].target_date) + whole("M3", today, PATIENT_INSTRUMENTS)
    assert agenda(PLAN, done, today, PATIENT_INSTRUMENTS).nothing_to_do
    assert [v.code for v in agenda(PLAN, done, today, CLINICIAN_INSTRUMENTS).due_now] == ["M3"]


def test_agenda_overdue_until_the_next_window_opens() -> None:
    done = whole("BL", DAY0)  # M1 never answered
    m1, m3 = V["M1"], V["M3"]
    a = agenda(PLAN, done, m1.window_end + timedelta(days=1), PATIENT_INSTRUMENTS)
    assert a.due_now == () and [v.code for v in a.overdue] == ["M1"]
    a = agenda(PLAN, done, m3.window_start - timedelta(days=1), PATIENT_INSTRUMENTS)
    assert [v.code for v in a.overdue] == ["M1"]
    a = agenda(PLAN, done, m3.window_start, PATIENT_INSTRUMENTS)
    assert a.overdue == () and [v.code for v in a.due_now] == ["M3"]


def test_agenda_partially_done_visit_stays_overdue_for_the_rest() -> None:
    m1 = V["M1"]
    done = whole("BL", DAY0) + [sub("M1", "bi", m1.target_date)]
    a = agenda(PLAN, done, m1.window_end + timedelta(days=2), PATIENT_INSTRUMENTS)
    assert [v.code for v in a.overdue] == ["M1"]


def test_agenda_last_visit_overdue_for_a_grace_period_then_nothing() -> None:
    m12 = V["M12"]
    a = agenda(PLAN, [], m12.window_end + LAST_VISIT_GRACE, PATIENT_INSTRUMENTS)
    assert [v.code for v in a.overdue] == ["M12"] and a.next_visit is None
    a = agenda(PLAN, [], m12.window_end + LAST_VISIT_GRACE + timedelta(days=1), PATIENT_INSTRUMENTS)
    assert a.nothing_to_do and a.next_visit is None


def test_agenda_baseline_due_before_day0() -> None:
    a = agenda(PLAN, [], ENROLLED, PATIENT_INSTRUMENTS)
    assert [v.code for v in a.due_now] == ["BL"]
    assert a.next_visit == V["M1"]


def test_plan_returns_planned_visits() -> None:
    assert all(isinstance(v, PlannedVisit) for v in PLAN)


# --- purity ------------------------------------------------------------------


def test_domain_modules_import_neither_flask_nor_sqlalchemy() -> None:
    """The domain core stays pure.  ``epro/__init__.py`` holds the Flask app factory,
    so the package is stood in by a bare module: what is checked is what these
    modules (and anything of epro they import) pull in themselves."""
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('epro'); pkg.__path__ = [{str(EPRO_DIR)!r}]\n"
        "sys.modules['epro'] = pkg\n"
        "import epro.core.schedule, epro.core.timeline, epro.core.charts\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy', 'flask_sqlalchemy'})\n"
        "print(bad)\n"
        "raise SystemExit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
