"""Reminders: each person's channels, push subscriptions, and ``epro remind``.

One run (:func:`run`, from cron or a systemd timer; never inside a web worker):

1. **plan** what is due now (epro.core.reminders) for every patient who may be
   contacted, for the patient and each linked caregiver who wants reminders,
   outside the site's quiet hours, at most one a day per person;
2. **claim** each one by inserting its row in ``reminder_claims`` under its two
   unique keys (reminder × recipient, recipient × local day) with
   ``INSERT … ON CONFLICT DO NOTHING``, and **commit**: only the claims this run
   inserted are its to send.  On PostgreSQL the planning transaction first takes
   a transaction-level advisory lock, so two runs (two servers) plan one after
   the other and the second sees the first one's claims; on SQLite the
   planning transaction takes the write lock first, which does the same.  The unique keys hold whatever happens;
3. **send** each claim through its channels, outside any transaction, then
   record the outcome.  A crash between 2 and 3 leaves the claim ``claimed``:
   never sent twice (at most once), and listed by ``--dry-run``.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from epro.base import database
from epro.base.orm import db
from epro.core import reminders
from epro.core.i18n_marker import N_
from epro.models import CaregiverLink, Patient, PushSubscription, ReminderClaim, ReminderPreference, User
from epro.models.reminders import CLAIMED, FAILED, SENT
from epro.services import audit, followup
from epro.services.errors import FieldError, Invalid
from epro.services.reminders import channels as drivers
from epro.services.reminders.messages import Message, compose

log = logging.getLogger("epro.reminders")
#: The advisory lock key of a planning run (any constant; "epro rem" in ASCII).
ADVISORY_LOCK = 0x6570726F72656D
REMINDED_ROLES = ("patient", "caregiver")


# --- preferences -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Preferences:
    push: bool
    email: bool
    sms: bool
    stopped: bool

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c in reminders.CHANNELS if getattr(self, c))


def defaults_for(user: User) -> Preferences:
    """Without a choice of their own: a patient gets push (once a browser subscribed) and e-mail;
    a caregiver gets nothing until they ask for the patient's reminders."""
    if user.role == "caregiver":
        return Preferences(push=True, email=True, sms=False, stopped=True)
    return Preferences(push=True, email=True, sms=False, stopped=False)


def preferences(user: User) -> Preferences:
    row = db.session.scalar(select(ReminderPreference).where(ReminderPreference.user_id == user.id))
    if row is None:
        return defaults_for(user)
    return Preferences(push=row.push, email=row.email, sms=row.sms, stopped=row.stopped)


def save_preferences(user: User, *, push: bool, email: bool, sms: bool, stopped: bool) -> Preferences:
    """The person's own choice (audited as an ``update`` of reminder_preferences)."""
    row = db.session.scalar(select(ReminderPreference).where(ReminderPreference.user_id == user.id))
    with audit.operation("update", actor=user, reason="reminder preferences"):
        if row is None:
            row = ReminderPreference(user_id=user.id)
            db.session.add(row)
        row.push, row.email, row.sms, row.stopped = push, email, sms, stopped
        db.session.flush()
    return preferences(user)


def contact(user: User) -> dict[str, str | None]:
    return {"email": user.email, "phone": user.phone}


BAD_EMAIL = N_("Please give an e-mail address like name@example.com.")
BAD_PHONE = N_("Please give a phone number with digits only, e.g. +86 138 0000 0000.")
_EMAIL = r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}"
_PHONE = r"\+?[0-9][0-9 ()-]{5,24}"


