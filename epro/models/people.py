"""Accounts, patients, caregiver links and one-time activation codes."""
from __future__ import annotations

import secrets
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.study import Arm, Site, Study
from epro.models.types import UTCDateTime, utcnow

ROLES = ("patient", "caregiver", "clinician", "investigator", "admin")
STAFF_ROLES = ("clinician", "investigator")
SEXES = ("female", "male")


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(UserMixin, Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    #: argon2 hash; empty until the account is activated.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    #: "zh" or "en"; None means follow the browser.
    locale: Mapped[str | None] = mapped_column(String(8))
    #: Unblinded staff may see arms and allocation.
    unblinded: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: Rotated at logout so every cookie issued before is refused (server-side logout).
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    site: Mapped[Site | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}.{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def sees_arms(self) -> bool:
        return self.role == "admin" or (self.is_staff and self.unblinded)


class Patient(Model):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Pseudonymous code; the only identifier shown in lists, logs and exports.
    subject_code: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    arm_id: Mapped[int | None] = mapped_column(ForeignKey("arms.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    birth_year: Mapped[int]
    sex: Mapped[str] = mapped_column(String(8))
    #: "illiterate" | "primary" | "middle_or_above" — sets the MMSE cut-off.
    education: Mapped[str] = mapped_column(String(24))
    #: The language chosen at enrolment ("zh" or "en"), given to the patient's account.
    language: Mapped[str] = mapped_column(String(8), default="zh")
    #: Day 0 of the schedule: the (first) treatment date.
    day0: Mapped[date]
    enrolled_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    site: Mapped[Site] = relationship()
    study: Mapped[Study] = relationship()
    arm: Mapped[Arm | None] = relationship()
    user: Mapped[User | None] = relationship()


class CaregiverLink(Model):
    __tablename__ = "caregiver_links"
    __table_args__ = (UniqueConstraint("caregiver_id", "patient_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    patient: Mapped[Patient] = relationship()


class ActivationCode(Model):
    """A one-time code that lets a patient or caregiver set a password.

    Only a hash is stored, so a database copy cannot be used to take over an
    account that is waiting for activation.
    """

    __tablename__ = "activation_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: "patient" or "caregiver"
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    patient: Mapped[Patient] = relationship()
