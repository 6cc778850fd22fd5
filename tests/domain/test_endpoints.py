"""The derivation rules (epro.core.endpoints.RULES): one test per rule, named ``test_rule_<code>``.

Each test exercises the rule as written in the document, through the pure code
that applies it (schedule, timeline, endpoints); the web and API sides of the
same rules are in tests/test_derivations_web.py.
"""
from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from epro.core import endpoints, instruments, protocols
from epro.core import timeline as tl
from epro.core.schedule import Submission, agenda, counting_ids, local_date, plan
from epro.core.trial import outcomes as stats

DAY0 = date(2026, 1, 15)
PLAN = plan(DAY0, date(2026, 1, 5), protocols.load("bmsc").visit_defs())
V = {v.code: v for v in PLAN}
LAST_DAY = V["M12"].window_end + timedelta(days=40)


def sub(visit: str, instrument: str, total: int | None, *, on: date | None = None, id: str | None = None,
        hour: int = 3, respondent: str = "patient", signed: bool = False,
        flags: frozenset[str] = frozenset()) -> Submission:
    on = on or V[visit].target_date
    at = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return Submission(
        id=id or f"{visit}-{instrument}-{on.isoformat()}-{hour}-{respondent}", visit=visit, instrument=instrument,
        completed_at=at, received_at=at + timedelta(seconds=5), completed_on=local_date(at), total=total,
        respondent=respondent, flags=flags, signed=signed,
    )


def timeline(*subs: Submission, today: date = LAST_DAY) -> tl.Timeline:
    return tl.build_timeline(PLAN, subs, today)


def counting(t: tl.Timeline, visit: str, code: str) -> tl.Assessment:
    tv = next(v for v in t.visits if v.visit.code == visit)
    a = tv.assessment(code)
    assert a is not None
    return a


def value(values: tuple, visit: str, code: str):
    return next(v for v in values if v.visit == visit and v.instrument == code)


# --- the document ---------------------------------------------------------------


def test_every_rule_has_a_test_named_after_it() -> None:
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for rule in endpoints.RULES:
        assert f"test_rule_{rule.code}" in names, rule.code


def test_the_document_quotes_the_numbers_the_code_applies() -> None:
    text = {r.code: r.text for r in endpoints.rules()}
    by_code = {r.code: r for r in tl.RULES}
    assert "fall of 15 or more (Collin & Wade 1988)" in text["alerts"]
    assert f"NIHSS rise of {by_code['nihss_rise'].threshold} or more" in text["alerts"]
    assert f"GDS-15 of {by_code['gds15_cutoff'].threshold} or more" in text["alerts"]
    assert f"MMSE fall of {by_code['mmse_drop'].threshold} or more" in text["alerts"]
    assert tl.LATE_BASELINE in text["baseline"] and tl.OUTSIDE_WINDOW in text["windows"]
    assert "mRS is 6" in text["death"]
    # Every rule renders (no placeholder left unfilled) and is translatable.
    for r in endpoints.rules(lambda s: s):
        assert "%(" not in r.text and r.title


# --- the rules ------------------------------------------------------------------


def test_rule_baseline() -> None:
    # The last valid assessment on or before day 0 is the baseline …
    t = timeline(
        sub("BL", "bi", 40, on=DAY0 - timedelta(days=5)),
        sub("BL", "bi", 50, on=DAY0),
        sub("M1", "bi", 70),
    )
    assert counting(t, "BL", "bi").total == 50
    assert counting(t, "M1", "bi").change_from_baseline == 20
    # … a clinician's baseline after day 0 is kept, flagged and not used as baseline …
    late = timeline(sub("BL", "nihss", 9, on=DAY0 + timedelta(days=2), respondent="clinician"),
                    sub("M1", "nihss", 5, respondent="clinician"))
    bl = counting(late, "BL", "nihss")
    assert tl.LATE_BASELINE in bl.analysis_flags and not bl.analysed
    assert late.baseline("nihss") is None
    assert counting(late, "M1", "nihss").change_from_baseline is None
    assert tl.NO_BASELINE in counting(late, "M1", "nihss").analysis_flags
    # … and an on-time one beats a late one, even when the late one is later.
    both = timeline(sub("BL", "nihss", 9, on=DAY0 + timedelta(days=1), respondent="clinician"),
                    sub("BL", "nihss", 12, on=DAY0 - timedelta(days=1), respondent="clinician"),
                    sub("M1", "nihss", 8, respondent="clinician"))
    assert counting(both, "BL", "nihss").total == 12
    assert counting(both, "M1", "nihss").change_from_baseline == -4
    # After day 0 a missing baseline is never on a patient's to-do list (it would be refused).
    after = agenda(PLAN, [], DAY0 + timedelta(days=1), ("bi", "gds15"))
    assert "BL" not in {v.code for v in after.due_now + after.overdue}
    assert "BL" in {v.code for v in agenda(PLAN, [], DAY0, ("bi", "gds15")).due_now}


