"""Demo data: two sites, both trials, the accounts in CONTRACT.md, and a
realistic history relative to today so something is always due.

Loading is idempotent: every object is looked up by its natural key first.
"""
from __future__ import annotations

import functools
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text

from epro.app import demo_trial
from epro.base.orm import db
from epro.core import instruments, protocols, schedule
from epro.models import (
    Arm,
    CaregiverLink,
    DataQuery,
    Patient,
    PatientFlags,
    Response,
    Site,
    Study,
    User,
    VisitProgress,
)
from epro.services import audit, followup, queries
from epro.services.passwords import hash_password
from epro.services.protocols import visit_defs as protocol_visits
from epro.services.responses import digest
from epro.services.unit_of_work import unit_of_work

PASSWORD = "epro-demo-2026"
NAMESPACE = uuid.UUID("5b0a7e63-5b7e-4a63-9d43-2f0cde5e3a11")

STUDIES = {  # masking and arms come from the protocol (epro/core/protocols/data)
    "IT-HMSC": dict(name="Ischemia-tolerant allogeneic MSC (it-hMSC) safety study", protocol="it-hmsc"),
    "BMSC": dict(name="Autologous bone-marrow MSC (BMSCs) study", protocol="bmsc"),
}
SITES = {"A": ("Site A", "IT-HMSC"), "B": ("Site B", "BMSC")}
#: Demo patients and caregivers, who get reminders (an e-mail address and a phone number each).
DEMO_CONTACTS = ("patient.a1", "caregiver.a1", "patient.a2", "patient.b1")
DEMO_STAFF = ("clinician.a", "clinician.b", "investigator.a", "datamanager", "monitor.a", "statistician", "admin")
STAFF_NAMES_ZH = {"clinician.a": "王医生（A）", "clinician.b": "李医生（B）", "investigator.a": "赵教授（A）",
                  "admin": "管理员"}


def _get_or_create(model, defaults=None, **keys):
    obj = db.session.scalar(select(model).filter_by(**keys))
    if obj is None:
        obj = model(**keys, **(defaults or {}))
        db.session.add(obj)
        db.session.flush()
    return obj


def _fill_empty(obj, **values) -> None:
    """Set the fields that are still empty (a database demo'd before the field existed); never overwrite."""
    for key, value in values.items():
        if value and not getattr(obj, key):
            setattr(obj, key, value)
    db.session.flush()


def _user(username: str, role: str, **extra) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, role=role, password_hash=hash_password(PASSWORD), **extra)
        db.session.add(user)
        db.session.flush()
    return user


def _answers_for(code: str, ability: float, rng: random.Random) -> dict[str, int | str]:
    """Plausible answers: ability 0 (worst) .. 1 (best) picks each item's level."""
    definition = instruments.get(code)
    answers: dict[str, int | str] = {}
    for item in definition.items:
        values = [v for v in item.allowed_values if v != "UN"]
        if code.startswith("gds"):
            depressive = rng.random() > ability
            scored_yes = _gds_yes_scores(code, item.key)
            answers[item.key] = ("YES" if scored_yes else "NO") if depressive else ("NO" if scored_yes else "YES")
            continue
        best_high = definition.higher_is_better
        ordered = values if best_high else list(reversed(values))
        jitter = rng.uniform(-0.15, 0.15)
        idx = round(max(0.0, min(1.0, ability + jitter)) * (len(ordered) - 1))
        answers[item.key] = ordered[idx]
    if code == "nihss" and answers.get("nihss_1a") == 3:
        answers["nihss_8"], answers["nihss_9"] = 2, 3
    return answers


@functools.cache
def _gds_yes_scores(code: str, key: str) -> bool:
    """Whether "YES" is the depressive (scoring) answer for this GDS item."""
    definition = instruments.get(code)
    others = {i.key: "NO" for i in definition.items}
    base = definition.score(others).total
    others[key] = "YES"
    return definition.score(others).total > base


def _store(patient: Patient, visit: str, code: str, answers: dict, respondent: str,
           completed: datetime, entered_by: User | None) -> None:
    rid = str(uuid.uuid5(NAMESPACE, f"{patient.subject_code}/{visit}/{code}"))
    if db.session.get(Response, rid) is not None:
        return
    kwargs = {"education": patient.education} if code == "mmse" else {}
    score = instruments.get(code).score(answers, respondent=respondent, **kwargs)
    with audit.operation("create", actor=entered_by, reason="demo data"):
        db.session.add(Response(
            id=rid, patient_id=patient.id, visit_code=visit, instrument=code, answers=score.answers,
            total=score.total, flags=sorted(score.flags), respondent=respondent,
            entered_by_id=entered_by.id if entered_by else None, completed_at=completed, received_at=completed,
            payload_digest=digest({"demo": rid}),
        ))


