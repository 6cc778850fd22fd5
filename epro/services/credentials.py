"""How people keep their own sign-in safe: a new password, a reset code, a second factor.

- **Change password**: the current one first; every other session ends.
- **Reset**: site staff (for a patient or caregiver of their site) or an
  administrator (for anyone) issue a one-time code with purpose ``reset``; the
  person opens ``/activate?code=…`` and chooses a new password.  Never an e-mail
  link.
- **Second factor**: TOTP (RFC 6238, pyotp) with ten one-time recovery codes
  (only salted hashes are kept).  A code's time step is remembered so it cannot
  be used twice.  Administrators and unblinded staff must have one when the
  configuration ``REQUIRE_SECOND_FACTOR`` is on.

Every change is audited by the session under its action (``change_password``,
``issue_reset``, ``reset_password``, ``enable_second_factor``,
``disable_second_factor``, ``use_recovery_code``); a wrong password or code is a
security event that survives the request's rollback.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime

import pyotp
from flask import current_app
from sqlalchemy import select

from epro.base.orm import db
from epro.core import password_feedback
from epro.core.i18n_marker import N_
from epro.models import ActivationCode, CaregiverLink, Patient, RecoveryCode, User
from epro.models.people import new_session_token
from epro.services import activation, audit
from epro.services.errors import FieldError, Invalid, Refused
from epro.services.passwords import hash_password, verify_password, weakness

ISSUER = "epro"
RECOVERY_CODES = 10
RECOVERY_LENGTH = 10
#: A code of the step before or after the current one is accepted too (clock drift).
VALID_WINDOW = 1
WRONG_CODE = N_("This code is not right. Please type the 6 digits your app shows now.")


# --- passwords ------------------------------------------------------------------------------

def password_problems(password: str, user: User, field: str = "password") -> list[FieldError]:
    """The strength check of every place a password is chosen (the web forms check it first, in words)."""
    problem = weakness(password, (user.username, user.display_name, "epro"))
    return [FieldError(field, password_feedback.GENERAL)] if problem else []


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    user.session_token = new_session_token()  # every cookie issued before stops working


def change_password(user: User, current: str, new: str) -> None:
    """A signed-in person's new password; the current one must be right. Other sessions end."""
    if not verify_password(user.password_hash, current):
        audit.security_event("change_password_failed", "users", user.id, actor=user)
        raise Invalid([FieldError("current_password", N_("The current password is not right."))])
    if verify_password(user.password_hash, new):
        raise Invalid([FieldError("password", N_("The new password must be different from the current one."))])
    problems = password_problems(new, user)
    if problems:
        raise Invalid(problems)
    with audit.operation("change_password", actor=user):
        _set_password(user, new)
        db.session.flush()


# --- reset codes ----------------------------------------------------------------------------

def may_issue_reset(actor: User, user: User) -> bool:
    """An administrator for any account; site staff for a patient or caregiver of their site."""
    if actor.role == "admin":
        return True
    if not actor.can.enters_data or user.role not in ("patient", "caregiver") or actor.site_id is None:
        return False
    return actor.site_id in _sites_of(user)


def _sites_of(user: User) -> set[int]:
    if user.role == "patient":
        return set(db.session.scalars(select(Patient.site_id).where(Patient.user_id == user.id)))
    return set(db.session.scalars(
        select(Patient.site_id).join(CaregiverLink, CaregiverLink.patient_id == Patient.id)
        .where(CaregiverLink.caregiver_id == user.id, CaregiverLink.unlinked_at.is_(None))))


def reset_targets(patient: Patient) -> list[User]:
    """The accounts of a patient's page that may get a reset code: the patient's and its caregivers'."""
    users = [patient.user] if patient.user is not None else []
    users += db.session.scalars(
        select(User).join(CaregiverLink, CaregiverLink.caregiver_id == User.id)
        .where(CaregiverLink.patient_id == patient.id, CaregiverLink.unlinked_at.is_(None))
        .order_by(User.username))
    return [u for u in users if u.active and u.password_hash]


def issue_reset(user: User, actor: User) -> tuple[str, ActivationCode]:
    """A one-time code that lets *user* choose a new password; (plain code shown once, its record).

    Refused when *actor* may not (see :func:`may_issue_reset`) or the account
    is deactivated or was never activated.  Earlier reset codes of the account
    that were not used stop working.
    """
    if not may_issue_reset(actor, user):
        raise Refused(N_("You may not issue a reset code for this account."))
    if not user.active or not user.password_hash:
        raise Refused(N_("This account is not active, so its password cannot be reset."))
    with audit.operation("issue_reset", actor=actor, detail={"username": user.username}):
        activation.withdraw_codes(user)  # an older code stops working
        code, record = activation.issue_for_user(user, "reset", actor)
        # The code's row is a "create"; this says what it is for (and for whom) on the account's trail.
        audit.record("issue_reset", "users", user.id, actor=actor,
                     new={"activation_code": record.id, "expires_at": record.expires_at.isoformat()})
    return code, record