def test_rule_which_counts() -> None:
    # The case: a caregiver's proxy GDS of 7 came first, the patient's own 2 the next day.
    m1 = V["M1"].target_date
    t = timeline(
        sub("BL", "gds15", 2, on=DAY0 - timedelta(days=1)),
        sub("M1", "gds15", 7, on=m1, respondent="caregiver-proxy", flags=frozenset({"proxy"})),
        sub("M1", "gds15", 2, on=m1 + timedelta(days=1)),
    )
    assert counting(t, "M1", "gds15").total == 2
    assert counting(t, "M1", "gds15").respondent == "patient"
    assert [a.total for a in next(v for v in t.visits if v.visit.code == "M1").repeats] == [7]
    assert not [a for a in tl.alerts(t) if a.instrument == "gds15"]
    # A helped answer is the patient's own: it beats a proxy answer too (BI).
    t = timeline(sub("M1", "bi", 40, hour=1, respondent="caregiver-proxy"),
                 sub("M1", "bi", 60, hour=2, respondent="caregiver-assisted"))
    assert counting(t, "M1", "bi").total == 60
    # Clinician instruments: the signed assessment, even if it came later.
    t = timeline(sub("M1", "mrs", 3, hour=1, respondent="clinician"),
                 sub("M1", "mrs", 2, hour=2, respondent="clinician", signed=True))
    assert counting(t, "M1", "mrs").total == 2
    # Otherwise the first complete one; an unfinished answer never counts.
    t = timeline(sub("M1", "mmse", 25, hour=1, respondent="clinician"),
                 sub("M1", "mmse", 20, hour=2, respondent="clinician"),
                 sub("M1", "mmse", 10, hour=0, respondent="clinician", flags=frozenset({"incomplete"})))
    assert counting(t, "M1", "mmse").total == 25
    # The same rule decides the API's "counts" (schedule.counting_ids with the plan).
    subs = [sub("M1", "gds15", 7, id="proxy", respondent="caregiver-proxy"),
            sub("M1", "gds15", 2, id="own", on=V["M1"].target_date + timedelta(days=1))]
    assert counting_ids(subs, PLAN) == {"own"}


def test_rule_windows() -> None:
    late_day = V["M1"].window_end + timedelta(days=3)
    t = timeline(sub("BL", "bi", 50), sub("M1", "bi", 80, on=late_day))
    a = counting(t, "M1", "bi")
    assert a.counts and tl.OUTSIDE_WINDOW in a.analysis_flags and not a.analysed
    values = endpoints.visit_values("S1", t)
    main, _ = endpoints.split_for_summary(values)
    assert "M1" not in main["bi"]["S1"] and main["bi"]["S1"]["BL"] == 50
    # Inside the window beats outside it, though the late one is the patient's too and came … later.
    early = V["M1"].window_start - timedelta(days=2)
    t = timeline(sub("M1", "bi", 30, on=early), sub("M1", "bi", 60))
    assert counting(t, "M1", "bi").total == 60
    # The visit still counts as done (late), for the nurse's list.
    t = timeline(sub("M1", "bi", 80, on=late_day))
    tv = next(v for v in t.visits if v.visit.code == "M1")
    assert tv.instrument_status["bi"] == "done"


def test_rule_change() -> None:
    t = timeline(sub("BL", "nihss", 12, respondent="clinician"), sub("M3", "nihss", 7, respondent="clinician"),
                 sub("M1", "mmse", 24, respondent="clinician"))
    values = endpoints.visit_values("S1", t)
    assert value(values, "M3", "nihss").change == -5
    mmse = value(values, "M1", "mmse")
    assert mmse.change is None and tl.NO_BASELINE in mmse.flags
    assert value(values, "M6", "nihss").flags == (endpoints.MISSING,)


def test_rule_death() -> None:
    died = V["M3"].target_date + timedelta(days=10)
    t = timeline(sub("BL", "mrs", 3, respondent="clinician"), sub("BL", "bi", 40),
                 sub("M3", "mrs", 5, respondent="clinician"))
    values = endpoints.visit_values("S1", t, died_on=died)
    for visit in ("M6", "M9", "M12"):
        mrs = value(values, visit, "mrs")
        assert (mrs.total, mrs.change, mrs.response_id) == (6, 3, None)
        assert {endpoints.DIED, endpoints.DERIVED} <= set(mrs.flags)
        bi = value(values, visit, "bi")
        assert bi.total is None and bi.flags == (endpoints.DIED,)
    assert value(values, "M3", "mrs").total == 5  # before death: as answered
    # The protocol may choose the worst total instead of missing.
    values = endpoints.visit_values("S1", t, died_on=died, after_death="worst")
    assert value(values, "M6", "bi").total == 0 and value(values, "M6", "bi").change == -40
    assert value(values, "M6", "nihss").total == instruments.get("nihss").max_total
    # mRS 6 after death enters the shift analysis; death never fires a worsening alert.
    main, _ = endpoints.split_for_summary(endpoints.visit_values("S1", t, died_on=died))
    assert main["mrs"]["S1"]["M12"] == 6
    dead = timeline(sub("BL", "mrs", 3, respondent="clinician"), sub("M3", "mrs", 6, respondent="clinician"))
    assert not [a for a in tl.alerts(dead) if a.instrument == "mrs"]
    assert protocols.load("bmsc").analysis.after_death == "missing"


