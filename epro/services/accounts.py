"""Accounts: finding a user, the language and display they chose, failed sign-ins, ending sessions."""
from __future__ import annotations

from sqlalchemy import select

from epro.base.orm import db
from epro.core.display import Display
from epro.models import User
from epro.models.people import new_session_token
from epro.services import audit
from epro.services.passwords import hash_password, weakness


class AccountRefused(ValueError):
    """An account that cannot be made as asked; the message says why (English, for the command line)."""


def by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def by_session_id(user_id: str) -> User | None:
    """The user of a Flask-Login id ``"<id>.<session token>"`` whose token is still current."""
    ident, _, token = user_id.partition(".")
    if not ident.isdigit() or not token:
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.session_token != token or not user.active:
        return None
    return user


def remember_locale(user: User, lang: str) -> None:
    """The language a person chose is theirs from now on (audited by the session)."""
    if user.locale != lang:
        with audit.operation("update", actor=user):
            user.locale = lang


def remember_display(user: User, display: Display) -> None:
    """The text size and contrast a person chose follow them to any phone (audited by the session)."""
    if (user.text_size, user.high_contrast) != (display.text_size, display.high_contrast):
        with audit.operation("update", actor=user):
            user.text_size = display.text_size
            user.high_contrast = display.high_contrast


def end_all_sessions(user: User) -> None:
    """Rotate the token: every cookie issued before stops working (server-side logout)."""
    user.session_token = new_session_token()
    db.session.flush()


def login_failed(user: User | None) -> None:
    """A wrong password or an unknown name: kept even though the request fails."""
    audit.security_event("login_failed", "users", user.id if user else "-",
                         new={"username_known": user is not None})


def has_admin() -> bool:
    """Whether anyone can administer this installation yet (first start: nobody can)."""
    return db.session.scalar(select(User.id).where(User.role == "admin", User.active.is_(True)).limit(1)) is not None


def create_admin(username: str, password: str) -> User:
    """A new administrator with this password (the one account whose password is typed, by its owner)."""
    name = username.strip()
    if not name or len(name) > 80 or any(c.isspace() for c in name):
        raise AccountRefused("the username must be 1 to 80 characters without spaces")
    if by_username(name) is not None:
        raise AccountRefused(f"an account named {name!r} exists already")
    problem = weakness(password, (name, "epro"))
    if problem:
        raise AccountRefused(f"the password is too weak: {problem}")
    with audit.operation("create", reason="epro create-admin"):
        user = User(username=name, role="admin", display_name=name, password_hash=hash_password(password))
        db.session.add(user)
        db.session.flush()
    return user