def _at(day: date, hour: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, 30), ZoneInfo(tz)).astimezone(UTC)


def _day0_with_open(today: date, visit_months: int, offset_days: int) -> date:
    """A day 0 such that the visit's target date is today + offset_days."""
    target = today + timedelta(days=offset_days)
    day0 = schedule.add_months(target, -visit_months)
    while schedule.add_months(day0, visit_months) < target:
        day0 += timedelta(days=1)
    return day0


def _fill(patient: Patient, upto: tuple[str, ...], ability: list[float], clinician: User | None,
          rng: random.Random, skip: tuple[tuple[str, str], ...] = (), late: tuple[str, ...] = ()) -> None:
    tz = patient.site.timezone
    for n, visit in enumerate(followup.planned_visits(patient)):
        if visit.code not in upto:
            continue
        level = ability[min(n, len(ability) - 1)]
        when = visit.window_end + timedelta(days=3) if visit.code in late else visit.target_date
        for code in visit.instruments:
            if (visit.code, code) in skip:
                continue
            clin = instruments.get(code).reporter == "clinician"
            respondent = "clinician" if clin else "patient"
            entered = clinician if clin else patient.user
            _store(patient, visit.code, code, _answers_for(code, level, rng), respondent,
                   _at(when, 10 if clin else 19, tz), entered)


def load() -> str:
    """Create the demo world if it is not there; return a one-line summary."""
    with unit_of_work(), audit.operation("create", reason="demo data"):
        return _load()