def redeem_reset(record: ActivationCode, password: str) -> User:
    """Use up a reset code: the account's new password; all its sessions end."""
    user = record.user
    if record.purpose != "reset" or user is None or not user.active:
        raise Refused(N_("This code does not work. It may be used up or expired; "
                         "please ask your clinic for a new one."))
    problems = password_problems(password, user)
    if problems:
        raise Invalid(problems)
    with audit.operation("reset_password", actor=user):
        _set_password(user, password)
        record.used_at = datetime.now(UTC)
        record.used_by_id = user.id
        db.session.flush()
    return user


# --- second factor --------------------------------------------------------------------------

def second_factor_on(user: User) -> bool:
    return bool(user.totp_enabled_at and user.totp_secret)


def must_have_second_factor(user: User) -> bool:
    """Administrators and unblinded staff (investigators) must sign in with a second factor."""
    if not current_app.config.get("REQUIRE_SECOND_FACTOR", True):
        return False
    return second_factor_expected(user)


def second_factor_expected(user: User) -> bool:
    """Whether the account calls for a second factor (whatever the configuration says): whoever sees arms,
    i.e. administrators and unblinded staff, by the one capability table (``epro.core.roles``)."""
    return user.sees_arms


def pending_secret(user: User) -> str:
    """The secret being set up (made now if there is none); it counts only once confirmed."""
    if second_factor_on(user):
        raise Refused(N_("The second factor is already on."))
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()  # not audited (excluded column); enabling is
        db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _digits(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace())


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code is *code* (within the drift window and after *after*), else None."""
    code = _digits(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _recovery_hash(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256((salt + activation.normalize(code)).encode()).hexdigest()
    return f"{salt}${digest}"


def _recovery_matches(stored: str, code: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(_recovery_hash(code, salt), stored)


def _new_recovery_codes(user: User) -> list[str]:
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                             RecoveryCode.used_at.is_(None))):
        old.used_at = datetime.now(UTC)  # an earlier set stops working
    codes = []
    for _ in range(RECOVERY_CODES):
        plain = "".join(secrets.choice(activation.ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{plain[:5]}-{plain[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(plain)))
    return codes


def enable_second_factor(user: User, code: str) -> list[str]:
    """Turn TOTP on once a code from the app proves it is set up; the recovery codes (shown once)."""
    secret = pending_secret(user)
    step = _matching_step(secret, code, None)
    if step is None:
        audit.security_event("second_factor_failed", "users", user.id, actor=user, new={"during": "setup"})
        raise Invalid([FieldError("code", WRONG_CODE)])
    with audit.operation("enable_second_factor", actor=user):
        user.totp_enabled_at = datetime.now(UTC)
        user.totp_last_step = step
        codes = _new_recovery_codes(user)
        db.session.flush()
    return codes


def check_second_factor(user: User, code: str) -> bool:
    """A 6-digit code not used before, or an unused recovery code (used up now). Wrong: a security event."""
    if second_factor_on(user):
        assert user.totp_secret is not None
        step = _matching_step(user.totp_secret, code, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step  # not audited (excluded): a sign-in, not a change
            db.session.flush()
            return True
        normalized = activation.normalize(code)
        if len(normalized) == RECOVERY_LENGTH:
            for stored in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                        RecoveryCode.used_at.is_(None))):
                if _recovery_matches(stored.code_hash, normalized):
                    with audit.operation("use_recovery_code", actor=user):
                        stored.used_at = datetime.now(UTC)
                        db.session.flush()
                    return True
    audit.security_event("second_factor_failed", "users", user.id, actor=user)
    return False


def recovery_codes_left(user: User) -> int:
    return len(list(db.session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                                     RecoveryCode.used_at.is_(None)))))


def disable_second_factor(user: User, password: str, code: str) -> None:
    """Turn TOTP off: the password and a current code (or a recovery code) are both needed."""
    errors = []
    if not verify_password(user.password_hash, password):
        audit.security_event("disable_second_factor_failed", "users", user.id, actor=user)
        errors.append(FieldError("password", N_("The password is not right.")))
    if not errors and not check_second_factor(user, code):
        errors.append(FieldError("code", WRONG_CODE))
    if errors:
        raise Invalid(errors)
    with audit.operation("disable_second_factor", actor=user):
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        for left in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                  RecoveryCode.used_at.is_(None))):
            left.used_at = datetime.now(UTC)
        db.session.flush()


def user_by_id(user_id: int) -> User | None:
    return db.session.get(User, user_id)
