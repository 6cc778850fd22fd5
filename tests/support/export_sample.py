"""A small StudyExport built in memory, for testing export writers without a database.

Every response is scored by the real instruments, so totals are right by
construction; one GDS is a proxy answer, one NIHSS has an untestable item, one
subject died (its later mRS is the derived 6 with no response).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from epro.core import instruments
from epro.core.exports import records as r

DAY0 = date(2026, 1, 10)
VISITS = (
    r.VisitPlan("BL", 0, 0, 0, ("nihss", "bi", "mrs", "mmse", "gds15")),
    r.VisitPlan("M1", 1, 7, 7, ("nihss", "bi", "mrs", "mmse", "gds15")),
    r.VisitPlan("M3", 3, 14, 14, ("nihss", "bi", "mrs", "mmse", "gds15")),
)
_VISIT_DAY = {"BL": date(2026, 1, 9), "M1": date(2026, 2, 10), "M3": date(2026, 4, 10)}


def _answers(code: str, shift: int) -> dict[str, Any]:
    inst = instruments.get(code)
    out: dict[str, Any] = {}
    for n, item in enumerate(inst.items):
        values = [c.value for c in item.choices if c.value != instruments.UN]
        out[item.key] = values[(n + shift) % len(values)]
    return out


def _response(subject: str, visit: str, code: str, shift: int, respondent: str, n: int,
              answers: dict[str, Any] | None = None, base: int | None = None) -> r.ResponseRecord:
    inst = instruments.get(code)
    score = inst.score(answers or _answers(code, shift), respondent=respondent)
    on = _VISIT_DAY[visit]
    at = datetime(on.year, on.month, on.day, 2, 0, tzinfo=UTC) + timedelta(minutes=n)
    change = None if visit == "BL" or base is None else score.total - base
    return r.ResponseRecord(
        response_id=f"00000000-0000-4000-8000-{n:012d}", subject_code=subject, visit=visit, instrument=code,
        respondent=respondent, completed_at=at, received_at=at + timedelta(seconds=5), completed_on=on,
        study_day=r.study_day(on, DAY0), answers=dict(score.answers), total=score.total,
        flags=tuple(sorted(score.flags)), counts=True, analysis_flags=(), change_from_baseline=change,
        entered_by="clinician.a" if inst.reporter == "clinician" else subject.lower(),
        rater="clinician.a" if inst.reporter == "clinician" else None,
        signed_by="investigator.a" if inst.reporter == "clinician" else None,
        signed_at=at + timedelta(hours=1) if inst.reporter == "clinician" else None,
    )


def sample_study(*, unblinded: bool = False) -> r.StudyExport:
    subjects = (
        r.Subject("A-001", "A", "Asia/Shanghai", "M", 1958, "primary", "zh", DAY0, date(2026, 1, 5),
                  None, None, None, "HIGH" if unblinded else None, "High dose" if unblinded else None),
        r.Subject("A-002", "A", "Asia/Shanghai", "F", 1962, "middle", "zh", DAY0, date(2026, 1, 6),
                  "died", date(2026, 3, 1), date(2026, 3, 1), "LOW" if unblinded else None,
                  "Low dose" if unblinded else None),
    )
    responses: list[r.ResponseRecord] = []
    values: list[r.VisitValue] = []
    n = 0
    for subject in ("A-001", "A-002"):
        base: dict[str, int] = {}
        for visit in ("BL", "M1", "M3"):
            if subject == "A-002" and visit == "M3":
                values.append(r.VisitValue(subject, "M3", "mrs", 6, 6 - base["mrs"], None, ("died",), None))
                for code in ("nihss", "bi", "mmse", "gds15"):
                    values.append(r.VisitValue(subject, "M3", code, None, None, None, ("died",), None))
                continue
            for code in ("nihss", "bi", "mrs", "mmse", "gds15"):
                n += 1
                respondent = "clinician" if instruments.get(code).reporter == "clinician" else "patient"
                answers = None
                if subject == "A-002" and code == "gds15" and visit == "M1":
                    respondent = "caregiver-proxy"
                if subject == "A-001" and code == "nihss" and visit == "M1":
                    answers = _answers("nihss", 1)
                    answers["nihss_7"] = instruments.UN
                rec = _response(subject, visit, code, n, respondent, n, answers, base.get(code))
                if visit == "BL" and rec.total is not None:
                    base[code] = rec.total
                responses.append(rec)
                values.append(r.VisitValue(subject, visit, code, rec.total, rec.change_from_baseline,
                                           respondent, rec.flags, rec.response_id))
    ae = r.AdverseEventRecord(1, "A-002", "Death", date(2026, 3, 1), date(2026, 3, 1), 5, True, ("death",),
                              "unrelated", "none", "fatal", datetime(2026, 3, 1, 8, tzinfo=UTC),
                              datetime(2026, 3, 1, 20, tzinfo=UTC))
    infusions = tuple(
        r.InfusionRecord(i + 1, s.subject_code, 1, datetime(2026, 1, 10, 1, tzinfo=UTC), DAY0, 1, "",
                         *( (70_000_000, 50.0, 70.0, "LOT-1") if unblinded else (None, None, None, None)))
        for i, s in enumerate(subjects)
    )
    audit = tuple(
        r.AuditRecord(x.completed_at, x.entered_by, "create", "responses", x.response_id, None, None,
                      f'{{"total": {x.total}}}', None, x.subject_code)
        for x in responses[:3]
    )
    return r.StudyExport(
        study_code="MSC-RCT-A", study_name="Sample study", study_name_zh="示例研究", protocol="msc-rct",
        unblinded=unblinded, generated_at=datetime(2026, 5, 1, 9, tzinfo=UTC), generated_by="datamanager",
        visits=VISITS, instruments=("nihss", "bi", "mrs", "mmse", "gds15"), subjects=subjects,
        responses=tuple(responses), visit_values=tuple(values), adverse_events=(ae,), infusions=infusions,
        audit=audit, rules=(r.Rule("baseline", "Baseline", "The last valid assessment on or before day 0."),),
        arms={"HIGH": "High dose", "LOW": "Low dose"} if unblinded else {},
    )
