"""One-time activation codes that bring a patient or caregiver onto their own phone.

A clinician makes a code; the person opens the link (or scans the QR code) and
chooses a username and password.  Codes are random, short enough to type,
stored only as a hash, expire, and work once.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import segno
from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import ActivationCode, CaregiverLink, Patient, User
from epro.services import audit, followup
from epro.services.errors import Refused
from epro.services.passwords import hash_password

#: No 0/O, 1/I/L: easy to read aloud and to type on a phone.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def display(code: str) -> str:
    code = normalize(code)
    return f"{code[:4]}-{code[4:]}"


NOT_CONTACTABLE = N_("This patient may not be contacted any more (consent withdrawn or died): no new code.")


def issue(patient: Patient, role: str, actor: User) -> tuple[str, ActivationCode]:
    """Make a new code; return the plain code (shown once) and its record.

    :class:`Refused` for a patient epro may no longer contact (consent withdrawn, died).
    """
    if not followup.contactable(patient):
        raise Refused(NOT_CONTACTABLE)
    return _issue(actor, patient_id=patient.id, role=role)


def issue_for_user(user: User, purpose: str, actor: User) -> tuple[str, ActivationCode]:
    """A code for an existing account: ``staff`` (first password of a waiting account) or ``reset``."""
    if purpose not in ("staff", "reset"):
        raise ValueError(purpose)
    return _issue(actor, user_id=user.id, purpose=purpose, role=user.role)


def _issue(actor: User, **fields) -> tuple[str, ActivationCode]:
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    hours = int(current_app.config["ACTIVATION_CODE_HOURS"])
    record = ActivationCode(code_hash=hash_code(code), created_by_id=actor.id,
                            expires_at=datetime.now(UTC) + timedelta(hours=hours), **fields)
    db.session.add(record)
    db.session.flush()
    return code, record


def withdraw_codes(user: User) -> None:
    """Every unused code for this account stops working now (deactivation, a newer code)."""
    now = datetime.now(UTC)
    for record in db.session.scalars(select(ActivationCode).where(
            ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None), ActivationCode.expires_at > now)):
        record.expires_at = now
    db.session.flush()


def link_for(code: str) -> str:
    return url_for("auth.activate", code=display(code), _external=True)


def qr_svg(url: str) -> str:
    """The activation link as an inline SVG QR code (segno), scannable offline."""
    return segno.make(url, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=4)


def find_usable(code: str) -> ActivationCode | None:
    if len(normalize(code)) != LENGTH:
        return None
    record = db.session.scalar(select(ActivationCode).where(ActivationCode.code_hash == hash_code(code)))
    if record is None or record.used_at is not None:
        return None
    if record.expires_at <= datetime.now(UTC):
        return None
    return record


def refused(code: str) -> None:
    """A code that does not work: kept even though the request fails (someone may be guessing)."""
    audit.security_event("activation_failed", "activation_codes", "-",
                         new={"code_length": len(normalize(code))})


def redeem(record: ActivationCode, username: str, password: str) -> tuple[User | None, str]:
    """Create the account and use up the code; (None, message) if the username is taken.

    A ``staff`` code activates its waiting account instead: the username is the account's, not *username*.
    """
    if record.purpose == "staff":
        return redeem_staff(record, password)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        return None, _("This username is taken. Please choose another.")
    patient = record.patient
    if patient is None:  # staff and reset codes are redeemed elsewhere
        raise ValueError("not a patient or caregiver activation code")
    if record.role == "patient" and patient.user_id is not None:
        return None, _("This patient already has an account. Please ask your clinic.")
    user = User(username=username, password_hash=hash_password(password), role=record.role,
                locale=patient.language if record.role == "patient" else None)
    with audit.operation("activate", detail={"patient": patient.subject_code}) as op:
        db.session.add(user)
        db.session.flush()
        op.actor = user  # from here on, the new account acts itself
        if record.role == "patient":
            patient.user_id = user.id
        else:
            db.session.add(CaregiverLink(caregiver_id=user.id, patient_id=patient.id))
        record.used_at = datetime.now(UTC)
        record.used_by_id = user.id
    return user, ""


def redeem_staff(record: ActivationCode, password: str) -> tuple[User | None, str]:
    """The waiting staff account of a ``staff`` code gets its first password; the code is used up."""
    user = record.user
    if user is None or not user.active:
        return None, _("This code does not work. It may be used up or expired; please ask your clinic for a new one.")
    with audit.operation("activate", actor=user):
        user.password_hash = hash_password(password)
        user.password_changed_at = datetime.now(UTC)
        record.used_at = datetime.now(UTC)
        record.used_by_id = user.id
    return user, ""


def links_existing(record: ActivationCode, user: User) -> bool:
    """Whether redeeming *record* while signed in as *user* links that account (a caregiver's second patient)."""
    return (record.purpose == "activate" and record.role == "caregiver" and record.patient is not None
            and user.role == "caregiver")


def redeem_for_caregiver(record: ActivationCode, user: User) -> str:
    """Link the signed-in caregiver *user* to the code's patient and use up the code; "" or a message."""
    from epro.services import caregivers

    patient = record.patient
    if patient is None or not links_existing(record, user):
        raise ValueError("not a caregiver activation code")
    if caregivers.is_linked(user, patient):
        return _("You are already linked to this patient.")
    with audit.operation("link", detail={"patient": patient.subject_code}):
        caregivers.link(user, patient)
        record.used_at = datetime.now(UTC)
        record.used_by_id = user.id
    return ""