def save_contact(user: User, *, email: str | None, phone: str | None) -> None:
    """The person's own e-mail address and phone number for reminders (blank: none)."""
    import re

    email, phone = (email or "").strip() or None, (phone or "").strip() or None
    errors = []
    if email is not None and (len(email) > 254 or not re.fullmatch(_EMAIL, email)):
        errors.append(FieldError("email_address", BAD_EMAIL))
    if phone is not None and not re.fullmatch(_PHONE, phone):
        errors.append(FieldError("phone_number", BAD_PHONE))
    if errors:
        raise Invalid(errors)
    changed = [name for name, old, value in (("email", user.email, email), ("phone", user.phone, phone))
               if old != value]
    if not changed:
        return
    user.email, user.phone = email, phone
    db.session.flush()
    # The trail says which contact changed, never the address itself (users.email/phone are kept out of it).
    audit.record("update", "users", user.id, actor=user, field="contact", new={"changed": changed},
                 reason="contact for reminders")


# --- push subscriptions ----------------------------------------------------------------------

MAX_ENDPOINT = 1000
NOT_HTTPS = N_("The push endpoint must be an https:// address.")
MISSING = N_("This field is required.")


def _check_endpoint(endpoint: object, allow_http: bool) -> list[FieldError]:
    if not isinstance(endpoint, str) or not endpoint:
        return [FieldError("endpoint", MISSING)]
    if len(endpoint) > MAX_ENDPOINT:
        return [FieldError("endpoint", N_("At most %(n)s characters."), {"n": MAX_ENDPOINT})]
    if not (endpoint.startswith("https://") or (allow_http and endpoint.startswith("http://"))) \
            or not _printable(endpoint):
        return [FieldError("endpoint", NOT_HTTPS)]
    return []


def _printable(text: str) -> bool:
    """No control characters (PostgreSQL cannot even store NUL in text)."""
    return not any(ord(c) < 32 or ord(c) == 127 for c in text)


def subscribe(user: User, endpoint: object, p256dh: object, auth: object) -> PushSubscription:
    """Store a browser's subscription for *user*; the same endpoint again replaces its keys and owner
    (a shared phone: the person signed in now gets its pushes)."""
    allow_http = bool(current_app.config.get("PUSH_ALLOW_HTTP_ENDPOINTS"))
    errors = _check_endpoint(endpoint, allow_http)
    for name, value, limit in (("keys.p256dh", p256dh, 200), ("keys.auth", auth, 100)):
        if not isinstance(value, str) or not value:
            errors.append(FieldError(name, MISSING))
        elif len(value) > limit or not _is_b64url(value):
            errors.append(FieldError(name, N_("Not a valid key.")))
    if errors:
        raise Invalid(errors)
    assert isinstance(endpoint, str) and isinstance(p256dh, str) and isinstance(auth, str)
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if row is None:
        row = PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
        db.session.add(row)
    else:
        row.user_id, row.p256dh, row.auth = user.id, p256dh, auth
    db.session.flush()
    return row


def unsubscribe(user: User, endpoint: object) -> bool:
    """Forget this browser's subscription (only the person's own); True if there was one."""
    if not isinstance(endpoint, str) or not endpoint:
        raise Invalid([FieldError("endpoint", MISSING)])
    if not _printable(endpoint) or len(endpoint) > MAX_ENDPOINT:
        return False  # no stored endpoint looks like this
    result = db.session.execute(delete(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id))
    return bool(getattr(result, "rowcount", 0))


def subscriptions_of(user: User) -> list[PushSubscription]:
    return list(db.session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)
                                   .order_by(PushSubscription.id)))


def _is_b64url(value: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value) is not None


def vapid_public_key() -> str | None:
    vapid = drivers.vapid_from(current_app.config, current_app.instance_path)
    return drivers.public_key(vapid) if vapid is not None else None


# --- planning --------------------------------------------------------------------------------

def rules() -> reminders.Rules:
    config = current_app.config
    return reminders.Rules(
        closing_days=int(config.get("REMINDER_CLOSING_DAYS") or 3),
        quiet_start=reminders.parse_time(str(config.get("REMINDER_QUIET_START") or "21:00")),
        quiet_end=reminders.parse_time(str(config.get("REMINDER_QUIET_END") or "08:00")),
    )


