"""Sites, studies and arms: where a patient is followed and under which protocol."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model


class Bilingual:
    """A model with an English ``name`` and a Chinese ``name_zh``."""

    name: str
    name_zh: str

    def name_in(self, locale: str | None) -> str:
        """The name in the reader's language, falling back to the other one."""
        if locale == "zh":
            return self.name_zh or self.name
        return self.name or self.name_zh


class Site(Bilingual, Model):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code shown to staff, e.g. "A".
    code: Mapped[str] = mapped_column(String(16), unique=True)
    #: The English name; ``name_zh`` the Chinese one (see :meth:`name_in`).
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    #: IANA zone; visit dates are calendar dates in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class Study(Bilingual, Model):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: The English name; ``name_zh`` the Chinese one (see :meth:`name_in`).
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    #: The protocol this study was created from (see epro/protocols).
    protocol: Mapped[str] = mapped_column(String(32))
    #: Masked (blinded) studies hide the arm from patients, caregivers and masked staff.
    masked: Mapped[bool] = mapped_column(default=True)
    #: Whether patients see clinician-rated scores (once signed) in their history.
    patients_see_clinician_scores: Mapped[bool] = mapped_column(default=False)
    arms: Mapped[list[Arm]] = relationship(back_populates="study", order_by="Arm.id")


class Arm(Model):
    __tablename__ = "arms"
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str] = mapped_column(String(200), default="")
    study: Mapped[Study] = relationship(back_populates="arms")


class StudySite(Model):
    """Which sites take part in which study."""

    __tablename__ = "study_sites"
    __table_args__ = (UniqueConstraint("study_id", "site_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    study: Mapped[Study] = relationship()
    site: Mapped[Site] = relationship()
