"""Timeline: counting assessments, change from baseline, alerts and the site-list summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from epro.core import protocols
from epro.core.schedule import Submission, local_date, plan
from epro.core.timeline import RULES, Alert, alerts, build_timeline, summarize

UTC = UTC
DAY0 = date(2026, 1, 15)
PLAN = plan(DAY0, date(2026, 1, 5), protocols.load("bmsc").visit_defs())
V = {v.code: v for v in PLAN}


def sub(visit: str, instrument: str, total: int | None, *, on: date | None = None,
        id: str | None = None, hour: int = 3, respondent: str = "patient") -> Submission:
    on = on or V[visit].target_date
    at = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return Submission(
        id=id or f"{visit}-{instrument}-{hour}",
        visit=visit,
        instrument=instrument,
        completed_at=at,
        received_at=at + timedelta(seconds=5),
        completed_on=local_date(at),
        total=total,
        respondent=respondent,
    )


def test_change_from_baseline_and_none_handling() -> None:
    items = [
        sub("BL", "bi", 40),
        sub("M1", "bi", 55),
        sub("M3", "bi", None),  # not scorable
        sub("M1", "nihss", 6),  # no baseline NIHSS
        sub("BL", "gds15", None),
        sub("M1", "gds15", 3),
    ]
    tl = build_timeline(PLAN, items, V["M3"].target_date)
    bl, m1, m3 = tl.visits[0], tl.visits[1], tl.visits[2]
    assert bl.assessment("bi").change_from_baseline == 0
    assert m1.assessment("bi").change_from_baseline == 15
    assert m3.assessment("bi").total is None and m3.assessment("bi").change_from_baseline is None
    assert m1.assessment("nihss").change_from_baseline is None
    assert m1.assessment("gds15").change_from_baseline is None
    assert tl.series("bi") == (("BL", 40), ("M1", 55), ("M3", None), ("M6", None), ("M9", None), ("M12", None))
    assert tl.latest("bi").total == 55  # an unscored assessment does not replace the last value
    assert tl.baseline("bi").total == 40
    assert tl.baseline("mmse") is None
    assert tl.latest("mmse") is None


def test_assessments_in_visit_order_with_repeats_kept_apart() -> None:
    items = [
        sub("M1", "mmse", 25),
        sub("M1", "bi", 70, id="later", hour=9),
        sub("M1", "bi", 60, id="first", hour=1),
        sub("BL", "bi", 50),
    ]
    tl = build_timeline(PLAN, items, V["M1"].window_end + timedelta(days=1))
    m1 = tl.visits[1]
    assert [a.instrument for a in m1.assessments] == ["bi", "mmse"]
    assert m1.assessment("bi").response_id == "first" and m1.assessment("bi").counts
    assert [(a.response_id, a.counts, a.change_from_baseline) for a in m1.repeats] == [("later", False, 20)]
    assert m1.status == "missed"
    assert m1.instrument_status == {"bi": "done", "gds15": "due", "nihss": "due", "mrs": "due", "mmse": "done"}


def test_assessment_timing_and_fields() -> None:
    late_day = V["M1"].window_end + timedelta(days=2)
    tl = build_timeline(PLAN, [sub("M1", "bi", 70, on=late_day, respondent="caregiver-proxy")], late_day)
    a = tl.visits[1].assessment("bi")
    assert a.timing == "late" and a.respondent == "caregiver-proxy" and a.flags == frozenset()
    assert a.completed_at.tzinfo is not None and a.received_at > a.completed_at


def test_unplanned_extra_instrument_is_shown_after_planned_ones() -> None:
    tl = build_timeline(PLAN, [sub("M1", "gds30", 8), sub("M1", "bi", 80)], V["M1"].target_date)
    assert [a.instrument for a in tl.visits[1].assessments] == ["bi", "gds30"]


# --- alerts ------------------------------------------------------------------


def _alerts(instrument: str, previous: int, current: int) -> tuple[Alert, ...]:
    items = [sub("M1", instrument, previous), sub("M3", instrument, current)]
    return alerts(build_timeline(PLAN, items, V["M3"].target_date))


@pytest.mark.parametrize(
    ("instrument", "previous", "at_threshold", "just_below"),
    [
        ("bi", 80, 65, 70),  # down >= 15 (Collin & Wade 1988)
        ("nihss", 5, 9, 8),  # up >= 4
        ("mrs", 2, 3, 2),  # up >= 1
        ("mmse", 27, 24, 25),  # down >= 3
    ],
)
def test_change_rules_at_and_below_threshold(instrument: str, previous: int, at_threshold: int,
                                             just_below: int) -> None:
    fired = _alerts(instrument, previous, at_threshold)
    assert [a.instrument for a in fired] == [instrument]
    a = fired[0]
    assert (a.from_visit, a.to_visit, a.previous, a.current) == ("M1", "M3", previous, at_threshold)
    assert a.delta == at_threshold - previous
    text = a.message % a.params()
    assert str(previous) in text and str(at_threshold) in text and "M1" in text and "M3" in text
    assert _alerts(instrument, previous, just_below) == ()


def test_improvement_never_alerts() -> None:
    assert _alerts("bi", 40, 90) == () and _alerts("nihss", 10, 2) == ()


@pytest.mark.parametrize(("total", "fires"), [(5, True), (4, False), (15, True), (0, False)])
def test_gds15_cutoff(total: int, fires: bool) -> None:
    tl = build_timeline(PLAN, [sub("M1", "gds15", total)], V["M1"].target_date)
    got = alerts(tl)
    assert bool(got) is fires
    if fires:
        assert got[0].previous is None and got[0].delta is None and got[0].from_visit is None
        assert str(total) in got[0].message % got[0].params()


def test_alerts_check_only_the_latest_value() -> None:
    # BI fell 20 points at M1 but recovered at M3 to within 15 of baseline: no alert now.
    items = [sub("BL", "bi", 80), sub("M1", "bi", 60), sub("M3", "bi", 70)]
    assert alerts(build_timeline(PLAN, items, V["M3"].target_date)) == ()
    # A drop is measured against the previous counting value, not a repeat.
    items = [sub("M1", "bi", 80, id="a", hour=1), sub("M1", "bi", 50, id="b", hour=2), sub("M3", "bi", 72)]
    assert alerts(build_timeline(PLAN, items, V["M3"].target_date)) == ()


def test_rules_are_documented_data() -> None:
    assert {r.instrument for r in RULES} == {"bi", "nihss", "mrs", "mmse", "gds15"}
    assert all(r.source and "%(" in r.message for r in RULES)


# --- summary -----------------------------------------------------------------


def test_summarize_realistic_patient() -> None:
    """BL and M1 complete, M3 done late by the clinician only, M6 open with BI worse."""
    all5 = ("bi", "gds15", "nihss", "mrs", "mmse")
    bl = dict(zip(all5, (45, 6, 8, 3, 24), strict=True))
    m1 = dict(zip(all5, (60, 4, 6, 3, 25), strict=True))
    items = [sub("BL", i, t, on=DAY0 - timedelta(days=2)) for i, t in bl.items()]
    items += [sub("M1", i, t) for i, t in m1.items()]
    m3_late = V["M3"].window_end + timedelta(days=3)
    items += [sub("M3", i, t, on=m3_late) for i, t in (("nihss", 5), ("mrs", 2), ("mmse", 26))]
    items += [sub("M6", "bi", 45), sub("M6", "gds15", 4)]
    today = V["M6"].target_date
    s = summarize(DAY0, PLAN, items, today)
    assert s.days_since_day0 == (today - DAY0).days
    assert s.next_visit == V["M9"]
    assert s.due == ("M6",)
    assert s.late == ()
    assert s.missed == ("M3",)
    assert s.latest == {"bi": 45, "gds15": 4, "nihss": 5, "mrs": 2, "mmse": 26}
    assert [(a.instrument, a.from_visit, a.to_visit) for a in s.alerts] == [("bi", "M1", "M6")]


def test_summarize_late_visit() -> None:
    late = V["M1"].window_end + timedelta(days=1)
    items = [sub("M1", i, 1, on=late) for i in ("bi", "gds15", "nihss", "mrs", "mmse")]
    s = summarize(DAY0, PLAN, items, late)
    assert s.late == ("M1",) and s.missed == ("BL",) and s.due == ()


def test_summarize_with_thousands_of_repeats() -> None:
    """A patient with 3,000 submissions of one questionnaire is summarized as with one (its speed is
    measured in bench/, not by a timed test: one ran over its 0.5 s on a busy CI machine)."""
    items = [sub("M1", "bi", 50, id=str(n), hour=n % 24) for n in range(3000)]
    many = summarize(DAY0, PLAN, items, V["M3"].target_date)
    one = summarize(DAY0, PLAN, items[:1], V["M3"].target_date)
    assert many == one
