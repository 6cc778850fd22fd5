"""Outcome summaries of a study: change from baseline per visit, and the mRS distribution.

Both protocols' secondary outcomes (:mod:`epro.core.trial.outcomes` has the
statistics).  The values are the endpoints' (:mod:`epro.core.endpoints`): the
answer that counts per visit, inside its window, mRS 6 after death; proxy GDS
and NIHSS with untestable items are summarised apart (rule "separate").  Loads in a fixed number of queries however many
patients: one for the patients, one for all their responses.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import endpoints
from epro.core.exports.records import VisitValue
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
    #: Changes reported apart (rule "separate"): instrument → "proxy"/"untestable" → group → visit → Stats.
    separate: dict[str, dict[str, dict[str, dict[str, stats.Stats]]]] = field(default_factory=dict)


def study_outcomes(study: Study, site_id: int | None, masked: bool) -> StudyOutcomes:
    """Pooled when *masked*, else per arm (groups are arm codes); every site if *site_id* is None."""
    patients = list(db.session.scalars(
        select(Patient).where(Patient.study_id == study.id, *([] if site_id is None else [Patient.site_id == site_id]))
        .options(joinedload(Patient.site), joinedload(Patient.arm)).order_by(Patient.id)))
    protocol = protocol_of(study)
    # A randomized study's patient without an arm waits for allocation: no group's, counted apart.
    waiting = [p for p in patients if p.arm_id is None] if protocol.randomized else []
    patients = [p for p in patients if p not in waiting]
    visits = tuple(v.code for v in protocol.visits)
    measured = outcome_instruments(protocol)
    timelines = followup.timelines_for(patients)
    values: list[VisitValue] = []
    for p in patients:
        values.extend(followup.endpoint_values(p, timelines[p.id], protocol))
    main, apart = endpoints.split_for_summary(values)
    pid_of = {p.subject_code: p.id for p in patients}
    totals: dict[str, dict[int, dict[str, int | None]]] = {
        code: {p.id: main.get(code, {}).get(p.subject_code, {}) for p in patients} for code in measured
    }
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
    group_of = {pid: g for g, members in groups.items() for pid in members}
    separate: dict[str, dict[str, dict[str, dict[str, stats.Stats]]]] = {}
    for name, by_instrument in apart.items():
        for code, these in by_instrument.items():
            if code not in measured:
                continue
            by_group: dict[str, list[VisitValue]] = defaultdict(list)
            for v in these:
                by_group[group_of[pid_of[v.subject_code]]].append(v)
            separate.setdefault(code, {})[name] = {
                g: {visit: stats.describe(ch) for visit, ch in endpoints.changes_by_visit(vs).items()}
                for g, vs in by_group.items()
            }
    return StudyOutcomes(visits, {g: len(m) for g, m in groups.items()}, changes, mrs, len(waiting), separate)
