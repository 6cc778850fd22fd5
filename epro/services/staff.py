"""Staff and administrator accounts: invite, deactivate, reactivate — never delete, never set a password.

A new account waits with no password and a one-time ``staff`` activation code
(:func:`epro.services.activation.issue_for_user`); its owner opens /activate and
chooses the password.  Deactivation ends every open session at once (the
session token rotates) and refuses sign-in; reactivation clears the old
password and issues a new code.  Each step is audited (``invite``,
``deactivate``, ``reactivate``) with the administrator as actor.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import ActivationCode, Site, User
from epro.services import accounts, activation, audit
from epro.services import sites as site_service
from epro.services.errors import FieldError, Refused, check

#: The roles an administrator may give (patients and caregivers come by their clinic's codes).
ROLES = ("clinician", "investigator", "data-manager", "monitor", "statistician", "admin")
#: Roles that work at one site; the others (data-manager, statistician, admin) work across sites.
SITE_ROLES = ("clinician", "investigator", "monitor")
USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,40}$")
MAX_NAME = 120

Status = Literal["active", "waiting", "deactivated"]

USERNAME_SHAPE = N_("Use 3 to 40 letters, digits, dots, dashes or underscores.")
USERNAME_TAKEN = N_("This username is taken.")
UNKNOWN_ROLE = N_("Choose one of: clinician, investigator, data manager, monitor, statistician, administrator.")
#: Roles whose new accounts are unblinded (they exist to see arms); everyone else starts masked.
UNBLINDED_ROLES = ("investigator", "statistician")
SITE_NEEDED = N_("This role works at one site: choose it.")
NO_SITE = N_("This role works across sites: leave the site empty.")
UNKNOWN_SITE = N_("Unknown site.")
DISPLAY_EN_MISSING = N_("Please enter the English name.")
DISPLAY_ZH_MISSING = N_("Please enter the Chinese name.")
NAME_TOO_LONG = N_("Too long (%(n)s characters at most).")
REASON_MISSING = N_("Please give a reason for this change.")
NOT_YOURSELF = N_("You cannot deactivate your own account.")
LAST_ADMIN = N_("This is the last active administrator: invite another one first.")
ALREADY_DEACTIVATED = N_("This account is deactivated already.")
NOT_DEACTIVATED = N_("This account is not deactivated.")
NOT_WAITING = N_("Only an account waiting for activation gets a new code.")


def accounts_list() -> list[User]:
    """Every staff and administrator account, by username (patients and caregivers are not listed)."""
    return list(db.session.scalars(select(User).where(User.role.in_(ROLES)).order_by(User.username)))


def by_id(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.role in ROLES else None


def by_username(username: str) -> User | None:
    user = accounts.by_username(username)
    return user if user is not None and user.role in ROLES else None


def status(user: User) -> Status:
    if not user.active:
        return "deactivated"
    return "waiting" if user.password_hash is None else "active"


def pending_code(user: User) -> ActivationCode | None:
    """The newest unused, unexpired code of a waiting account (its expiry is shown; the code itself never again)."""
    return db.session.scalar(select(ActivationCode).where(
        ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None),
        ActivationCode.expires_at > datetime.now(UTC)).order_by(ActivationCode.id.desc()).limit(1))


def _names(display_en: str, display_zh: str) -> list[FieldError]:
    errors = []
    for field, value, missing in (("display_name_en", display_en, DISPLAY_EN_MISSING),
                                  ("display_name_zh", display_zh, DISPLAY_ZH_MISSING)):
        if not value:
            errors.append(FieldError(field, missing))
        elif len(value) > MAX_NAME:
            errors.append(FieldError(field, NAME_TOO_LONG, {"n": MAX_NAME}))
    return errors


def invite(username: str, role: str, site_code: str | None, display_en: str, display_zh: str,
           actor: User) -> tuple[User, str]:
    """A waiting account and its one-time code (the plain code, shown once).

    :class:`~epro.services.errors.Invalid` names every wrong field; a taken
    username is the error ``taken`` (a duplicate, 409 in the API).
    """
    username, display_en, display_zh = (username or "").strip(), (display_en or "").strip(), \
        (display_zh or "").strip()
    site_code = (site_code or "").strip() or None
    errors: list[FieldError] = []
    if not USERNAME.match(username):
        errors.append(FieldError("username", USERNAME_SHAPE))
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        errors.append(FieldError("username", USERNAME_TAKEN, code="taken"))
    site: Site | None = None
    if role not in ROLES:
        errors.append(FieldError("role", UNKNOWN_ROLE))
    if site_code is not None:
        site = site_service.by_code(site_code)
        if site is None:
            errors.append(FieldError("site", UNKNOWN_SITE))
        elif role in ROLES and role not in SITE_ROLES:
            errors.append(FieldError("site", NO_SITE))
    elif role in SITE_ROLES:
        errors.append(FieldError("site", SITE_NEEDED))
    errors += _names(display_en, display_zh)
    check(errors)
    with audit.operation("invite", actor=actor, names_inserts=True):
        user = User(username=username, role=role, site_id=site.id if site else None, display_name=display_en,
                    display_name_zh=display_zh, password_hash=None, unblinded=role in UNBLINDED_ROLES, active=True)
        db.session.add(user)
        db.session.flush()
        code, _record = activation.issue_for_user(user, "staff", actor)
    return user, code


def _active_admins() -> int:
    return db.session.scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))) or 0


def deactivate(user: User, actor: User, reason: str) -> User:
    """The account cannot sign in any more and its open sessions end now; it is kept, with its history."""
    reason = (reason or "").strip()
    if not reason:
        check([FieldError("reason", REASON_MISSING)])
    if not user.active:
        raise Refused(ALREADY_DEACTIVATED)
    if user.id == actor.id:
        raise Refused(NOT_YOURSELF)
    if user.role == "admin" and _active_admins() <= 1:
        raise Refused(LAST_ADMIN)
    with audit.operation("deactivate", actor=actor, reason=reason):
        user.active = False
        user.deactivated_at = datetime.now(UTC)
        accounts.end_all_sessions(user)
        activation.withdraw_codes(user)
    return user


def reactivate(user: User, actor: User, reason: str | None = None) -> tuple[User, str]:
    """Active again, but with no password: the old one is cleared and a new one-time code is issued."""
    if user.active:
        raise Refused(NOT_DEACTIVATED)
    with audit.operation("reactivate", actor=actor, reason=(reason or "").strip() or None, names_inserts=True):
        user.active = True
        user.deactivated_at = None
        user.password_hash = None
        user.password_changed_at = None
        accounts.end_all_sessions(user)
        code, _record = activation.issue_for_user(user, "staff", actor)
    return user, code


def new_code(user: User, actor: User) -> str:
    """Another code for a waiting account (the first one was lost or expired); older codes stop working."""
    if status(user) != "waiting":
        raise Refused(NOT_WAITING)
    with audit.operation("invite", actor=actor, names_inserts=True):
        activation.withdraw_codes(user)
        code, _record = activation.issue_for_user(user, "staff", actor)
    return code