def _load() -> str:
    rng = random.Random(2026)
    studies = {}
    for code, spec in STUDIES.items():
        protocol = protocols.load(spec["protocol"])
        study = _get_or_create(Study, code=code, defaults=dict(name=spec["name"], name_zh=protocol.short_title.zh,
                                                                protocol=protocol.code, masked=protocol.masked))
        _fill_empty(study, name_zh=protocol.short_title.zh)  # a database demo'd before names had two languages
        for arm in protocol.arms:
            _fill_empty(_get_or_create(Arm, study_id=study.id, code=arm.code,
                                       defaults=dict(label=arm.label.en, label_zh=arm.label.zh)),
                        label_zh=arm.label.zh)
        studies[code] = study
    sites = {}
    for code, (name, study_code) in SITES.items():
        planned = {s.code: s for s in protocols.load(STUDIES[study_code]["protocol"]).sites}.get(code)
        name_zh = planned.name.zh if planned else ""
        sites[code] = _get_or_create(Site, code=code, defaults=dict(name=name, name_zh=name_zh,
                                                                    timezone="Asia/Shanghai"))
        _fill_empty(sites[code], name_zh=name_zh)
    arms = {(s.code, a.code): a for s in studies.values() for a in db.session.scalars(
        select(Arm).where(Arm.study_id == s.id))}

    clin_a = _user("clinician.a", "clinician", site_id=sites["A"].id, display_name="Dr. Wang (A)",
                   display_name_zh=STAFF_NAMES_ZH["clinician.a"], locale="zh")
    clin_b = _user("clinician.b", "clinician", site_id=sites["B"].id, display_name="Dr. Li (B)",
                   display_name_zh=STAFF_NAMES_ZH["clinician.b"], locale="zh")
    inv_a = _user("investigator.a", "investigator", site_id=sites["A"].id, display_name="Prof. Zhao (A)",
                  display_name_zh=STAFF_NAMES_ZH["investigator.a"], unblinded=True, locale="zh")
    admin = _user("admin", "admin", display_name="Administrator", display_name_zh=STAFF_NAMES_ZH["admin"], locale="en")
    for account in (clin_a, clin_b, inv_a, admin):  # a database demo'd before names had two languages
        _fill_empty(account, display_name_zh=STAFF_NAMES_ZH[account.username])

    today = followup.today_in("Asia/Shanghai")
    people: list[tuple[str, str | None, str, str, date, tuple[str, ...], list[float], dict[str, Any]]] = [
        # subject, username, site, arm, day0, visits done, abilities, extras
        ("A-001", "patient.a1", "A", "low", _day0_with_open(today, 3, 3), ("BL", "M1"), [0.45, 0.55], {}),
        ("A-002", "patient.a2", "A", "high", _day0_with_open(today, 3, -6), ("BL", "M1"), [0.7, 0.45],
         {"skip": (("M1", "mmse"),)}),
        ("A-003", None, "A", "medium", _day0_with_open(today, 1, -30), ("BL",), [0.5], {}),
        ("A-004", None, "A", "medium", _day0_with_open(today, 6, 20), ("BL", "M1", "M3"), [0.3, 0.4, 0.5],
         {"late": ("M3",)}),
        ("B-001", "patient.b1", "B", "bmsc", _day0_with_open(today, 1, 10), ("BL",), [0.5], {}),
        ("B-002", None, "B", "routine", _day0_with_open(today, 1, -2), ("BL",), [0.4], {}),
    ]
    created = 0
    for subject, username, site_code, arm_code, day0, done, abilities, extra in people:
        patient = db.session.scalar(select(Patient).where(Patient.subject_code == subject))
        study = studies[SITES[site_code][1]]
        if patient is None:
            user = _user(username, "patient", locale="zh") if username else None
            patient = Patient(
                subject_code=subject, site_id=sites[site_code].id, study_id=study.id,
                arm_id=arms[(study.code, arm_code)].id, user_id=user.id if user else None,
                birth_year=1958 + rng.randint(0, 10), sex=rng.choice(["female", "male"]),
                education=rng.choice(["primary", "middle_or_above"]), language="zh",
                day0=day0, enrolled_on=day0 - timedelta(days=10),
            )
            db.session.add(patient)
            db.session.flush()
            created += 1
            _fill(patient, done, abilities, clin_a if site_code == "A" else clin_b, rng,
                  skip=extra.get("skip", ()), late=extra.get("late", ()))
    # Patients not projected yet, or projected before the list facts were kept (migration 0011).
    missing = db.session.scalars(select(Patient.id).where(
        ~Patient.id.in_(select(VisitProgress.patient_id))
        | ~Patient.id.in_(select(PatientFlags.patient_id).where(PatientFlags.latest.is_not(None))))).all()
    for start in range(0, len(missing), 500):
        followup.refresh_progress(list(missing[start:start + 500]))
    caregiver = _user("caregiver.a1", "caregiver", locale="zh")
    a1 = db.session.execute(select(Patient).where(Patient.subject_code == "A-001")).scalar_one()
    _get_or_create(CaregiverLink, caregiver_id=caregiver.id, patient_id=a1.id)
    # Reminders (CONTRACT.md, "Reminders and push"): every demo patient and caregiver has an e-mail address
    # and a (made-up, reserved-looking) phone number.
    for n, username in enumerate(DEMO_CONTACTS, start=1):
        contact = db.session.scalar(select(User).where(User.username == username))
        if contact is not None:
            _fill_empty(contact, email=f"{username}@example.org", phone=f"+86 138 0000 {n:04d}")
    # Read-only staff, always masked (epro.core.roles): every site, and one site's monitor.
    _user("datamanager", "data-manager", display_name="Ms. Chen (data manager)", display_name_zh="陈女士（数据管理员）",
          locale="zh")
    monitor = _user("monitor.a", "monitor", site_id=sites["A"].id, display_name="Mr. Sun (monitor, A)",
                    display_name_zh="孙先生（监查员，A）", locale="zh")
    _demo_query(monitor)
    # Exports only, every site; unblinded: the trial statistician's unblinded analysis files.
    _user("statistician", "statistician", display_name="Dr. Liu (statistician, unblinded)",
          display_name_zh="刘博士（统计师，非盲）", unblinded=True, locale="zh")
    # Staff alerts by e-mail (epro remind): every demo staff account has an e-mail address.
    for username in DEMO_STAFF:
        member = db.session.scalar(select(User).where(User.username == username))
        if member is not None:
            _fill_empty(member, email=f"{username}@example.org")
    demo_trial.load(studies, sites, {study: site for site, (_name, study) in SITES.items()}, today)
    return f"demo: {created} demo patients created (password for every demo account: {PASSWORD})"


def _demo_query(monitor: User) -> None:
    """One open data query for the overview and the site's timeline: the monitor asks about A-004's late M3 mRS."""
    a4 = db.session.scalar(select(Patient).where(Patient.subject_code == "A-004"))
    if a4 is None or db.session.scalar(select(DataQuery.id).where(DataQuery.patient_id == a4.id)) is not None:
        return
    mrs = db.session.scalar(select(Response).where(Response.patient_id == a4.id, Response.visit_code == "M3",
                                                   Response.instrument == "mrs", Response.status == "active"))
    if mrs is not None:
        queries.raise_query(monitor, mrs, "M3 的 mRS 与门诊病历不一致，请核对。 / The M3 mRS differs from the clinic "
                            "notes; please check.", "MRS0101",
                            now=datetime.now(UTC) - timedelta(days=12))  # twelve days open