def base_url() -> str:
    return str(current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")


@dataclass
class Planned:
    """One reminder for one person, before it is claimed."""

    recipient: User
    patient: Patient
    due: reminders.DueReminder
    local_day: date
    channels: tuple[str, ...]
    #: Filled once claimed (:func:`claim`): plain values, so sending needs no database.
    claim_id: int | None = None
    message: Message | None = None
    email: str | None = None
    phone: str | None = None
    push_targets: tuple[drivers.PushTarget, ...] = ()
    label: str = ""
    outcome: dict[str, str] = field(default_factory=dict)
    #: Push endpoints the push service said are gone (dropped by :func:`record`).
    gone: list[str] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return language_of(self.recipient, self.patient)

    def describe(self) -> str:
        return self.label or self._describe()

    def _describe(self) -> str:
        return (f"{self.recipient.username} ({self.recipient.role}) · {self.patient.subject_code} "
                f"{self.due.visit} {self.due.kind} [{self.due.instrument_key}] via {', '.join(self.channels)} "
                f"in {self.lang}")


def language_of(user: User, patient: Patient) -> str:
    """The person's saved language, else the patient's language at enrolment, else Chinese."""
    for choice in (user.locale, patient.language):
        if choice in ("zh", "en"):
            return choice
    return "zh"


def _candidates() -> list[Patient]:
    """Patients who may be contacted and have someone to remind (an account or a caregiver)."""
    has_caregiver = select(CaregiverLink.patient_id).where(CaregiverLink.unlinked_at.is_(None))
    return list(db.session.scalars(
        select(Patient).options(joinedload(Patient.site), joinedload(Patient.study), joinedload(Patient.user))
        .where(Patient.consent_withdrawn.is_(False), or_(Patient.disposition.is_(None), Patient.disposition != "died"))
        .where(or_(Patient.user_id.is_not(None), Patient.id.in_(has_caregiver)))
        .order_by(Patient.id)))


def _recipients(patients: list[Patient]) -> dict[int, list[User]]:
    """Patient id → the active accounts to remind: the patient's own, then linked caregivers."""
    out: dict[int, list[User]] = defaultdict(list)
    for p in patients:
        if p.user is not None and p.user.active and p.user.password_hash:
            out[p.id].append(p.user)
    if patients:
        rows = db.session.execute(
            select(CaregiverLink.patient_id, User).join(User, User.id == CaregiverLink.caregiver_id)
            .where(CaregiverLink.patient_id.in_([p.id for p in patients]), CaregiverLink.unlinked_at.is_(None),
                   User.active.is_(True), User.password_hash.is_not(None))
            .order_by(CaregiverLink.created_at, CaregiverLink.id))
        for patient_id, user in rows:
            out[patient_id].append(user)
    return out


def usable_channels(user: User, prefs: Preferences, subscribed: bool, configured: drivers.Channels) -> tuple[str, ...]:
    """The person's chosen channels that can reach them now."""
    usable = []
    if prefs.push and subscribed and configured.push is not None:
        usable.append(reminders.PUSH)
    if prefs.email and user.email and configured.mail is not None:
        usable.append(reminders.EMAIL)
    if prefs.sms and user.phone and configured.sms is not None:
        usable.append(reminders.SMS)
    return tuple(usable)


def plan(now: datetime, configured: drivers.Channels, notes: list[str] | None = None) -> list[Planned]:
    """What is due at *now* (aware), one per person at most, not yet claimed (reads only).

    The site's date is *now*'s in its zone (or EPRO_TODAY when pinned); a site in
    its quiet hours is skipped, and said so in *notes*.
    """
    the_rules = rules()
    patients = _candidates()
    plans = followup.plans_for(patients)
    subs = followup.submissions_by_patient(patients)
    recipients = _recipients(patients)
    users = {u.id: u for us in recipients.values() for u in us}
    pref_rows = {r.user_id: r for r in db.session.scalars(
        select(ReminderPreference).where(ReminderPreference.user_id.in_(list(users))))} if users else {}
    prefs = {uid: (Preferences(r.push, r.email, r.sms, r.stopped) if (r := pref_rows.get(uid)) else defaults_for(u))
             for uid, u in users.items()}
    subscribed = set(db.session.scalars(
        select(PushSubscription.user_id).where(PushSubscription.user_id.in_(list(users))))) if users else set()
    pinned = current_app.config.get("TODAY")
    quiet_zones: set[str] = set()
    by_person: dict[int, list[tuple[reminders.DueReminder, tuple[Patient, date]]]] = defaultdict(list)
    for p in patients:
        tz = p.site.timezone
        if reminders.in_quiet_hours(now, tz, the_rules):
            if notes is not None and tz not in quiet_zones:
                notes.append(f"quiet hours in {tz} ({the_rules.quiet_start:%H:%M}–{the_rules.quiet_end:%H:%M}): "
                             "nothing sent there now")
            quiet_zones.add(tz)
            continue
        local_day = followup.today_in(tz) if pinned else now.astimezone(ZoneInfo(tz)).date()
        own = followup.protocol_instruments(p, "patient")
        found = reminders.due(plans[p.id], subs[p.id], local_day, own, ended_on=followup.ended_on(p),
                              contactable=followup.contactable(p), rules=the_rules)
        for user in recipients.get(p.id, ()):
            if prefs[user.id].stopped:
                continue
            for item in found:
                by_person[user.id].append((item, (p, local_day)))
    if not by_person:
        return []
    taken = {(c.patient_id, c.visit_code, c.instrument_set, c.kind, c.recipient_id) for c in db.session.scalars(
        select(ReminderClaim).where(ReminderClaim.recipient_id.in_(list(by_person))))}
    days_taken = set(db.session.execute(select(ReminderClaim.recipient_id, ReminderClaim.local_day)
                                        .where(ReminderClaim.recipient_id.in_(list(by_person)))).all())
    planned = []
    for uid, options in by_person.items():
        user = users[uid]
        fresh = [(item, ctx) for item, ctx in options
                 if (ctx[0].id, item.visit, item.instrument_key, item.kind, uid) not in taken]
        sent_today = any((uid, ctx[1]) in days_taken for _item, ctx in options)
        chosen = reminders.choose(fresh, sent_today)
        if chosen is None:
            continue
        item, (patient, local_day) = chosen
        usable = usable_channels(user, prefs[uid], uid in subscribed, configured)
        if usable:
            planned.append(Planned(user, patient, item, local_day, usable))
        elif notes is not None:
            notes.append(f"{user.username}: {item.visit} {item.kind} is due, but none of their chosen channels "
                         f"({', '.join(prefs[uid].channels) or 'none'}) can reach them here")
    return planned


# --- claiming --------------------------------------------------------------------------------

def _lock_planning() -> None:
    """Two runs plan one after the other (PostgreSQL: an advisory lock held until commit)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    else:
        database.take_write_lock(db.session)


def claim(planned: list[Planned]) -> list[Planned]:
    """Insert a claim for each; keep only those this call inserted (the others were taken meanwhile)."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    mine = []
    for item in planned:
        values = dict(patient_id=item.patient.id, recipient_id=item.recipient.id, visit_code=item.due.visit,
                      instrument_set=item.due.instrument_key, kind=item.due.kind, local_day=item.local_day,
                      status=CLAIMED, claimed_at=datetime.now(UTC), channels={})
        new_id = db.session.execute(
            insert(ReminderClaim).values(**values).on_conflict_do_nothing().returning(ReminderClaim.id)
        ).scalar()
        if new_id is not None:
            item.claim_id = new_id
            _prepare(item)
            mine.append(item)
    return mine


def _prepare(item: Planned) -> None:
    """Everything the sending needs, read now (before the commit expires the objects)."""
    item.message = message_for(item)
    item.email, item.phone = item.recipient.email, item.recipient.phone
    item.push_targets = tuple(drivers.PushTarget(s.endpoint, s.p256dh, s.auth)
                              for s in subscriptions_of(item.recipient))
    item.label = item._describe()


def plan_and_claim(now: datetime, configured: drivers.Channels, notes: list[str] | None = None) -> list[Planned]:
    """Steps 1 and 2 in the caller's unit of work (it commits the claims before anything is sent)."""
    _lock_planning()
    return claim(plan(now, configured, notes))


# --- sending ---------------------------------------------------------------------------------

def message_for(item: Planned) -> Message:
    first = item.due.pending[0] if item.due.pending else item.due.instrument_set[0]
    lang = item.lang
    link = f"{base_url()}/patients/{item.patient.id}/visits/{item.due.visit}/{first}?lang={lang}"
    visit = next((v for v in followup.planned_visits(item.patient) if v.code == item.due.visit), None)
    return compose(lang=lang, role=item.recipient.role, kind=item.due.kind, visit=item.due.visit,
                   months=visit.months if visit else 0, window_end=item.due.window_end, link=link,
                   settings_link=f"{base_url()}/reminders?lang={lang}")


def deliver(item: Planned, configured: drivers.Channels) -> dict[str, str]:
    """Send one claimed reminder through each of its channels; touches no database (no lock is held
    while a mail server or push service answers)."""
    message = item.message
    if message is None:
        raise RuntimeError("deliver() needs a claimed reminder")
    outcome: dict[str, str] = {}
    for channel in item.channels:
        try:
            if channel == reminders.PUSH and configured.push is not None:
                _push_to_every_browser(configured.push, item, message)
            elif channel == reminders.EMAIL and configured.mail is not None and item.email:
                configured.mail.send(item.email, message)
            elif channel == reminders.SMS and configured.sms is not None and item.phone:
                if configured.sms.send(item.phone, message) == drivers.LOGGED:
                    outcome[channel] = drivers.LOGGED
                    continue
            else:
                raise drivers.NotDelivered(f"{channel}: not configured")
            outcome[channel] = SENT
        except drivers.NotDelivered as exc:
            outcome[channel] = exc.reason
            log.warning("reminder %s: %s", item.claim_id, exc.reason)
    item.outcome = outcome
    return outcome


def _push_to_every_browser(push: drivers.Push, item: Planned, message: Message) -> None:
    """Every browser the person subscribed; those the push service says are gone are noted."""
    sent, last = 0, drivers.NotDelivered("push: no subscription")
    for target in item.push_targets:
        try:
            push.send(target, message)
            sent += 1
        except drivers.NotDelivered as exc:
            if exc.gone:
                item.gone.append(target.endpoint)
            last = exc
    if not sent:
        raise last


def record(item: Planned) -> None:
    """The outcome on the claim (in the caller's unit of work); gone push subscriptions are dropped."""
    if item.gone:
        db.session.execute(delete(PushSubscription).where(PushSubscription.endpoint.in_(item.gone)))
    row = db.session.get(ReminderClaim, item.claim_id)
    if row is None:
        return
    row.channels = dict(item.outcome)
    if any(v in (SENT, drivers.LOGGED) for v in item.outcome.values()):
        row.status, row.sent_at = SENT, datetime.now(UTC)
    else:
        row.status, row.error = FAILED, "; ".join(item.outcome.values()) or "nothing sent"
    db.session.flush()


def stuck_claims() -> list[ReminderClaim]:
    """Claims never sent (a run stopped between claim and send): shown, never sent again."""
    return list(db.session.scalars(select(ReminderClaim).where(ReminderClaim.status == CLAIMED)
                                   .order_by(ReminderClaim.claimed_at)))


def configured_channels() -> drivers.Channels:
    return drivers.from_config(current_app.config, current_app.instance_path)


def summary_of(items: list[Planned]) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        for channel, result in item.outcome.items():
            counts[f"{channel}_{'sent' if result == SENT else 'failed'}"] += 1
    return dict(counts)
