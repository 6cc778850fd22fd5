"""Outcome summaries of a study: change from baseline per visit, and the mRS distribution.

Both protocols' secondary outcomes (:mod:`epro.core.trial.outcomes` has the
statistics).  Only counting responses are used (the first complete answer per
visit, :mod:`epro.core.schedule`).  Loads in a fixed number of queries however many
patients: one for the patients, one for all their responses.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import timeline
from epro.core.trial import outcomes as stats
from epro.models import Patient, Study
from epro.services import followup
from epro.services.trial.studies import protocol_of

NO_ARM = "none"


def outcome_instruments(protocol) -> tuple[str, ...]:
    """The instruments the protocol's outcome measures name, in the protocol's order."""
    seen: dict[str, None] = {}
    for outcome in protocol.primary_outcomes + protocol.secondary_outcomes:
        seen.update(dict.fromkeys(outcome.instruments))
    return tuple(seen)


@dataclass(frozen=True)
class StudyOutcomes:
    visits: tuple[str, ...]  # every visit, baseline first
    patients: dict[str, int]  # group → patients
    changes: dict[str, dict[str, dict[str, stats.Stats]]]  # instrument → group → visit → Stats
    mrs: dict[str, dict[str, tuple[int, ...]]]  # group → visit → counts of mRS 0..6
    #: Patients registered "not yet randomized": in no group until allocated, counted apart.
    not_randomized: int = 0


def study_outcomes(study: Study, site_id: int | None, masked: bool) -> StudyOutcomes:
    """Pooled when *masked*, else per arm (groups are arm codes); every site if *site_id* is None."""
    patients = list(db.session.scalars(
        select(Patient).where(Patient.study_id == study.id, *([] if site_id is None else [Patient.site_id == site_id]))
        .options(joinedload(Patient.site), joinedload(Patient.arm)).order_by(Patient.id)))
    protocol = protocol_of(study)
    # A randomized study's patient without an arm waits for allocation: no group's, counted apart.
    waiting = [p for p in patients if p.arm_id is None] if protocol.randomized else []
    patients = [p for p in patients if p not in waiting]
    subs = followup.submissions_by_patient(patients)
    visits = tuple(v.code for v in protocol.visits)
    measured = outcome_instruments(protocol)
    totals: dict[str, dict[int, dict[str, int | None]]] = {code: {} for code in measured}
    plans = followup.plans_for(patients)
    for p in patients:
        tl = timeline.build_timeline(plans[p.id], subs[p.id], followup.patient_today(p), followup.ended_on(p))
        for code in measured:
            totals[code][p.id] = dict(tl.series(code))
    arm_of = {p.id: (p.arm.code if p.arm else NO_ARM) for p in patients}
    groups: dict[str, list[int]] = defaultdict(list)
    for p in patients:
        groups[stats.POOLED if masked else arm_of[p.id]].append(p.id)
    order = [a.code for a in study.arms] + [NO_ARM]
    groups = dict(sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1))
    changes = {
        code: {g: by_group[g] for g in groups if g in by_group}
        for code, by_group in stats.study_summary(totals, visits, arm_of, masked).items()
    }
    mrs = {
        group: stats.mrs_distribution({v: [totals["mrs"][pid].get(v) for pid in members] for v in visits})
        for group, members in groups.items()
    } if "mrs" in totals else {}
    return StudyOutcomes(visits, {g: len(m) for g, m in groups.items()}, changes, mrs, len(waiting))
