"""Accounts, patients, caregiver links and one-time activation codes."""
from __future__ import annotations

import secrets
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.core import roles
from epro.models.study import Arm, Site, Study
from epro.models.types import UTCDateTime, utcnow

ROLES = ("patient", "caregiver", "clinician", "investigator", "data-manager", "monitor", "statistician", "admin")
#: Roles that work with patients' data in the clinic pages (what each may do: epro.core.roles).
STAFF_ROLES = roles.with_capability("reads_clinical")
SEXES = ("female", "male")
#: How a patient's participation ended; None while on study.
DISPOSITIONS = ("completed", "withdrawn", "lost", "died")


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(UserMixin, Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    #: argon2 hash; empty until the account is activated.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: The English (default) display name; ``display_name_zh`` is the Chinese one.
    display_name: Mapped[str] = mapped_column(String(120), default="")
    display_name_zh: Mapped[str] = mapped_column(String(120), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    #: "zh" or "en"; None means follow the browser.
    locale: Mapped[str | None] = mapped_column(String(8))
    #: Unblinded staff may see arms and allocation.
    unblinded: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: Rotated at logout so every cookie issued before is refused (server-side logout).
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Base32 TOTP secret (RFC 6238); None until a second factor is turned on.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The last TOTP time step accepted, so a code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column()
    #: Where reminders go (patients and caregivers; never shown to staff lists or exports).
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    #: Text size in percent (epro.core.display.TEXT_SIZES); None until the person chooses one.
    text_size: Mapped[int | None] = mapped_column()
    #: The high-contrast theme; None until the person chooses (then the phone's setting decides).
    high_contrast: Mapped[bool | None] = mapped_column()

    site: Mapped[Site | None] = relationship()

    def display_name_in(self, locale: str | None) -> str:
        """The name in the reader's language, falling back to the other one, then the username."""
        first, second = (self.display_name_zh, self.display_name) if locale == "zh" else (
            self.display_name, self.display_name_zh)
        return first or second or self.username

    def get_id(self) -> str:
        return f"{self.id}.{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def can(self) -> roles.Capabilities:
        """What this account's role may do (epro.core.roles), e.g. ``user.can.enters_data``."""
        return roles.of(self.role)

    @property
    def is_staff(self) -> bool:
        return self.can.reads_clinical

    @property
    def sees_arms(self) -> bool:
        """Every arm of a masked study (data managers and monitors never, whatever ``unblinded`` says)."""
        return self.can.sees_arms(self.unblinded)


class Patient(Model):
    __tablename__ = "patients"
    #: The site list pages through a site in subject order: with this index it stops after one page.
    __table_args__ = (Index("ix_patients_site_subject", "site_id", "subject_code"),)
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
    #: One of DISPOSITIONS once participation ended; None while on study.
    disposition: Mapped[str | None] = mapped_column(String(16))
    disposition_on: Mapped[date | None]
    disposition_reason: Mapped[str | None] = mapped_column(Text)
    #: Withdrawal of consent: no reminder, message or contact of any kind from then on.
    consent_withdrawn: Mapped[bool] = mapped_column(default=False)
    #: The (serious) adverse event with the fatal outcome, for a patient who died.
    death_event_id: Mapped[int | None] = mapped_column(ForeignKey("adverse_events.id", use_alter=True))

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
    #: Unlinking ends the link (audited) instead of deleting it.
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unlinked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    patient: Mapped[Patient] = relationship()


class ActivationCode(Model):
    """A one-time code that lets a person set a password.

    ``purpose`` says what it does: ``activate`` makes a new patient or caregiver
    account for ``patient``; ``staff`` activates the waiting staff account
    ``user``; ``reset`` lets ``user`` choose a new password (issued by site staff
    or an administrator).

    Only a hash is stored, so a database copy cannot be used to take over an
    account that is waiting for activation.
    """

    __tablename__ = "activation_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    #: The existing account a ``staff`` or ``reset`` code is for.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16), default="activate")
    #: The role of the account: "patient" or "caregiver" for ``activate``; the account's role otherwise.
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    patient: Mapped[Patient | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class RecoveryCode(Model):
    """A one-time recovery code for a lost second factor; only a hash is kept."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
