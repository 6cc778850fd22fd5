"""Helpers for the trial-conduct web tests: database look-ups and ready-made forms.

The `app`, `login` and `ids` fixtures come from tests/conftest.py (a copy of the
demo database per test, on SQLite and on PostgreSQL).
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

NIHSS_10 = {"nihss_1a": 0, "nihss_1b": 0, "nihss_1c": 0, "nihss_2": 0, "nihss_3": 0, "nihss_4": 2,
            "nihss_5a": 3, "nihss_5b": 0, "nihss_6a": 3, "nihss_6b": 0, "nihss_7": 0, "nihss_8": 0,
            "nihss_9": 2, "nihss_10": 0, "nihss_11": 0}


class Trial:
    """Database access for tests, each call in its own app context."""

    def __init__(self, app):
        self.app = app

    def run(self, fn):
        with self.app.app_context():
            return fn()

    def today(self) -> date:
        from epro.services import followup

        return self.run(lambda: followup.today_in("Asia/Shanghai"))

    def scalar(self, statement):
        from epro.base.orm import db

        return self.run(lambda: db.session.scalar(statement))

    def all(self, statement):
        from epro.base.orm import db

        return self.run(lambda: list(db.session.scalars(statement)))

    def study_id(self, code: str) -> int:
        from epro.models import Study

        return self.scalar(select(Study.id).where(Study.code == code))

    def screening_id(self, code: str) -> int:
        from epro.models import Screening

        return self.scalar(select(Screening.id).where(Screening.screening_code == code))

    def patient_id(self, subject: str) -> int:
        from epro.models import Patient

        return self.scalar(select(Patient.id).where(Patient.subject_code == subject))

    def add_patient(self, study_code: str, site_code: str, subject: str, arm_code: str | None, day0: date,
                    **extra) -> int:
        """A patient put straight into the database (for tests that need a known arm)."""
        from epro.base.orm import db
        from epro.models import Arm, Patient, Site, Study
        from epro.services import followup

        def make():
            study = db.session.scalar(select(Study).where(Study.code == study_code))
            site = db.session.scalar(select(Site).where(Site.code == site_code))
            arm = db.session.scalar(select(Arm).where(Arm.study_id == study.id, Arm.code == arm_code))
            p = Patient(subject_code=subject, site_id=site.id, study_id=study.id, arm_id=arm.id if arm else None,
                        birth_year=extra.get("birth_year", 1960), sex="male", education="primary", language="zh",
                        day0=day0, enrolled_on=day0 - timedelta(days=3))
            db.session.add(p)
            db.session.flush()
            followup.refresh_progress([p.id])
            db.session.commit()
            return p.id

        return self.run(make)


@pytest.fixture
def trial(app):
    return Trial(app)


def bmsc_eligible_form(today: date, code: str, **overrides) -> dict[str, str]:
    """A BMSC screening form of an eligible man: every criterion met."""
    from epro.core import protocols

    form = {"screening_code": code, "screened_on": today.isoformat(),
            "birth_date": date(today.year - 55, 3, 1).isoformat(), "sex": "male",
            "onset_date": (today - timedelta(days=90)).isoformat(),
            **{k: str(v) for k, v in NIHSS_10.items()}}
    for c in protocols.load("bmsc").eligibility:
        if not c.computable:
            form[f"criterion_{c.key}"] = "yes" if c.kind == "inclusion" else "no"
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def eligible_form():
    return bmsc_eligible_form


@pytest.fixture
def text():
    return text_of