def test_rule_separate() -> None:
    t1 = timeline(sub("BL", "gds15", 3), sub("M1", "gds15", 9, respondent="caregiver-proxy",
                                                flags=frozenset({"proxy"})))
    t2 = timeline(sub("BL", "gds15", 4), sub("M1", "gds15", 5))
    t3 = timeline(sub("BL", "nihss", 10, respondent="clinician", flags=frozenset({"contains_un"})),
                  sub("M1", "nihss", 6, respondent="clinician"))
    values = (endpoints.visit_values("P1", t1) + endpoints.visit_values("P2", t2)
              + endpoints.visit_values("P3", t3))
    main, apart = endpoints.split_for_summary(values)
    summary = stats.change_summary(main["gds15"], [v.code for v in PLAN])
    assert summary[stats.POOLED]["M1"].n == 1 and summary[stats.POOLED]["M1"].mean == 1
    assert [v.subject_code for v in apart["proxy"]["gds15"]] == ["P1"]
    assert endpoints.changes_by_visit(apart["proxy"]["gds15"]) == {"M1": [6]}
    # An untestable baseline marks the later change too: both are apart, none is pooled silently.
    assert {(v.visit, v.subject_code) for v in apart["untestable"]["nihss"]} == {("BL", "P3"), ("M1", "P3")}
    assert endpoints.BASELINE_UNTESTABLE in value(values[-len(endpoints.visit_values("P3", t3)):], "M1",
                                                  "nihss").flags
    assert stats.change_summary(main["nihss"], [v.code for v in PLAN])[stats.POOLED]["M1"].n == 0


def test_rule_alerts() -> None:
    # BI 100 → 95 → 90 → 85 → 80 never fell 15 between two visits, but did against baseline.
    t = timeline(sub("BL", "bi", 100), sub("M1", "bi", 95), sub("M3", "bi", 90), sub("M6", "bi", 85),
                 sub("M9", "bi", 80))
    (a,) = tl.alerts(t)
    assert (a.code, a.reference, a.from_visit, a.previous, a.current) == ("bi_drop", "baseline", "BL", 100, 80)
    assert not tl.alerts(timeline(sub("BL", "bi", 100), sub("M1", "bi", 95), sub("M3", "bi", 90)))
    # The step from the previous visit still fires on its own.
    (a,) = tl.alerts(timeline(sub("BL", "nihss", 8, respondent="clinician"),
                              sub("M1", "nihss", 3, respondent="clinician"),
                              sub("M3", "nihss", 7, respondent="clinician")))
    assert (a.reference, a.from_visit, a.delta) == ("previous", "M1", 4)
    # GDS-15 fires when the score reaches 5, not again while it stays there.
    rising = timeline(sub("BL", "gds15", 2), sub("M1", "gds15", 6))
    assert [a.code for a in tl.alerts(rising)] == ["gds15_cutoff"]
    staying = timeline(sub("BL", "gds15", 2), sub("M1", "gds15", 6), sub("M3", "gds15", 6))
    assert tl.alerts(staying) == ()
    back = timeline(sub("BL", "gds15", 6), sub("M1", "gds15", 3), sub("M3", "gds15", 7))
    assert [a.code for a in tl.alerts(back)] == ["gds15_cutoff"]
    # The BI threshold cites Collin & Wade's individual change, not a group-mean MCID.
    bi = next(r for r in tl.RULES if r.code == "bi_drop")
    assert (bi.threshold, bi.source) == (15, "Collin & Wade 1988")


@pytest.mark.parametrize("rule", endpoints.RULES, ids=lambda r: r.code)
def test_rules_are_bilingual_msgids(rule: endpoints.DerivationRule) -> None:
    from babel.messages.pofile import read_po

    with open("translations/zh_Hans/LC_MESSAGES/messages.po", encoding="utf-8") as f:
        catalog = read_po(f)
    for msgid in (rule.title, rule.text):
        message = catalog.get(msgid)
        assert message is not None and message.string, msgid
        if "%(" in msgid:
            assert rule.render(lambda s: catalog.get(s).string).text  # the Chinese fills too
