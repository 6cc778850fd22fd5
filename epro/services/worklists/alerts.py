"""Clinician alerts: what the site team should look at now, in the app and by e-mail.

Three kinds (epro.core.worklists): a serious adverse event whose 24-hour
report clock is near its deadline or past it (the SAE clock of
``services.trial.safety``); a worsening alert on a patient's scores
(``timeline.alerts``, the site list's "Worse"); a problem a patient or
caregiver reported that nobody reviewed after a day.

E-mail goes out from ``epro remind`` (its alert step, :func:`plan_and_claim`,
:func:`deliver`, :func:`record`), never from a web worker, claimed exactly like
a reminder: a row per alert and recipient under a unique key, inserted with
``INSERT … ON CONFLICT DO NOTHING`` and committed before anything is sent (an
advisory lock on PostgreSQL makes two runs plan one after the other), so each
person gets each alert once (one message per person and patient a run).  The e-mail says only that there is something to
review for a subject code at the recipient's site, and links to the alerts page:
no term, score, grade or arm.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from epro.base.orm import db
from epro.core import timeline, worklists
from epro.core.i18n_marker import N_
from epro.models import AlertClaim, Patient, PatientFlags, User
from epro.models.reminders import CLAIMED, FAILED, SENT
from epro.services import followup
from epro.services.reminders import base_url
from epro.services.reminders import channels as drivers
from epro.services.reminders.messages import Message, gettext_for
from epro.services.trial import safety

log = logging.getLogger("epro.alerts")
#: The advisory lock key of an alert planning run ("epro ale" in ASCII; the reminders use another).
ADVISORY_LOCK = 0x6570726F616C65
#: Who gets a site's alert e-mails: the site team who enter data (epro.core.roles: clinician, investigator).
TEAM_CAPABILITY = "enters_data"

TITLE = N_("epro: something to review")
BODY = N_("There is something to review for patient %(subject)s at your site.")
OPEN_LINK = N_("Open the alerts in epro: %(link)s")
WHY = N_("You get this e-mail as a member of the site team in epro.")

SAE_DETAIL = N_("Serious adverse event report due by %(when)s")
SAE_OVERDUE = N_("Serious adverse event report overdue since %(when)s")
PROBLEM_DETAIL = N_("Health problem reported on %(when)s, not reviewed yet")


# --- what is an alert now ---------------------------------------------------------------------

def site_alerts(site_id: int, now: datetime | None = None) -> list[worklists.StaffAlert]:
    """The site's alerts now, SAE clocks first (epro.core.worklists.alert_order)."""
    now = now or datetime.now(UTC)
    found = _safety_alerts(site_id, now)
    flagged = list(db.session.scalars(
        select(Patient).join(PatientFlags, PatientFlags.patient_id == Patient.id)
        .where(Patient.site_id == site_id, PatientFlags.alert_count > 0, Patient.disposition.is_(None))))
    timelines = followup.timelines_for(flagged)
    for p in flagged:
        for alert in timeline.alerts(timelines[p.id]):
            found.append(worklists.StaffAlert(
                key=f"{worklists.WORSENING}:{p.id}:{alert.code}:{alert.to_visit}", kind=worklists.WORSENING,
                patient_id=p.id, subject_code=p.subject_code, site_id=site_id, since=None,
                detail=alert.message, params=alert.params()))
    return worklists.alert_order(found)


def _safety_alerts(site_id: int, now: datetime) -> list[worklists.StaffAlert]:
    """SAE clocks near or past their deadline, and problem reports waiting longer than a day."""
    found: list[worklists.StaffAlert] = []
    for ae, clock in safety.open_sae_clocks(site_id, now):
        if worklists.sae_alert(clock.remaining, clock.overdue):
            found.append(worklists.StaffAlert(
                key=f"{worklists.SAE_CLOCK}:{ae.id}", kind=worklists.SAE_CLOCK, patient_id=ae.patient.id,
                subject_code=ae.patient.subject_code, site_id=site_id, since=clock.due_at,
                detail=SAE_OVERDUE if clock.overdue else SAE_DETAIL, params={"when": clock.due_at}))
    for report in safety.pending_reports(site_id):
        created = report.created_at if report.created_at.tzinfo else report.created_at.replace(tzinfo=UTC)
        if worklists.problem_alert(created, now):
            found.append(worklists.StaffAlert(
                key=f"{worklists.PROBLEM}:{report.id}", kind=worklists.PROBLEM, patient_id=report.patient.id,
                subject_code=report.patient.subject_code, site_id=site_id, since=created,
                detail=PROBLEM_DETAIL, params={"when": created}))
    return found


def alert_count(user: User, now: datetime | None = None) -> int:
    """The badge on the staff pages: the user's site's alerts (site staff who enter data only).

    Cheap enough for every page: the worsening alerts are counted from the projection
    (``patient_flags.alert_count``, rebuilt with every stored answer), not recomputed.
    """
    if not getattr(user.can, TEAM_CAPABILITY) or user.site_id is None:
        return 0
    now = now or datetime.now(UTC)
    safety_alerts = _safety_alerts(user.site_id, now)
    worse = db.session.scalar(
        select(func.coalesce(func.sum(PatientFlags.alert_count), 0))
        .join(Patient, Patient.id == PatientFlags.patient_id)
        .where(Patient.site_id == user.site_id, Patient.disposition.is_(None))) or 0
    return len(safety_alerts) + int(worse)