def generate(count: int) -> str:
    """Add `count` generated patients (G-<site>-NNNNN) with visits, answers and gaps."""
    with unit_of_work():
        summary = _generate(count)
    # Fresh planner statistics: right after a bulk load PostgreSQL's are those of an empty
    # database (a "sort by next visit" took 8.9 s instead of 0.4 s), and SQLite has none.
    with unit_of_work():
        db.session.execute(text("ANALYZE"))
    return summary


def _generate(count: int) -> str:
    rng = random.Random(count)
    sites = db.session.scalars(select(Site).order_by(Site.code)).all()
    study_of = {"A": "IT-HMSC", "B": "BMSC"}
    studies = {s.code: s for s in db.session.scalars(select(Study))}
    existing = set(db.session.scalars(select(Patient.subject_code).where(Patient.subject_code.like("G-%"))))
    today = followup.today_in("Asia/Shanghai")
    made = 0
    patient_rows: list[dict[str, Any]] = []
    response_rows: list[dict[str, Any]] = []
    for n in range(count):
        site = sites[n % len(sites)]
        subject = f"G-{site.code}-{n + 1:05d}"
        if subject in existing:
            continue
        study = studies[study_of.get(site.code, "IT-HMSC")]
        day0 = today - timedelta(days=rng.randint(-10, 400))
        patient_rows.append(dict(
            subject_code=subject, site_id=site.id, study_id=study.id,
            arm_id=rng.choice(study.arms).id if study.arms else None,
            birth_year=rng.randint(1950, 1990), sex=rng.choice(["female", "male"]),
            education=rng.choice(["illiterate", "primary", "middle_or_above"]), language="zh",
            day0=day0, enrolled_on=day0 - timedelta(days=rng.randint(1, 14)),
            created_at=datetime.now(UTC),
        ))
        made += 1
    if patient_rows:
        db.session.execute(insert(Patient).execution_options(**{audit.SUMMARIZED: True}), patient_rows)
        db.session.flush()
    ids = dict(db.session.execute(select(Patient.subject_code, Patient.id).where(
        Patient.subject_code.in_([r["subject_code"] for r in patient_rows]))).all()) if patient_rows else {}
    for row in patient_rows:
        visits = protocol_visits(next(st.protocol for st in studies.values() if st.id == row["study_id"]))
        planned = schedule.plan(row["day0"], row["enrolled_on"], visits)
        ability = rng.uniform(0.2, 0.8)
        for visit in planned:
            if visit.window_start > today:
                break
            for code in visit.instruments:
                if rng.random() < 0.12:
                    continue  # a gap: not answered
                late = rng.random() < 0.08
                when = visit.window_end + timedelta(days=rng.randint(1, 5)) if late else visit.target_date
                if when > today:
                    when = today
                ability = max(0.0, min(1.0, ability + rng.uniform(-0.05, 0.08)))
                kwargs = {"education": row["education"]} if code == "mmse" else {}
                answers = _answers_for(code, ability, rng)
                score = instruments.get(code).score(answers, **kwargs)
                rid = str(uuid.uuid5(NAMESPACE, f"{row['subject_code']}/{visit.code}/{code}"))
                moment = _at(when, 10, "Asia/Shanghai")
                response_rows.append(dict(
                    id=rid, patient_id=ids[row["subject_code"]], visit_code=visit.code, instrument=code,
                    answers=score.answers, total=score.total, flags=sorted(score.flags),
                    respondent=instruments.get(code).reporter,
                    completed_at=moment, received_at=moment, payload_digest=digest({"demo": rid}),
                    status="active",
                ))
    for start in range(0, len(response_rows), 5000):
        db.session.execute(insert(Response).execution_options(**{audit.SUMMARIZED: True}),
                           response_rows[start:start + 5000])
    new_ids = list(ids.values())
    for start in range(0, len(new_ids), 500):
        followup.refresh_progress(new_ids[start:start + 500])
    if made:  # bulk statements pass by the session's flush: one event says what they wrote
        audit.record("create", "patients", "bulk", new={"generated_patients": made,
                                                        "responses": len(response_rows)}, reason="demo data")
    return f"\ndemo: {made} generated patients with {len(response_rows)} responses"
