"""AE codes, seriousness, the 24-hour SAE clock, and safety rates on a known dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from epro.core.trial import safety
from epro.core.trial.safety import (
    POOLED,
    AdverseEvent,
    ImagingCheck,
    LabCheck,
    NeuroExam,
    SafetyError,
    is_serious,
    sae_clock,
    sae_report_due,
    safety_summary,
)

AWARE = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def ae(patient="p1", day=3, severity=1, relatedness="not_related", **kw) -> AdverseEvent:
    return AdverseEvent(patient, "headache", day, severity, relatedness, **kw)


def test_code_lists() -> None:
    assert list(safety.SEVERITY) == [1, 2, 3, 4, 5]
    assert list(safety.SERIOUS_CRITERIA) == [
        "death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "important_medical_event",
    ]
    assert list(safety.RELATEDNESS) == ["not_related", "unlikely", "possible", "probable", "definite"]
    assert list(safety.LAB_RESULTS) == ["normal", "abnormal_ncs", "abnormal_cs"]
    assert list(safety.NEURO_RESULTS) == ["normal", "abnormal"]
    assert list(safety.IMAGING_FINDINGS) == ["none", "new_lesion", "hemorrhage", "other"]
    for labels in (safety.SEVERITY, safety.SERIOUS_CRITERIA, safety.RELATEDNESS, safety.ACTION_TAKEN,
                   safety.OUTCOME, safety.LAB_RESULTS, safety.NEURO_RESULTS, safety.IMAGING_FINDINGS,
                   safety.CATEGORIES):
        assert all(isinstance(v, str) and v.strip() for v in labels.values())


def test_severity_is_not_seriousness() -> None:
    assert not is_serious(ae(severity=4))  # ICH E2A: a grade-4 AE need not be serious
    assert is_serious(ae(severity=2, serious_criteria={"hospitalization"}))
    fatal = ae(severity=5, outcome="fatal", serious_criteria={"death"})
    assert is_serious(fatal) and isinstance(fatal.serious_criteria, frozenset)


@pytest.mark.parametrize(("kw", "field"), [
    (dict(severity=6), "severity"),
    (dict(severity=0), "severity"),
    (dict(severity=True), "severity"),
    (dict(relatedness="maybe"), "relatedness"),
    (dict(action_taken="stopped"), "action_taken"),
    (dict(outcome="fine"), "outcome"),
    (dict(serious_criteria="death"), "serious_criteria"),
    (dict(serious_criteria={"scary"}), "serious_criteria"),
    (dict(severity=5), "serious_criteria"),  # fatal without "death"
    (dict(outcome="fatal"), "serious_criteria"),
    (dict(day=1.5), "study_day"),
])
def test_invalid_adverse_event(kw: dict, field: str) -> None:
    with pytest.raises(SafetyError) as info:
        ae(**kw)
    assert info.value.field == field


def test_invalid_checks_and_term() -> None:
    with pytest.raises(SafetyError, match="term"):
        AdverseEvent("p1", " ", 1, 1, "possible")
    with pytest.raises(SafetyError, match="result"):
        LabCheck("p1", 1, "blood_count", "abnormal")
    with pytest.raises(SafetyError, match="result"):
        NeuroExam("p1", 1, "worse")
    with pytest.raises(SafetyError, match="finding"):
        ImagingCheck("p1", 1, "bleed")


# --- SAE clock ---------------------------------------------------------------


def test_report_due_24_hours_after_awareness() -> None:
    assert sae_report_due(AWARE) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    shanghai = AWARE.astimezone(ZoneInfo("Asia/Shanghai"))
    assert sae_report_due(shanghai) == sae_report_due(AWARE)
    with pytest.raises(SafetyError, match="awareness_time"):
        sae_report_due(datetime(2026, 3, 1, 10, 0))


@pytest.mark.parametrize(("hours", "status", "remaining", "late_by"), [
    (0, "open", 24, 0),
    (23, "open", 1, 0),
    (24, "open", 0, 0),  # due time inclusive
    (25, "overdue", 0, 1),
    (72, "overdue", 0, 48),
])
def test_sae_clock_unreported(hours: int, status: str, remaining: int, late_by: int) -> None:
    clock = sae_clock(AWARE, AWARE + timedelta(hours=hours))
    assert clock.status == status
    assert clock.remaining == timedelta(hours=remaining)
    assert clock.late_by == timedelta(hours=late_by)
    assert clock.overdue is (status == "overdue")
    assert clock.due_at == AWARE + timedelta(hours=24)


def test_sae_clock_reported() -> None:
    now = AWARE + timedelta(days=5)
    on_time = sae_clock(AWARE, now, reported_at=AWARE + timedelta(hours=20))
    assert (on_time.status, on_time.remaining, on_time.late_by, on_time.overdue) == (
        "reported", timedelta(0), timedelta(0), False)
    late = sae_clock(AWARE, now, reported_at=AWARE + timedelta(hours=30))
    assert (late.status, late.late_by, late.overdue) == ("reported_late", timedelta(hours=6), True)
    with pytest.raises(SafetyError, match="reported_at"):
        sae_clock(AWARE, now, reported_at=AWARE - timedelta(minutes=1))
    with pytest.raises(SafetyError, match="now"):
        sae_clock(AWARE, datetime(2026, 3, 2))


def test_sae_clock_minute_precision() -> None:
    clock = sae_clock(AWARE, AWARE + timedelta(hours=24, minutes=1))
    assert clock.status == "overdue" and clock.late_by == timedelta(minutes=1)


# --- summary on a known dataset ----------------------------------------------
#
# low: p1, p2; high: p3, p4.
# p1: AE grade 1 not related (day 3); SAE grade 3 hospitalization, possible (day 10); imaging none
# p2: AE before day 0 (ignored); lab abnormal_cs (day 30); lab abnormal_ncs (day 90)
# p3: AE grade 2 probable (day 40); neuro abnormal (day 90)
# p4: lab normal; neuro normal; imaging new lesion (day 180); AE on day 400 (after M12)

ARMS = {"low": ["p1", "p2"], "high": ["p3", "p4"]}
RECORDS = [
    ae("p1", 3, 1, "not_related"),
    ae("p1", 10, 3, "possible", serious_criteria={"hospitalization"}),
    ImagingCheck("p1", 180, "none"),
    ae("p2", -2, 1, "unlikely"),
    LabCheck("p2", 30, "liver_function", "abnormal_cs"),
    LabCheck("p2", 90, "liver_function", "abnormal_ncs"),
    ae("p3", 40, 2, "probable"),
    NeuroExam("p3", 90, "abnormal"),
    LabCheck("p4", 30, "blood_count", "normal"),
    NeuroExam("p4", 90, "normal"),
    ImagingCheck("p4", 180, "new_lesion"),
    ae("p4", 400, 1, "not_related"),
]
M12_END = 379


def _counts(group) -> dict[str, tuple]:
    return {c: (n.events, n.patients, n.rate) for c, n in group.counts.items()}


def test_pooled_summary_when_masked() -> None:
    summary = safety_summary(RECORDS, ARMS, masked=True, through_day=M12_END)
    assert summary.pooled and list(summary.groups) == [POOLED]  # no arm is ever visible
    group = summary.groups[POOLED]
    assert group.patients_at_risk == 4
    assert _counts(group) == {
        "ae": (3, 2, 0.5),
        "sae": (1, 1, 0.25),
        "related_ae": (2, 2, 0.5),
        "lab_cs": (1, 1, 0.25),
        "neuro_abnormal": (1, 1, 0.25),
        "imaging_change": (1, 1, 0.25),
    }


def test_per_arm_summary_when_open_label() -> None:
    summary = safety_summary(RECORDS, ARMS, masked=False, through_day=M12_END)
    assert not summary.pooled and list(summary.groups) == ["low", "high"]
    assert _counts(summary.groups["low"]) == {
        "ae": (2, 1, 0.5), "sae": (1, 1, 0.5), "related_ae": (1, 1, 0.5),
        "lab_cs": (1, 1, 0.5), "neuro_abnormal": (0, 0, 0.0), "imaging_change": (0, 0, 0.0),
    }
    assert _counts(summary.groups["high"]) == {
        "ae": (1, 1, 0.5), "sae": (0, 0, 0.0), "related_ae": (1, 1, 0.5),
        "lab_cs": (0, 0, 0.0), "neuro_abnormal": (1, 1, 0.5), "imaging_change": (1, 1, 0.5),
    }


def test_without_a_period_every_treatment_emergent_record_counts() -> None:
    group = safety_summary(RECORDS, ARMS).groups[POOLED]
    assert (group.counts["ae"].events, group.counts["ae"].patients, group.counts["ae"].rate) == (4, 3, 0.75)


def test_without_patients_at_risk_there_are_counts_but_no_rates() -> None:
    group = safety_summary(RECORDS).groups[POOLED]
    assert group.patients_at_risk is None
    assert group.counts["sae"].events == 1 and group.counts["sae"].rate is None


def test_empty_arm_has_no_rate() -> None:
    summary = safety_summary([], {"a": [], "b": ["p1"]}, masked=False)
    assert summary.groups["a"].counts["ae"].rate is None
    assert summary.groups["b"].counts["ae"].rate == 0.0


def test_generators_are_accepted() -> None:
    arms = {arm: iter(ps) for arm, ps in ARMS.items()}
    assert safety_summary(iter(RECORDS), arms, masked=False).groups["low"].patients_at_risk == 2


def test_summary_errors() -> None:
    with pytest.raises(SafetyError, match="patients_by_arm"):
        safety_summary(RECORDS, masked=False)
    with pytest.raises(SafetyError, match="patient_id"):
        safety_summary([ae("p9")], ARMS)
    with pytest.raises(SafetyError, match="two arms"):
        safety_summary([], {"a": ["p1"], "b": ["p1"]})
    with pytest.raises(TypeError):
        safety.categories_of("not a record")  # type: ignore[arg-type]