# --- e-mail: plan, claim, send, record --------------------------------------------------------

@dataclass(frozen=True)
class AlertMessage(Message):
    """An alert e-mail: one sentence, the link, why they get it (no health data)."""

    @property
    def text(self) -> str:
        t = gettext_for(self.lang)
        return "\n\n".join([self.body, t(OPEN_LINK) % {"link": self.link}, t(WHY)])


def compose(lang: str, subject_code: str) -> AlertMessage:
    t = gettext_for(lang)
    link = f"{base_url()}/clinic/worklists/alerts?lang={lang}"
    return AlertMessage(lang=lang, title=t(TITLE), body=t(BODY) % {"subject": subject_code}, link=link,
                        settings_link=link)


@dataclass
class PlannedAlert:
    alert: worklists.StaffAlert
    recipient: User
    claim_id: int | None = None
    email: str | None = None
    message: AlertMessage | None = None
    outcome: str = ""
    label: str = ""

    def describe(self) -> str:
        return self.label or (f"alert {self.alert.kind} for {self.alert.subject_code} to "
                              f"{self.recipient.username} ({self.recipient.role})")


def _team(site_id: int) -> list[User]:
    from epro.core import roles

    team_roles = roles.with_capability(TEAM_CAPABILITY)
    return list(db.session.scalars(
        select(User).where(User.site_id == site_id, User.role.in_(team_roles), User.active.is_(True),
                           User.password_hash.is_not(None), User.email.is_not(None)).order_by(User.id)))


def plan(now: datetime) -> list[PlannedAlert]:
    """Every (alert, team member with an e-mail address) not claimed yet (reads only)."""
    site_ids = list(db.session.scalars(select(Patient.site_id).distinct()))
    planned = []
    for site_id in sorted(site_ids):
        alerts = site_alerts(site_id, now)
        if not alerts:
            continue
        team = _team(site_id)
        if not team:
            continue
        taken = set(db.session.execute(select(AlertClaim.alert_key, AlertClaim.recipient_id).where(
            AlertClaim.alert_key.in_([a.key for a in alerts]))).all())
        planned += [PlannedAlert(a, u) for a in alerts for u in team if (a.key, u.id) not in taken]
    return planned


def _lock_planning() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def plan_and_claim(now: datetime) -> list[PlannedAlert]:
    """Plan and claim in the caller's unit of work (it commits the claims before anything is sent)."""
    _lock_planning()
    return claim(plan(now))


def claim(planned: list[PlannedAlert]) -> list[PlannedAlert]:
    """Insert a claim for each; keep only those this call inserted (the others were taken meanwhile)."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    mine = []
    for item in planned:
        new_id = db.session.execute(
            insert(AlertClaim).values(alert_key=item.alert.key, kind=item.alert.kind,
                                      patient_id=item.alert.patient_id, recipient_id=item.recipient.id,
                                      status=CLAIMED, claimed_at=datetime.now(UTC))
            .on_conflict_do_nothing().returning(AlertClaim.id)).scalar()
        if new_id is None:
            continue
        lang = item.recipient.locale if item.recipient.locale in ("zh", "en") else "zh"
        item.claim_id, item.email = new_id, item.recipient.email
        item.message = compose(lang, item.alert.subject_code)
        item.label = item.describe()
        mine.append(item)
    return mine


def deliver(item: PlannedAlert, configured: drivers.Channels) -> str:
    """Send one claimed alert e-mail; touches no database."""
    if item.message is None or item.email is None:
        raise RuntimeError("deliver() needs a claimed alert")
    if configured.mail is None:
        item.outcome = "mail: not configured"
        return item.outcome
    try:
        configured.mail.send(item.email, item.message)
        item.outcome = SENT
    except drivers.NotDelivered as exc:
        item.outcome = exc.reason
        log.warning("alert %s: %s", item.claim_id, exc.reason)
    return item.outcome


def deliver_grouped(items: list[PlannedAlert], configured: drivers.Channels) -> list[list[PlannedAlert]]:
    """One e-mail per person and patient for this run's claims (the words are the same for each alert
    of one patient); each claim gets the outcome of its e-mail.  Touches no database."""
    groups: dict[tuple[str | None, str], list[PlannedAlert]] = {}
    for item in items:
        groups.setdefault((item.email, item.alert.subject_code), []).append(item)
    for group in groups.values():
        outcome = deliver(group[0], configured)
        for item in group[1:]:
            item.outcome = outcome
    return list(groups.values())


def record(item: PlannedAlert) -> None:
    row = db.session.get(AlertClaim, item.claim_id)
    if row is None:
        return
    if item.outcome == SENT:
        row.status, row.sent_at = SENT, datetime.now(UTC)
    else:
        row.status, row.error = FAILED, item.outcome or "nothing sent"
    db.session.flush()


def mail_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))
